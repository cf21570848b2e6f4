// Add(scores, mask) -> Softmax(last axis) [-> Where(IsNaN(p), 0, p)] becomes one
// kiln.MaskedSoftmax: the exported attention of transformer encoders (the
// NaN guard is what torch.onnx emits for scaled_dot_product_attention with a
// boolean mask). The scores are read once instead of four times. Exporters
// leave the axes of both Add operands unnamed or differently named, so which
// one is the full-size score matrix is left to the kernels, which see the
// concrete shapes.
#include "passes/passes.h"

namespace kiln {
namespace {

bool is_zero_scalar(const Value* v) {
  if (!v || !v->constant || v->constant->element_count() != 1) return false;
  return v->constant->scalar_as_double(0) == 0.0;
}

// The Where(IsNaN(p), 0, p) that reads only `p`'s NaN-ness; null when absent.
Node* nan_guard(const Graph& graph, const Value* p) {
  auto consumers = graph.consumers(p);
  if (consumers.size() != 2 || is_graph_output(graph, p)) return nullptr;
  Node* is_nan = consumers[0]->op_type == "IsNaN" ? consumers[0] : consumers[1];
  Node* where = is_nan == consumers[0] ? consumers[1] : consumers[0];
  if (is_nan->op_type != "IsNaN" || !is_nan->domain.empty() || where->op_type != "Where" || !where->domain.empty()) {
    return nullptr;
  }
  if (where->inputs.size() != 3 || where->inputs[0] != is_nan->outputs[0] || where->inputs[2] != p ||
      !is_zero_scalar(where->inputs[1])) {
    return nullptr;
  }
  if (!read_only_by(graph, is_nan->outputs[0], where)) return nullptr;
  return where;
}

}  // namespace

Expected<PassStats> fuse_attention_softmax(Graph& graph) {
  PassStats stats;
  for (Node* softmax : nodes_where(graph, is_last_axis_softmax)) {
    Value* scores = softmax->inputs[0];
    Value* mask = nullptr;
    Node* add = scores->producer;
    // Any broadcast is fine: the fused op adds as the Add did.
    if (add && add->op_type == "Add" && add->domain.empty() && add->inputs.size() == 2 && add->inputs[0] &&
        add->inputs[1] && add->inputs[0]->dtype == add->inputs[1]->dtype && read_only_by(graph, scores, softmax)) {
      scores = add->inputs[0];
      mask = add->inputs[1];
    }
    Value* p = softmax->outputs[0];
    Node* guard = nan_guard(graph, p);
    if (!mask && !guard) continue;

    auto fused = std::make_unique<Node>();
    fused->name = softmax->name + "_masked";
    fused->op_type = "MaskedSoftmax";
    fused->domain = "kiln";
    fused->opset = 1;
    fused->inputs = {scores};
    if (mask) fused->inputs.push_back(mask);
    if (guard) fused->attributes["nan_to_zero"] = Attribute::of_int(1);
    Value* result = guard ? guard->outputs[0] : p;
    fused->outputs = {result};
    int removed = 1;
    if (guard) {
      Node* is_nan = guard->inputs[0]->producer;
      graph.remove_node(guard);
      graph.remove_node(is_nan);
      removed += 2;
    }
    if (mask) {
      graph.remove_node(add);
      ++removed;
    }
    graph.remove_node(softmax);
    Node* added = graph.add_node(std::move(fused));
    result->producer = added;
    stats.changed += removed;
  }
  return stats;
}

}  // namespace kiln
