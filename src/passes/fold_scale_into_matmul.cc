// Mul(t, c), c a scalar constant, where t is MatMul(x, W) (+ b) seen through
// Reshape / Transpose / Identity / Squeeze / Unsqueeze / Flatten, becomes
// MatMul(x, c * W) (+ c * b): the scale is applied to the constants at build
// time instead of to every activation at run time. The query and key scaling
// of exported scaled_dot_product_attention has this form.
#include "passes/passes.h"

namespace kiln {
namespace {

bool is_layout_op(const Node& node) {
  static const char* const kOps[] = {"Reshape", "Transpose", "Identity", "Squeeze", "Unsqueeze", "Flatten"};
  if (!node.domain.empty() || node.inputs.empty() || node.outputs.size() != 1) return false;
  for (const char* op : kOps) {
    if (node.op_type == op) return true;
  }
  return false;
}

const Value* scalar_constant(const Value* v) {
  if (!v || !v->constant || v->constant->dtype() != DataType::kFloat32 || v->constant->element_count() != 1) {
    return nullptr;
  }
  return v;
}

bool float_constant(const Value* v) { return v && v->constant && v->constant->dtype() == DataType::kFloat32; }

// A copy of `source` times `scale`, as a new constant value.
Value* scaled_constant(Graph& graph, const Value* source, float scale) {
  Tensor t = source->constant->clone();
  for (float& x : t.span<float>()) x *= scale;
  Value* v = graph.new_value(source->name + "_scaled");
  v->dtype = DataType::kFloat32;
  v->shape = source->shape;
  v->constant = std::move(t);
  return v;
}

}  // namespace

Expected<PassStats> fold_scale_into_matmul(Graph& graph) {
  PassStats stats;
  auto muls = nodes_where(graph, [](const Node& n) {
    return is_op(&n, "Mul") && n.inputs.size() == 2 && n.outputs.size() == 1;
  });
  for (Node* mul : muls) {
    const Value* c = scalar_constant(mul->inputs[1]);
    Value* t = mul->inputs[0];
    if (!c) {
      c = scalar_constant(mul->inputs[0]);
      t = mul->inputs[1];
    }
    if (!c || !t || t->constant || is_graph_output(graph, mul->outputs[0])) continue;
    // Walk up the layout ops, each read only by the next step.
    const Node* reader = mul;
    Value* v = t;
    while (v->producer && is_layout_op(*v->producer) && read_only_by(graph, v, reader)) {
      reader = v->producer;
      v = v->producer->inputs[0];
    }
    if (!v || !v->producer || !read_only_by(graph, v, reader)) continue;
    Node* producer = v->producer;
    Node* matmul = nullptr;
    Value* bias = nullptr;
    size_t bias_index = 0;
    if (producer->op_type == "MatMul" && producer->domain.empty()) {
      matmul = producer;
    } else if (producer->op_type == "Add" && producer->domain.empty() && producer->inputs.size() == 2) {
      for (size_t i = 0; i < 2; ++i) {
        Value* other = producer->inputs[1 - i];
        if (float_constant(producer->inputs[i]) && other && other->producer &&
            other->producer->op_type == "MatMul" && other->producer->domain.empty() &&
            read_only_by(graph, other, producer)) {
          matmul = other->producer;
          bias = producer->inputs[i];
          bias_index = i;
        }
      }
    }
    if (!matmul || matmul->inputs.size() != 2 || !float_constant(matmul->inputs[1])) continue;
    const float scale = c->constant->data<float>()[0];
    matmul->inputs[1] = scaled_constant(graph, matmul->inputs[1], scale);
    if (bias) producer->inputs[bias_index] = scaled_constant(graph, bias, scale);
    Value* scaled = mul->outputs[0];
    graph.remove_node(mul);
    graph.replace_all_uses(scaled, t);
    ++stats.changed;
  }
  return stats;
}

}  // namespace kiln
