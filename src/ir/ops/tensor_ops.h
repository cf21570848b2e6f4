// The tensor and shape-manipulation ops of the IR, split by kind into several
// files; register_tensor_ops (tensor.cc) calls each part.
#pragma once

#include <vector>

#include "ir/op_registry.h"

namespace kiln::tensor_ops {

// Identity, Dropout, Reshape, Shape, Size, Flatten, Squeeze, Unsqueeze,
// Transpose, Expand, Tile, DepthToSpace, SpaceToDepth.
void register_shape_ops(OpRegistry& registry);
// Concat, Split, Slice, Pad, Compress, NonZero, Unique, ReverseSequence.
void register_slice_ops(OpRegistry& registry);
// Gather, GatherElements, GatherND, Scatter, ScatterElements, ScatterND, OneHot.
void register_index_ops(OpRegistry& registry);
// ConstantOfShape, Range, EyeLike, Trilu, CumSum.
void register_generator_ops(OpRegistry& registry);

// An input count with no upper bound (Concat, Split outputs).
constexpr int kUnbounded = 1 << 30;

using Infos = std::vector<TensorInfo>;

inline TensorInfo make_info(DataType dtype, Dims dims) { return TensorInfo{dtype, std::move(dims), true}; }
inline TensorInfo unknown_rank(DataType dtype) {
  TensorInfo info;
  info.dtype = dtype;
  info.dims_known = false;
  return info;
}
inline bool all_known(const Dims& dims) {
  for (int64_t d : dims)
    if (d < 0) return false;
  return true;
}
// Product of dims[begin, end), -1 when one of them is unknown.
inline int64_t product_or_unknown(const Dims& dims, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t i = begin; i < end; ++i) {
    if (dims[i] < 0) return -1;
    p *= dims[i];
  }
  return p;
}

}  // namespace kiln::tensor_ops
