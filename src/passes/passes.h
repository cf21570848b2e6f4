// Graph rewrites run by the builder. Each pass lives in its own file and keeps
// the graph computing exactly what it computed before (tests check numerically).
#pragma once

#include <string>
#include <vector>

#include "kiln/graph.h"
#include "kiln/status.h"

namespace kiln {

// Statistics a pass reports (for `kiln build --verbose` and tests).
struct PassStats {
  int changed = 0;  // nodes rewritten, removed or fused
};

// The pass pipeline the builder runs when optimisation is on, in order:
// fold constants, remove no-ops, fold BatchNormalization, fold scalar scales
// into matmul weights, fuse attention softmax, fuse conv/gemm/matmul with
// bias, residual and activation, fuse pointwise chains, remove dead nodes.
Status run_default_passes(Graph& graph);

// Evaluates nodes whose inputs are all constant (and Shape/Size of statically
// shaped values) on the CPU and replaces their outputs by constants.
Expected<PassStats> fold_constants(Graph& graph);

// Removes Identity, inference Dropout, Cast to the same type, Reshape to the
// same static shape, identity Transpose.
Expected<PassStats> remove_noops(Graph& graph);

// Folds an inference BatchNormalization into the Conv, ConvTranspose or Gemm
// producing its input (constant weights, single consumer).
Expected<PassStats> fold_batchnorm(Graph& graph);

// Mul(t, scalar constant) where t is MatMul(x, W) (+ constant bias) seen
// through layout ops (Reshape, Transpose, ...) scales W and the bias instead.
Expected<PassStats> fold_scale_into_matmul(Graph& graph);

// Conv / Gemm / MatMul (+ bias Add, + residual Add for Conv and MatMul)
// followed by a pointwise tail (Relu, Clip,
// Sigmoid, SiLU, GELU in Erf and Tanh forms, HardSigmoid, HardSwish,
// LeakyRelu, ...) become one kiln.FusedConv / kiln.FusedGemm / kiln.FusedMatMul.
Expected<PassStats> fuse_compute_with_pointwise(Graph& graph);

// Add(scores, mask) -> Softmax over the last axis, optionally followed by
// Where(IsNaN(p), 0, p), becomes one kiln.MaskedSoftmax(scores[, mask]).
Expected<PassStats> fuse_attention_softmax(Graph& graph);

// Two or more consecutive single-input elementwise ops (with scalar constants)
// become one kiln.PointwiseChain node.
Expected<PassStats> fuse_pointwise_chains(Graph& graph);

// Computes in float16 or bfloat16 what the graph computes in float32: weights
// converted at build time, float32 graph inputs cast on entry and outputs cast
// back, so the engine's inputs and outputs keep their float32 types.
Status convert_float_precision(Graph& graph, DataType target);

// Stores the regions of the graph built around 2-D convolutions channels-last
// (NHWC activations, [M, kH, kW, C/group] filters): conv and pooling nodes
// become their kiln.Nhwc* variants (src/ir/channels_last.h), elementwise ops
// and Concat inside a region follow, constants are permuted at build time and
// Transpose nodes sit only at the regions' edges; a region moves only when it
// holds more convolutions than half its edges. Graph inputs and outputs keep
// their layout. The builder runs it for backends that prefer NHWC.
Expected<PassStats> choose_channels_last(Graph& graph);

// Removes nodes whose outputs nothing reads (graph outputs are read).
Status eliminate_dead_nodes(Graph& graph);

// Shared by the passes: is `value` a graph output?
bool is_graph_output(const Graph& graph, const Value* value);
bool is_graph_input(const Graph& graph, const Value* value);
// Same rank and every axis provably equal (same extent or same symbol).
bool provably_same_shape(const Shape& a, const Shape& b);

}  // namespace kiln
