// Schemas of the Reduce* family and ArgMax/ArgMin.
#include "ir/ops/reduction_axes.h"
#include "ir/ops/reduction_groups.h"

namespace kiln {
namespace {

using Kind = Attribute::Kind;

TensorInfo unknown_rank(DataType dtype) {
  TensorInfo info;
  info.dtype = dtype;
  info.dims_known = false;
  return info;
}

Expected<std::vector<TensorInfo>> infer_reduce(const InferContext& c) {
  const TensorInfo& x = c.input(0);
  const bool keepdims = c.node.attr_int("keepdims", 1) != 0;
  if (!x.dims_known) return std::vector<TensorInfo>{unknown_rank(x.dtype)};
  const int64_t rank = static_cast<int64_t>(x.dims.size());
  KILN_ASSIGN_OR_RETURN(ReduceAxes axes, resolve_reduce_axes(c.node, c.node.has_input(1), c.value(1), rank));
  if (!axes.known) {
    // Axes are data: with keepdims the rank survives, the extents do not.
    if (keepdims) return std::vector<TensorInfo>{TensorInfo{x.dtype, Dims(x.dims.size(), -1), true}};
    return std::vector<TensorInfo>{unknown_rank(x.dtype)};
  }
  return std::vector<TensorInfo>{TensorInfo{x.dtype, reduce_output_dims(x.dims, axes, keepdims), true}};
}

Expected<std::vector<TensorInfo>> infer_arg_reduce(const InferContext& c) {
  const TensorInfo& x = c.input(0);
  if (!x.dims_known) return std::vector<TensorInfo>{unknown_rank(DataType::kInt64)};
  const int64_t rank = static_cast<int64_t>(x.dims.size());
  KILN_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(c.node.attr_int("axis", 0), rank, c.node));
  Dims out;
  for (int64_t i = 0; i < rank; ++i) {
    if (i != axis) out.push_back(x.dims[i]);
    else if (c.node.attr_int("keepdims", 1) != 0) out.push_back(1);
  }
  return std::vector<TensorInfo>{TensorInfo{DataType::kInt64, out, true}};
}

}  // namespace

void register_reduce_ops(OpRegistry& registry) {
  for (const char* op : {"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
                         "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"}) {
    registry.add(OpSchema{op, "", 1, 2, 1, 1,
                          {{"axes", Kind::kInts}, {"keepdims", Kind::kInt}, {"noop_with_empty_axes", Kind::kInt}},
                          infer_reduce});
  }
  for (const char* op : {"ArgMax", "ArgMin"}) {
    registry.add(OpSchema{op, "", 1, 1, 1, 1,
                          {{"axis", Kind::kInt}, {"keepdims", Kind::kInt}, {"select_last_index", Kind::kInt}},
                          infer_arg_reduce});
  }
}

}  // namespace kiln
