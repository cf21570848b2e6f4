// Launchers of the data-movement kernels that are not plain strided copies.
#pragma once

#include "backends/cuda/kernels/launch_types.h"

namespace kiln::cuda {

// out[o, j, i] = data[o, indices[j] (negative counts from the end), i] for
// data viewed as [outer, axis_extent, inner]. index_bytes is 4 or 8.
cudaError_t launch_gather(size_t element_bytes, const void* data, const void* indices, size_t index_bytes,
                          void* out, int64_t outer, int64_t axis_extent, int64_t index_count, int64_t inner,
                          cudaStream_t stream);

enum class PadMode : int32_t { kConstant, kReflect, kEdge, kWrap };

struct PadParams {
  int rank = 0;
  int64_t out_dims[kMaxRank] = {};
  int64_t in_dims[kMaxRank] = {};
  int64_t in_strides[kMaxRank] = {};
  int64_t pad_begin[kMaxRank] = {};  // may be negative (cropping)
  PadMode mode = PadMode::kConstant;
  uint64_t value_bits = 0;  // constant value in the element type, little-endian low bytes
};

cudaError_t launch_pad(size_t element_bytes, const void* in, void* out, int64_t count, const PadParams& params,
                       cudaStream_t stream);

}  // namespace kiln::cuda

namespace kiln::cuda {

enum class ResizeCoordinates : int32_t { kHalfPixel, kPytorchHalfPixel, kAlignCorners, kAsymmetric, kHalfPixelSymmetric,
                                         kTfHalfPixelForNn };
enum class ResizeNearest : int32_t { kRoundPreferFloor, kRoundPreferCeil, kFloor, kCeil };

// Nearest: every axis maps independently. Linear / cubic: the last two axes
// interpolate (bilinear or bicubic), the others must keep their size.
struct ResizeParams {
  int rank = 0;
  int64_t out_dims[kMaxRank] = {};
  int64_t in_dims[kMaxRank] = {};
  float scales[kMaxRank] = {};  // output / input as ONNX defines it per axis
  bool linear = false;
  bool cubic = false;           // with linear = true
  float cubic_a = -0.75f;
  bool exclude_outside = false;  // cubic taps outside the input get weight 0 (renormalised)
  ResizeCoordinates coordinates = ResizeCoordinates::kHalfPixel;
  ResizeNearest nearest = ResizeNearest::kRoundPreferFloor;
};

// Float types only.
cudaError_t launch_resize(DataType dtype, const void* in, void* out, int64_t count, const ResizeParams& params,
                          cudaStream_t stream);

}  // namespace kiln::cuda

namespace kiln::cuda {

// Trilu: keeps element (row i, column j) of each trailing [rows, cols] matrix
// when j - i >= k (upper) or j - i <= k (lower), else writes zero.
cudaError_t launch_trilu(size_t element_bytes, const void* in, void* out, int64_t count, int64_t rows, int64_t cols,
                         int64_t k, bool upper, cudaStream_t stream);

// GatherElements: out[c] = data[c with c[axis] replaced by indices[c]]; `index`
// walks the output (= indices) dims with strides[0] = data strides.
cudaError_t launch_gather_elements(size_t element_bytes, const void* data, const void* indices, size_t index_bytes,
                                   void* out, int64_t count, int axis, int64_t axis_extent,
                                   const StridedIndex& index, cudaStream_t stream);

// ScatterElements (reduction none, or add for float32): out[c with c[axis] =
// indices[c]] = updates[c]; `out` already holds a copy of data; `index` walks
// the updates (= indices) dims with strides[0] = data strides.
cudaError_t launch_scatter_elements(size_t element_bytes, bool add_float, const void* updates, const void* indices,
                                    size_t index_bytes, void* out, int64_t count, int axis, int64_t axis_extent,
                                    const StridedIndex& index, cudaStream_t stream);

// CumSum along the middle axis of [outer, extent, inner].
cudaError_t launch_cumsum(DataType dtype, const void* in, void* out, int64_t outer, int64_t extent, int64_t inner,
                          bool exclusive, bool reverse, cudaStream_t stream);

}  // namespace kiln::cuda

namespace kiln::cuda {

// out[i] = start + i * delta (Range).
cudaError_t launch_range(DataType dtype, double start, double delta, void* out, int64_t count, cudaStream_t stream);

// Fills `count` elements of `element_bytes` with the bit pattern `value_bits`.
cudaError_t launch_fill(size_t element_bytes, uint64_t value_bits, void* out, int64_t count, cudaStream_t stream);

// EyeLike: ones where column - row == k in a [rows, cols] matrix, zeros elsewhere.
cudaError_t launch_eye(size_t element_bytes, uint64_t one_bits, void* out, int64_t rows, int64_t cols, int64_t k,
                       cudaStream_t stream);

// OneHot: out[o, j, i] = values[indices[o, i] == j (after wrapping negatives) ? 1 : 0]
// for indices viewed as [outer, inner] and out as [outer, depth, inner].
cudaError_t launch_one_hot(size_t element_bytes, DataType index_type, const void* indices, const void* values,
                           void* out, int64_t outer, int64_t depth, int64_t inner, cudaStream_t stream);

}  // namespace kiln::cuda

namespace kiln::cuda {

// GatherND / ScatterND address data as [index rows, slice]: row r's position
// is sum(indices[r, j] * row_strides[j]) over the q index components.
struct NdIndexParams {
  int q = 0;                        // index tuple length
  int64_t dims[kMaxRank] = {};      // data extents of the indexed axes (for negative indices)
  int64_t row_strides[kMaxRank] = {};
  int64_t rows = 0;                 // number of index tuples
  int64_t slice = 1;                // elements copied per tuple
};

// out[r * slice + s] = data[position(r) + s]; indices are int64.
cudaError_t launch_gather_nd(size_t element_bytes, const void* data, const int64_t* indices, void* out,
                             const NdIndexParams& params, cudaStream_t stream);
// out[position(r) + s] = updates[r * slice + s] (out already holds a copy of data).
cudaError_t launch_scatter_nd(size_t element_bytes, const void* updates, const int64_t* indices, void* out,
                              const NdIndexParams& params, cudaStream_t stream);

// TopK along the middle axis of [outer, extent, inner]: k values (sorted,
// ties by lower index) and their int64 indices.
cudaError_t launch_top_k(DataType dtype, const void* in, void* values, int64_t* indices, int64_t outer,
                         int64_t extent, int64_t inner, int64_t k, bool largest, cudaStream_t stream);

}  // namespace kiln::cuda

namespace kiln::cuda {

// GridSample (2-D): out[n, c, i, j] samples in[n, c] at grid[n, i, j] = (x, y) in [-1, 1].
struct GridSampleParams {
  int64_t n = 0, c = 0, in_h = 0, in_w = 0, out_h = 0, out_w = 0;
  bool nearest = false;
  int padding = 0;  // 0 zeros, 1 border, 2 reflection
  bool align_corners = false;
};
cudaError_t launch_grid_sample(DataType dtype, const void* in, const void* grid, void* out,
                               const GridSampleParams& params, cudaStream_t stream);

}  // namespace kiln::cuda
