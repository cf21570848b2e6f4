// float32 convolutions through oneDNN. Primitives are built once per problem
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

}  // namespace kiln::cpu
