#include "serve/batcher_tensors.h"

#include <cstring>
#include <numeric>

namespace kiln {
namespace {

Tensor join_strings(const std::vector<Tensor>& pieces) {
  Dims dims = pieces[0].dims();
  dims[0] = 0;
  std::vector<std::string> values;
  for (const Tensor& p : pieces) {
    dims[0] += p.dim(0);
    values.insert(values.end(), p.string_data().begin(), p.string_data().end());
  }
  return Tensor::strings(std::move(dims), std::move(values));
}

}  // namespace

Expected<TensorMap> join_requests(const std::vector<const TensorMap*>& requests, const std::vector<IoDesc>& inputs,
                                  bool pinned) {
  if (requests.empty()) return invalid_argument("batch has no requests");
  if (requests.size() == 1) return *requests[0];  // tensors share their buffers: no copy
  TensorMap joined;
  for (const IoDesc& input : inputs) {
    std::vector<Tensor> pieces;
    pieces.reserve(requests.size());
    for (const TensorMap* request : requests) {
      auto it = request->find(input.name);
      if (it == request->end()) return internal_error("batched request lacks input '" + input.name + "'");
      pieces.push_back(it->second);
    }
    if (input.dtype == DataType::kString || pieces[0].dtype() == DataType::kString) {
      joined[input.name] = join_strings(pieces);
    } else {
      KILN_ASSIGN_OR_RETURN(joined[input.name], concat_batch(pieces, "input '" + input.name + "'", pinned));
    }
  }
  return joined;
}

std::vector<Outputs> split_outputs(const Outputs& outputs, const std::vector<int64_t>& batch_sizes) {
  std::vector<Outputs> per_request(batch_sizes.size());
  if (batch_sizes.size() == 1) {
    per_request[0] = outputs;
    return per_request;
  }
  const int64_t total = std::accumulate(batch_sizes.begin(), batch_sizes.end(), int64_t{0});
  for (const Tensor& out : outputs) {
    const bool has_batch_axis = out.rank() > 0 && out.dim(0) == total;
    int64_t begin = 0;
    for (size_t r = 0; r < batch_sizes.size(); ++r) {
      per_request[r].push_back(has_batch_axis ? out.rows(begin, batch_sizes[r]) : out);
      begin += batch_sizes[r];
    }
  }
  return per_request;
}

}  // namespace kiln
