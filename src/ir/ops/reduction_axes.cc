#include "ir/ops/reduction_axes.h"

#include "ir/op_registry.h"

namespace kiln {

Expected<std::vector<bool>> axes_to_flags(const std::vector<int64_t>& axes, int64_t rank, const Node& node) {
  std::vector<bool> flags(static_cast<size_t>(rank), false);
  for (int64_t axis : axes) {
    KILN_ASSIGN_OR_RETURN(int64_t a, normalize_axis(axis, rank, node));
    flags[static_cast<size_t>(a)] = true;
  }
  return flags;
}

Expected<ReduceAxes> resolve_reduce_axes(const Node& node, bool has_axes_input, const Tensor* axes_value,
                                         int64_t rank) {
  ReduceAxes result;
  std::vector<int64_t> axes;
  if (has_axes_input) {
    if (!axes_value) {
      result.known = false;
      return result;
    }
    axes = axes_value->to_int64_vector();
  } else {
    axes = node.attr_ints("axes");
  }
  if (axes.empty()) {
    if (node.attr_int("noop_with_empty_axes", 0) != 0) {
      result.noop = true;
      result.reduced.assign(static_cast<size_t>(rank), false);
    } else {
      result.reduced.assign(static_cast<size_t>(rank), true);
    }
    return result;
  }
  KILN_ASSIGN_OR_RETURN(result.reduced, axes_to_flags(axes, rank, node));
  return result;
}

Dims reduce_output_dims(const Dims& input, const ReduceAxes& axes, bool keepdims) {
  if (axes.noop) return input;
  Dims out;
  for (size_t i = 0; i < input.size(); ++i) {
    if (!axes.reduced[i]) out.push_back(input[i]);
    else if (keepdims) out.push_back(1);
  }
  return out;
}

}  // namespace kiln
