#include "backends/cpu/kernels/elementwise_broadcast.h"

#include <string>

namespace kiln::cpu {

Expected<BroadcastPlan> make_broadcast_plan(const std::vector<Dims>& input_dims) {
  const size_t n = input_dims.size();
  size_t rank = 0;
  for (const Dims& d : input_dims) rank = std::max(rank, d.size());
  // Every input padded on the left to the output rank.
  std::vector<Dims> padded(n);
  for (size_t k = 0; k < n; ++k) {
    padded[k].assign(rank - input_dims[k].size(), 1);
    padded[k].insert(padded[k].end(), input_dims[k].begin(), input_dims[k].end());
  }
  BroadcastPlan plan;
  plan.output_dims.assign(rank, 1);
  for (size_t axis = 0; axis < rank; ++axis) {
    int64_t& extent = plan.output_dims[axis];
    for (size_t k = 0; k < n; ++k) {
      const int64_t d = padded[k][axis];
      if (d == 1 || d == extent) continue;
      if (extent == 1) {
        extent = d;
        continue;
      }
      std::string all;
      for (size_t j = 0; j < n; ++j) all += (j ? " and " : "") + dims_to_string(input_dims[j]);
      return invalid_argument("shapes " + all + " do not broadcast");
    }
  }
  plan.total = element_count(plan.output_dims);

  // Merge axes from the innermost outwards. Axis runs are kept as (extent, per-input
  // "moves" flag); two neighbours merge when each input moves along both or neither.
  std::vector<int64_t> merged_extents;
  std::vector<std::vector<bool>> merged_moves;  // [axis][input]
  for (size_t axis = 0; axis < rank; ++axis) {
    const int64_t extent = plan.output_dims[axis];
    if (extent == 1) continue;  // size-1 axes contribute nothing
    std::vector<bool> moves(n);
    for (size_t k = 0; k < n; ++k) moves[k] = padded[k][axis] != 1;
    if (!merged_extents.empty() && merged_moves.back() == moves) {
      merged_extents.back() *= extent;
    } else {
      merged_extents.push_back(extent);
      merged_moves.push_back(moves);
    }
  }
  if (merged_extents.empty()) {  // a scalar-shaped output (or all extents 1)
    merged_extents.push_back(1);
    merged_moves.push_back(std::vector<bool>(n, false));
  }
  // Element strides of each input along the merged axes (contiguous row-major).
  const size_t merged_rank = merged_extents.size();
  std::vector<std::vector<int64_t>> strides(n, std::vector<int64_t>(merged_rank, 0));
  for (size_t k = 0; k < n; ++k) {
    int64_t stride = 1;
    for (size_t a = merged_rank; a-- > 0;) {
      if (merged_moves[a][k]) {
        strides[k][a] = stride;
        stride *= merged_extents[a];
      }
    }
  }
  plan.inner = merged_extents.back();
  plan.outer_dims.assign(merged_extents.begin(), merged_extents.end() - 1);
  plan.inner_strides.resize(n);
  plan.outer_strides.resize(n);
  for (size_t k = 0; k < n; ++k) {
    plan.inner_strides[k] = strides[k].back();
    plan.outer_strides[k].assign(strides[k].begin(), strides[k].end() - 1);
  }
  if (plan.total == 0) plan.inner = 1;
  return plan;
}

}  // namespace kiln::cpu
