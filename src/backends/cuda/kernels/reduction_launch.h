// Launchers of reductions, normalisations and pooling. Tensors are viewed as
// [outer, extent, inner]: the reduced/normalised axis is the middle one.
#pragma once

#include "backends/cuda/kernels/launch_types.h"

namespace kiln::cuda {

enum class ReduceOp : int32_t { kSum, kMean, kMax, kMin, kProd, kSumSquare, kL1, kL2, kLogSum, kLogSumExp };

// out[o, i] = reduce over e of in[o, e, i]. Float types.
cudaError_t launch_reduce(DataType dtype, ReduceOp op, const void* in, void* out, int64_t outer, int64_t extent,
                          int64_t inner, cudaStream_t stream);

// out[o, i] = index of the max (or min) along e, as int64.
cudaError_t launch_arg_reduce(DataType dtype, bool is_max, bool select_last, const void* in, int64_t* out,
                              int64_t outer, int64_t extent, int64_t inner, cudaStream_t stream);

// Hardmax: 1 at the first maximum along the middle axis, 0 elsewhere.
cudaError_t launch_hardmax(DataType dtype, const void* in, void* out, int64_t outer, int64_t extent, int64_t inner,
                           cudaStream_t stream);

// Softmax / LogSoftmax along the middle axis.
cudaError_t launch_softmax(DataType dtype, bool log, const void* in, void* out, int64_t outer, int64_t extent,
                           int64_t inner, cudaStream_t stream);

// kiln.MaskedSoftmax over rows of `extent`: softmax(in + mask) per row, NaN
// results replaced by 0 when nan_to_zero. Row r's mask elements start at the
// offset mask_rows gives row r (strides[0]) and step by mask_column_stride
// (0 or 1); mask may be null (no mask). Float types; in may equal out.
cudaError_t launch_masked_softmax(DataType dtype, const void* in, const void* mask, void* out, int64_t rows,
                                  int64_t extent, const StridedIndex& mask_rows, int64_t mask_column_stride,
                                  bool nan_to_zero, cudaStream_t stream);

// Normalises each row of [rows, extent]: y = (x - mean) / sqrt(var + epsilon) * scale + bias.
// scale/bias are indexed by column (LayerNormalization) or, when
// channels > 0, by row % channels (InstanceNormalization). bias may be null.
// mean/inv_std (float, one per row) may be null.
cudaError_t launch_row_normalize(DataType dtype, const void* in, void* out, const void* scale, const void* bias,
                                 float* mean, float* inv_std, int64_t rows, int64_t extent, int64_t channels,
                                 float epsilon, cudaStream_t stream);

// LRN across channels of [N, C, inner]: y = x / (bias + alpha / size * sum of x^2
// over channels [c - (size - 1) / 2, c + size / 2]) ^ beta.
cudaError_t launch_lrn(DataType dtype, const void* in, void* out, int64_t count, int64_t channels, int64_t inner,
                       int64_t size, float alpha, float beta, float bias, cudaStream_t stream);

// BatchNormalization (inference) on [N, C, inner]; all parameter vectors of length C.
cudaError_t launch_batch_norm(DataType dtype, const void* in, void* out, const void* scale, const void* bias,
                              const void* mean, const void* variance, int64_t count, int64_t channels,
                              int64_t inner, float epsilon, cudaStream_t stream);

// 3-D pooling window over [depth, height, width]; 1-D and 2-D use depth = 1 (and height = 1).
struct PoolParams {
  int64_t batch_channels = 0;  // N * C
  int64_t in_d = 1, in_h = 1, in_w = 1, out_d = 1, out_h = 1, out_w = 1;
  int64_t kernel_d = 1, kernel_h = 1, kernel_w = 1, stride_d = 1, stride_h = 1, stride_w = 1;
  int64_t pad_front = 0, pad_top = 0, pad_left = 0, pad_back = 0, pad_bottom = 0, pad_right = 0;
  int64_t dilation_d = 1, dilation_h = 1, dilation_w = 1;
  bool is_max = true;
  bool count_include_pad = false;
  bool column_major_indices = false;  // MaxPool storage_order = 1
  // Storage [N, D, H, W, C] with `channels` channels (batch_channels stays N * C); no indices.
  bool channels_last = false;
  int64_t channels = 1;
};

// `indices` (MaxPool's optional second output, flat NCHW offsets) may be null;
// channels-last pooling ignores it.
cudaError_t launch_pool2d(DataType dtype, const void* in, void* out, const PoolParams& params, cudaStream_t stream,
                          int64_t* indices = nullptr);

// 2-D channels-last pooling (params.channels_last; depth 1), vectorised over
// channels (pool_channels_last.cu). launch_pool2d forwards to it.
cudaError_t launch_pool2d_channels_last(DataType dtype, const void* in, void* out, const PoolParams& params,
                                        cudaStream_t stream);

}  // namespace kiln::cuda

namespace kiln::cuda {

// NegativeLogLikelihoodLoss on log-probabilities viewed as [N, C, D] with
// targets [N, D] (index_bytes 4 or 8) and optional class weights [C].
// mode: 0 none (out has N * D elements), 1 sum, 2 mean (out is a scalar).
// `scratch` holds 2 * N * D floats for the reduced modes.
struct NllParams {
  int64_t n = 1, classes = 1, d = 1;
  bool has_ignore = false;
  int64_t ignore_index = 0;
  int mode = 2;
};
cudaError_t launch_nll_loss(DataType dtype, const void* log_prob, const void* target, size_t index_bytes,
                            const void* weight, void* out, float* scratch, const NllParams& params,
                            cudaStream_t stream);

}  // namespace kiln::cuda
