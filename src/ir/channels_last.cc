#include "ir/channels_last.h"

#include <cstring>

namespace kiln {
namespace {

template <size_t kBytes>
void permute_elements(const char* in, char* out, const Dims& in_dims, const std::array<int64_t, 4>& perm) {
  // Strides of the input, read in the output's axis order.
  const Dims in_strides = {in_dims[1] * in_dims[2] * in_dims[3], in_dims[2] * in_dims[3], in_dims[3], 1};
  const Dims out_dims = permute_dims(in_dims, perm);
  int64_t s[4];
  for (size_t i = 0; i < 4; ++i) s[i] = in_strides[perm[i]];
  for (int64_t a = 0; a < out_dims[0]; ++a)
    for (int64_t b = 0; b < out_dims[1]; ++b)
      for (int64_t c = 0; c < out_dims[2]; ++c) {
        const char* row = in + (a * s[0] + b * s[1] + c * s[2]) * static_cast<int64_t>(kBytes);
        for (int64_t d = 0; d < out_dims[3]; ++d, out += kBytes) {
          std::memcpy(out, row + d * s[3] * static_cast<int64_t>(kBytes), kBytes);
        }
      }
}

}  // namespace

const std::vector<ChannelsLastOp>& channels_last_ops() {
  // FusedConv: X and the residual are activations, W is a filter, B stays [M].
  static const std::vector<ChannelsLastOp> kOps = {
      {"FusedConv", "kiln", "NhwcFusedConv", {0, 3}, {1}},
      {"MaxPool", "", "NhwcMaxPool", {0}, {}},  // only without the Indices output
      {"AveragePool", "", "NhwcAveragePool", {0}, {}},
      {"GlobalAveragePool", "", "NhwcGlobalAveragePool", {0}, {}},
      {"GlobalMaxPool", "", "NhwcGlobalMaxPool", {0}, {}},
  };
  return kOps;
}

const ChannelsLastOp* channels_last_variant_of(const std::string& op_type, const std::string& domain) {
  const std::string d = domain == "ai.onnx" ? "" : domain;
  for (const ChannelsLastOp& op : channels_last_ops()) {
    if (op.base_op == op_type && op.base_domain == d) return &op;
  }
  return nullptr;
}

const ChannelsLastOp* find_channels_last_op(const std::string& op_type, const std::string& domain) {
  if (domain != "kiln") return nullptr;
  for (const ChannelsLastOp& op : channels_last_ops()) {
    if (op.op == op_type) return &op;
  }
  return nullptr;
}

Dims permute_dims(const Dims& dims, const std::array<int64_t, 4>& perm) {
  if (dims.size() != 4) return dims;
  Dims out(4);
  for (size_t i = 0; i < 4; ++i) out[i] = dims[perm[i]];
  return out;
}

Shape permute_shape(const Shape& shape, const std::array<int64_t, 4>& perm) {
  if (!shape.is_ranked() || shape.rank() != 4) return shape;
  std::vector<Dim> out(4);
  for (size_t i = 0; i < 4; ++i) out[i] = shape[perm[i]];
  return Shape(std::move(out));
}

Expected<Tensor> permute_tensor(const Tensor& tensor, const std::array<int64_t, 4>& perm) {
  if (tensor.rank() != 4) {
    return invalid_argument("cannot permute tensor " + tensor.describe() + " as rank 4");
  }
  if (tensor.dtype() == DataType::kString) {
    return unimplemented("cannot permute string tensor " + tensor.describe());
  }
  Tensor out = Tensor::empty(tensor.dtype(), permute_dims(tensor.dims(), perm));
  const char* in = static_cast<const char*>(tensor.raw_data());
  char* o = static_cast<char*>(out.raw_data());
  switch (dtype_size(tensor.dtype())) {
    case 1:
      permute_elements<1>(in, o, tensor.dims(), perm);
      break;
    case 2:
      permute_elements<2>(in, o, tensor.dims(), perm);
      break;
    case 4:
      permute_elements<4>(in, o, tensor.dims(), perm);
      break;
    case 8:
      permute_elements<8>(in, o, tensor.dims(), perm);
      break;
    default:
      return unimplemented(std::string("cannot permute tensor of type ") + dtype_name(tensor.dtype()));
  }
  return out;
}

}  // namespace kiln
