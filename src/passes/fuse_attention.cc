// The attention block exporters write for multi-head attention, on
// projections already reshaped to [B, S, H, D]:
//
//   Qt = Transpose(Q, 0,2,1,3) [* a]     Kt = Transpose(K, 0,2,3,1) [* b]
//   P  = kiln.MaskedSoftmax(Qt x Kt [* c], Mask)  (or Softmax over the last axis)
//   O  = Transpose(P x Transpose(V, 0,2,1,3), 0,2,1,3)
//
// becomes O = kiln.Attention(Q, K, V[, Mask]) with scale a * b * c. Each
// scale is a Mul by or a Div by a scalar constant, and Kt may be two
// Transposes (to [B, H, S, D], then the last two axes swapped). The kernels
// then read the projections where they lie and keep the [B, H, S, S] scores
// on chip. Every intermediate must be read only by the next step.
#include <set>

#include "passes/passes.h"

namespace kiln {
namespace {

// The input of one Transpose, or of two in a row, whose permutation is
// `perm`; each read only by the next step (exporters transpose K to
// [B, H, S, D] and then swap its last two axes).
Value* transposed_from(const Graph& graph, const Value* v, const Node* reader, const std::vector<int64_t>& perm,
                       std::vector<Node*>& matched) {
  std::vector<int64_t> composed = {0, 1, 2, 3};
  std::vector<Node*> steps;
  while (v && steps.size() < 2 && read_only_by(graph, v, reader)) {
    Node* t = v->producer;
    if (!is_op(t, "Transpose") || t->inputs.size() != 1 || !t->inputs[0]) break;
    const std::vector<int64_t> p = t->attr_ints("perm");
    if (p.size() != 4) break;
    // Output axis i of the chain is axis composed[i] of t's output, which is axis p[composed[i]] of t's input.
    for (int64_t& axis : composed) {
      if (axis < 0 || axis > 3 || p[static_cast<size_t>(axis)] < 0 || p[static_cast<size_t>(axis)] > 3) return nullptr;
      axis = p[static_cast<size_t>(axis)];
    }
    steps.push_back(t);
    reader = t;
    v = t->inputs[0];
    if (composed == perm) {
      matched.insert(matched.end(), steps.begin(), steps.end());
      return t->inputs[0];
    }
  }
  return nullptr;
}

// A value and the node that reads it, walking up from the score product.
struct Operand {
  const Value* value;
  const Node* reader;
};

// Steps over Mul by, or Div by, a scalar float32 constant (a Mul's constant
// on either side), folding it into `scale`.
Operand through_scalar_scale(const Graph& graph, Operand at, double& scale, std::vector<Node*>& matched) {
  if (!at.value || !read_only_by(graph, at.value, at.reader)) return at;
  Node* op = at.value->producer;
  const bool mul = is_op(op, "Mul"), div = is_op(op, "Div");
  if ((!mul && !div) || op->inputs.size() != 2) return at;
  for (size_t i = div ? 1 : 0; i < 2; ++i) {
    const Value* c = op->inputs[i];
    const Value* other = op->inputs[1 - i];
    if (!c || !other || other->constant || !c->constant || c->constant->dtype() != DataType::kFloat32 ||
        c->constant->element_count() != 1 || other->dtype != at.value->dtype) {
      continue;
    }
    const double factor = c->constant->scalar_as_double(0);
    if (div && factor == 0.0) return at;
    scale = div ? scale / factor : scale * factor;
    matched.push_back(op);
    return {other, op};
  }
  return at;
}

// The score product, or a Mul or Div of it (the scaled scores).
bool produced_by_product(const Value* v) {
  const Node* p = v->producer;
  if (is_op(p, "MatMul")) return true;
  if (!(is_op(p, "Mul") || is_op(p, "Div")) || p->inputs.size() != 2) return false;
  for (const Value* in : p->inputs) {
    if (in && is_op(in->producer, "MatMul")) return true;
  }
  return false;
}


}  // namespace

Expected<PassStats> fuse_attention(Graph& graph) {
  PassStats stats;
  const std::vector<int64_t> heads_first = {0, 2, 1, 3}, keys_last = {0, 2, 3, 1};
  auto candidates = nodes_where(graph, [&](const Node& n) {
    return is_op(&n, "Transpose") && n.attr_ints("perm") == heads_first;
  });
  std::set<const Node*> removed;
  for (Node* back : candidates) {
    if (removed.count(back)) continue;
    std::vector<Node*> matched = {back};
    Value* o = back->inputs.empty() ? nullptr : back->inputs[0];
    if (!o || !read_only_by(graph, o, back) || !is_op(o->producer, "MatMul") || o->producer->inputs.size() != 2) {
      continue;
    }
    Node* pv = o->producer;
    matched.push_back(pv);
    Value* v = transposed_from(graph, pv->inputs[1], pv, heads_first, matched);
    Value* p = pv->inputs[0];
    if (!v || !p || !read_only_by(graph, p, pv)) continue;
    Node* softmax = p->producer;
    Value* mask = nullptr;
    Value* scores = nullptr;
    bool nan_to_zero = false;
    if (is_op(softmax, "MaskedSoftmax", "kiln")) {
      // Either operand may be the scores; the other is the mask.
      for (size_t i = 0; i < softmax->inputs.size() && !scores; ++i) {
        Value* s = softmax->inputs[i];
        if (s && produced_by_product(s)) {
          scores = s;
          mask = softmax->inputs.size() == 2 ? softmax->inputs[1 - i] : nullptr;
        }
      }
      nan_to_zero = softmax->attr_int("nan_to_zero", 0) != 0;
    } else if (softmax && is_last_axis_softmax(*softmax)) {
      scores = softmax->inputs[0];
    }
    if (!scores) continue;
    matched.push_back(softmax);
    // The scores may be scaled after the product (x / sqrt(d)) as well as before.
    double scale = 1.0;
    const Operand product = through_scalar_scale(graph, {scores, softmax}, scale, matched);
    if (!read_only_by(graph, product.value, product.reader) || !is_op(product.value->producer, "MatMul")) continue;
    Node* qk = product.value->producer;
    if (qk->inputs.size() != 2) continue;
    matched.push_back(qk);
    const Operand qt = through_scalar_scale(graph, {qk->inputs[0], qk}, scale, matched);
    const Operand kt = through_scalar_scale(graph, {qk->inputs[1], qk}, scale, matched);
    Value* q = transposed_from(graph, qt.value, qt.reader, heads_first, matched);
    Value* k = transposed_from(graph, kt.value, kt.reader, keys_last, matched);
    if (!q || !k || q->dtype != k->dtype || q->dtype != v->dtype) continue;
    if (!dtype_is_float(q->dtype) || q->dtype == DataType::kFloat64) continue;
    if (mask && mask->dtype != q->dtype) continue;

    auto fused = std::make_unique<Node>();
    fused->name = qk->name + "_attention";
    fused->op_type = "Attention";
    fused->domain = "kiln";
    fused->opset = 1;
    fused->inputs = {q, k, v};
    if (mask) fused->inputs.push_back(mask);
    if (scale != 1.0) fused->attributes["scale"] = Attribute::of_float(static_cast<float>(scale));
    if (nan_to_zero) fused->attributes["nan_to_zero"] = Attribute::of_int(1);
    Value* result = back->outputs[0];
    fused->outputs = {result};
    for (Node* n : matched) {
      removed.insert(n);
      graph.remove_node(n);
    }
    result->producer = graph.add_node(std::move(fused));
    stats.changed += static_cast<int>(matched.size());
  }
  return stats;
}

}  // namespace kiln
