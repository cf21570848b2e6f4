// float32 convolutions and pooling through oneDNN. Primitives are built once per problem
// shape and cached (benchmarks run the same shapes over and over); weights
// that are graph constants are reordered into oneDNN's preferred layout once.
#pragma once

#include "backends/cpu/kernels/nn_conv_reference.h"
#include "kiln/status.h"
#include "kiln/tensor.h"

namespace kiln::cpu {

// Tensors are dense row-major (NC + spatial); weights in ONNX layout; bias may
// be null. `constant_weights`, when not null, is the weight tensor known to be
// a graph constant: its reordered copy is cached (the cache keeps a reference
// to it so its address cannot be reused by other data).
// Returns kUnimplemented when oneDNN cannot run the problem; the caller then
// uses the reference loops.
Status onednn_conv(const ConvProblem& problem, const float* x, const float* w, const float* bias, float* y,
                   const Tensor* constant_weights);
Status onednn_conv_transpose(const ConvProblem& problem, const float* x, const float* w, const float* bias, float* y,
                             const Tensor* constant_weights);

enum class OnednnPoolKind { kMax, kAverageIncludePad, kAverageExcludePad };

// Pooling over dense NC+spatial float32 data with the geometry the IR
// resolved (ceil_mode included). Average pooling with count_include_pad must
// only come here when no window reaches past the end padding (oneDNN would
// count those cells). kUnimplemented when oneDNN declines.
Status onednn_pool(OnednnPoolKind kind, int64_t batch, int64_t channels, const WindowGeometry& geometry, const float* x,
                   float* y);

}  // namespace kiln::cpu
