// Reshape(Transpose(Reshape(x, [-1, d(N-2), d(N-1)]), [0, 2, 1]),
//         [d(0), ..., d(N-3), d(N-1), d(N-2)])
// where each d(i) is axis i of x, read back through Shape / Slice / Concat or
// already folded to its extent, is Transpose(x) swapping the last two axes. torch.onnx's dynamo exporter
// writes `k.transpose(-2, -1)` of a 4-D tensor this way; as one Transpose it
// takes part in the fusions (attention above all), and the shape arithmetic
// that only fed the two Reshapes goes away.
#include <algorithm>
#include <optional>

#include "passes/passes.h"

namespace kiln {
namespace {

// One entry of a shape vector: a constant, or axis `axis` of value `of`.
struct ShapeTerm {
  const Value* of = nullptr;
  int64_t axis = 0;
  int64_t constant = 0;
};

std::optional<std::vector<int64_t>> constant_ints(const Value* v) {
  if (!v || !v->constant || v->constant->dtype() != DataType::kInt64 || v->constant->dims().size() > 1) {
    return std::nullopt;
  }
  const int64_t* p = v->constant->data<int64_t>();
  return std::vector<int64_t>(p, p + v->constant->element_count());
}

// Clamps a Slice/Shape bound as ONNX does.
int64_t clamp_bound(int64_t bound, int64_t length) {
  if (bound < 0) bound += length;
  return std::clamp<int64_t>(bound, 0, length);
}

// The entries of a 1-D int64 shape vector built from constants and Shape,
// Slice (axis 0, step 1) and Concat; nullopt for anything else.
std::optional<std::vector<ShapeTerm>> shape_terms(const Value* v, int depth = 0) {
  if (!v || depth > 8) return std::nullopt;
  if (auto ints = constant_ints(v)) {
    std::vector<ShapeTerm> terms;
    for (int64_t x : *ints) terms.push_back(ShapeTerm{nullptr, 0, x});
    return terms;
  }
  const Node* p = v->producer;
  if (!p || !p->domain.empty() || p->inputs.empty() || !p->inputs[0]) return std::nullopt;
  if (p->op_type == "Shape") {
    const Value* x = p->inputs[0];
    if (!x->shape.is_ranked()) return std::nullopt;
    const int64_t rank = static_cast<int64_t>(x->shape.rank());
    const int64_t start = clamp_bound(p->attr_int("start", 0), rank);
    const int64_t end = clamp_bound(p->attr_int("end", rank), rank);
    std::vector<ShapeTerm> terms;
    for (int64_t i = start; i < end; ++i) terms.push_back(ShapeTerm{x, i, 0});
    return terms;
  }
  if (p->op_type == "Concat" && p->attr_int("axis", 0) == 0) {
    std::vector<ShapeTerm> terms;
    for (const Value* in : p->inputs) {
      auto part = shape_terms(in, depth + 1);
      if (!part) return std::nullopt;
      terms.insert(terms.end(), part->begin(), part->end());
    }
    return terms;
  }
  if (p->op_type == "Slice" && p->opset >= 10 && p->inputs.size() >= 3) {
    auto data = shape_terms(p->inputs[0], depth + 1);
    auto starts = constant_ints(p->inputs[1]), ends = constant_ints(p->inputs[2]);
    if (!data || !starts || !ends || starts->size() != 1 || ends->size() != 1) return std::nullopt;
    if (p->has_input(3)) {
      auto axes = constant_ints(p->inputs[3]);
      if (!axes || axes->size() != 1 || ((*axes)[0] != 0 && (*axes)[0] != -1)) return std::nullopt;
    }
    if (p->has_input(4)) {
      auto steps = constant_ints(p->inputs[4]);
      if (!steps || steps->size() != 1 || (*steps)[0] != 1) return std::nullopt;
    }
    const int64_t length = static_cast<int64_t>(data->size());
    const int64_t begin = clamp_bound((*starts)[0], length), end = clamp_bound((*ends)[0], length);
    if (begin >= end) return std::vector<ShapeTerm>{};
    return std::vector<ShapeTerm>(data->begin() + begin, data->begin() + end);
  }
  return std::nullopt;
}

bool is_default_op(const Node* n, const char* op) { return n && n->domain.empty() && n->op_type == op; }

// Is `term` axis `axis` of x: read from x's shape, or a constant equal to
// that axis's known extent (shape arithmetic already folded).
bool is_axis(const ShapeTerm& term, const Value* x, int64_t axis) {
  if (term.of) return term.of == x && term.axis == axis;
  const Dim& d = x->shape[static_cast<size_t>(axis)];
  return d.is_known() && d.value == term.constant;
}

// Is `term` the merged leading axes of x: -1, or their known product.
bool is_leading_product(const ShapeTerm& term, const Value* x, int64_t count) {
  if (term.of) return false;
  if (term.constant == -1) return true;
  int64_t product = 1;
  for (int64_t i = 0; i < count; ++i) {
    const Dim& d = x->shape[static_cast<size_t>(i)];
    if (!d.is_known()) return false;
    product *= d.value;
  }
  return term.constant == product;
}

}  // namespace

Expected<PassStats> fold_reshaped_transposes(Graph& graph) {
  PassStats stats;
  std::vector<Node*> outer;
  for (const auto& n : graph.nodes()) {
    if (is_default_op(n.get(), "Reshape") && n->inputs.size() == 2 && n->outputs.size() == 1) outer.push_back(n.get());
  }
  for (Node* r2 : outer) {
    Value* t = r2->inputs[0];
    if (!t || !read_only_by(graph, t, r2) || !is_default_op(t->producer, "Transpose")) continue;
    Node* transpose = t->producer;
    if (transpose->attr_ints("perm") != std::vector<int64_t>{0, 2, 1} || !transpose->inputs[0]) continue;
    Value* merged = transpose->inputs[0];
    if (!read_only_by(graph, merged, transpose) || !is_default_op(merged->producer, "Reshape")) continue;
    Node* r1 = merged->producer;
    if (r1->inputs.size() != 2 || r1->attr_int("allowzero", 0) != 0 || r2->attr_int("allowzero", 0) != 0) continue;
    const Value* x = r1->inputs[0];
    if (!x || !x->shape.is_ranked() || x->shape.rank() < 3) continue;
    const int64_t rank = static_cast<int64_t>(x->shape.rank());
    auto inner_terms = shape_terms(r1->inputs[1]);
    auto outer_terms = shape_terms(r2->inputs[1]);
    if (!inner_terms || !outer_terms) continue;
    const std::vector<ShapeTerm>& in = *inner_terms;
    const std::vector<ShapeTerm>& out = *outer_terms;
    if (in.size() != 3 || static_cast<int64_t>(out.size()) != rank) continue;
    bool same = is_leading_product(in[0], x, rank - 2) && is_axis(in[1], x, rank - 2) && is_axis(in[2], x, rank - 1) &&
                is_axis(out[rank - 2], x, rank - 1) && is_axis(out[rank - 1], x, rank - 2);
    for (int64_t i = 0; i < rank - 2 && same; ++i) same = is_axis(out[i], x, i);
    if (!same) continue;

    std::vector<int64_t> perm;
    for (int64_t i = 0; i < rank - 2; ++i) perm.push_back(i);
    perm.push_back(rank - 1);
    perm.push_back(rank - 2);
    auto swap = std::make_unique<Node>();
    swap->name = r2->name + "_transpose";
    swap->op_type = "Transpose";
    swap->opset = transpose->opset;
    swap->inputs = {r1->inputs[0]};
    swap->attributes["perm"] = Attribute::of_ints(perm);
    Value* result = r2->outputs[0];
    swap->outputs = {result};
    graph.remove_node(r2);
    graph.remove_node(transpose);
    graph.remove_node(r1);
    result->producer = graph.add_node(std::move(swap));
    stats.changed += 3;
  }
  // The shape arithmetic that fed only the Reshapes reads the input too; drop
  // it now, so that the passes after this one see the input's real readers.
  if (stats.changed > 0) KILN_RETURN_IF_ERROR(eliminate_dead_nodes(graph));
  return stats;
}

}  // namespace kiln
