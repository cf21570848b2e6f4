// Graph rewrites run by the builder. Each pass lives in its own file and keeps
// the graph computing exactly what it computed before (tests check numerically).
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "ir/op_registry.h"
#include "kiln/builder.h"
#include "kiln/graph.h"
#include "kiln/status.h"

namespace kiln {

// Statistics a pass reports (for `kiln build --verbose` and tests).
struct PassStats {
  int changed = 0;  // nodes rewritten, removed or fused
};

// The pass pipeline the builder runs when optimisation is on, in order:
// fold constants, remove no-ops, fold reshaped transposes, fold BatchNormalization, fold scalar scales
// into matmul weights, fuse attention softmax, fuse attention, fuse conv/gemm/matmul with
// bias, residual and activation, fuse pointwise chains, remove dead nodes.
Status run_default_passes(Graph& graph);

// Evaluates nodes whose inputs are all constant (and Shape/Size of statically
// shaped values) on the CPU and replaces their outputs by constants.
Expected<PassStats> fold_constants(Graph& graph);

// Removes Identity, inference Dropout, Cast to the same type, Reshape to the
// same static shape, identity Transpose.
Expected<PassStats> remove_noops(Graph& graph);

// Reshape(Transpose(Reshape(x, [-1, d(N-2), d(N-1)]), [0, 2, 1]),
// [d(0), ..., d(N-3), d(N-1), d(N-2)]), each d(i) read from x through Shape,
// Slice and Concat, becomes one Transpose swapping x's last two axes (the
// dynamo exporter's `transpose(-2, -1)`); the dead shape arithmetic goes too.
Expected<PassStats> fold_reshaped_transposes(Graph& graph);

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

// The exported scaled dot-product attention on [B, S, H, D] projections:
// Transpose(Q) x Transpose(K) [x scalar] -> kiln.MaskedSoftmax or a last-axis
// Softmax -> x Transpose(V) -> Transpose back becomes one kiln.Attention, so
// that neither the head transposes nor the [B, H, S, S] scores reach memory.
// Runs after fuse_attention_softmax.
Expected<PassStats> fuse_attention(Graph& graph);

// Two or more consecutive single-input elementwise ops (with scalar constants)
// become one kiln.PointwiseChain node.
Expected<PassStats> fuse_pointwise_chains(Graph& graph);

// Which precision each node's float32 arithmetic runs in.
struct PrecisionPolicy {
  // float32, float16 or bfloat16: what a node runs in unless something below
  // decides otherwise. Data-movement ops (Reshape, Transpose, Concat, ...)
  // take the precision their data arrives in instead.
  DataType default_precision = DataType::kFloat16;
  // Node-name globs with the precision they force; later entries win. A
  // pattern that matches no node is an error, as is a forced precision the
  // backend cannot run.
  std::vector<LayerPrecision> layers;
  // Whether the backend runs the node with these inputs (types as they will be
  // after the rewrite). A node it refuses below float32 runs in float32, and
  // the report says why. Empty: every node runs at every precision.
  std::function<Status(const Node&, const std::vector<TensorInfo>&)> supports;
};

struct PrecisionReport {
  // Nodes that compute on float data, by the precision they run in.
  size_t float32_layers = 0, float16_layers = 0, bfloat16_layers = 0;
  // "node 'x' (Op): why": nodes that fell back to float32 because the backend
  // does not run them at the default precision.
  std::vector<std::string> fallbacks;
  // "'weight' (N values)": float32 weights with finite values beyond the
  // range of float16 or bfloat16 (exporters write float32's lowest value as a
  // mask constant), which the conversion clamped to the type's largest finite
  // value (+-65504 for float16) rather than turn into infinities.
  std::vector<std::string> clamped;
};

// Rewrites the graph so that every node runs in its chosen precision: float32
// weights converted once per precision, a Cast wherever a value crosses
// precisions, and float32 graph inputs and outputs kept float32, so the
// engine's interface does not change. Shapes must be inferred; re-infer after.
Expected<PrecisionReport> assign_float_precision(Graph& graph, const PrecisionPolicy& policy);

// The whole graph in float16 or bfloat16 (assign_float_precision with no
// per-layer choices).
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
// Is `node` the only reader of `value`, which is no graph output?
bool read_only_by(const Graph& graph, const Value* value, const Node* node);
// Is `node` (may be null) an `op_type` of `domain` with an output?
bool is_op(const Node* node, std::string_view op_type, std::string_view domain = "");
// The nodes `keep` accepts, collected before a pass starts rewriting.
std::vector<Node*> nodes_where(const Graph& graph, const std::function<bool(const Node&)>& keep);
// Softmax over the last axis in both ONNX semantics (before opset 13 the axis
// flattens the trailing axes, which is the last axis only when it is rank - 1).
bool is_last_axis_softmax(const Node& node);
// Same rank and every axis provably equal (same extent or same symbol).
bool provably_same_shape(const Shape& a, const Shape& b);

}  // namespace kiln
