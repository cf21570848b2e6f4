// Reshape(Transpose(Reshape(x, [-1, d(N-2), d(N-1)]), [0, 2, 1]),
//         [d(0), ..., d(N-3), d(N-1), d(N-2)])
// where each d(i) is axis i of x, read back through Shape / Slice / Concat or
// already folded to its extent, is Transpose(x) swapping the last two axes. torch.onnx's dynamo exporter
// writes `k.transpose(-2, -1)` of a 4-D tensor this way; as one Transpose it
// takes part in the fusions (attention above all), and the shape arithmetic
// that only fed the two Reshapes goes away.
#include <optional>

#include "ir/ops/tensor_params.h"
#include "passes/passes.h"

namespace kiln {
namespace {

// One entry of a shape vector: a constant, or axis `axis` of value `of`.
struct ShapeTerm {
  const Value* of = nullptr;
  int64_t axis = 0;
  int64_t constant = 0;
};

// Axis 0 of a 1-D Shape output or Slice input `node` reads from `length`
// entries, by ONNX's clamping rules: first entry, step and count.
std::optional<tensor_params::SliceAxis> slice_of(const Node& node, int64_t length,
                                                 const tensor_params::InputValues& values) {
  std::vector<tensor_params::SliceAxis> axes;
  if (node.op_type == "Shape") {
    auto resolved = tensor_params::resolve_slice(node, {length}, {node.attr_int("start", 0)},
                                                 {node.attr_int("end", length)}, {}, {});
    if (!resolved.ok()) return std::nullopt;
    axes = std::move(resolved).value();
  } else {
    auto resolved = tensor_params::slice_from_node(node, {length}, values);
    if (!resolved.ok() || !resolved->has_value()) return std::nullopt;
    axes = std::move(**resolved);
  }
  if (axes.size() != 1) return std::nullopt;
  return axes[0];
}

// The entries of a 1-D int64 shape vector built from constants and Shape,
// Slice and Concat; nullopt for anything else.
std::optional<std::vector<ShapeTerm>> shape_terms(const Value* v, int depth = 0) {
  if (!v || depth > 8) return std::nullopt;
  if (v->constant) {
    if (v->constant->dtype() != DataType::kInt64 || v->constant->dims().size() > 1) return std::nullopt;
    std::vector<ShapeTerm> terms;
    for (int64_t x : v->constant->to_int64_vector()) terms.push_back(ShapeTerm{nullptr, 0, x});
    return terms;
  }
  const Node* p = v->producer;
  if (!p || !p->domain.empty() || p->inputs.empty() || !p->inputs[0]) return std::nullopt;
  std::vector<ShapeTerm> data;  // what a Shape or Slice picks from
  if (p->op_type == "Shape") {
    const Value* x = p->inputs[0];
    if (!x->shape.is_ranked()) return std::nullopt;
    for (int64_t i = 0; i < static_cast<int64_t>(x->shape.rank()); ++i) data.push_back(ShapeTerm{x, i, 0});
  } else if (p->op_type == "Slice") {
    auto sliced = shape_terms(p->inputs[0], depth + 1);
    if (!sliced) return std::nullopt;
    data = std::move(*sliced);
  } else if (p->op_type == "Concat" && p->attr_int("axis", 0) == 0) {
    std::vector<ShapeTerm> terms;
    for (const Value* in : p->inputs) {
      auto part = shape_terms(in, depth + 1);
      if (!part) return std::nullopt;
      terms.insert(terms.end(), part->begin(), part->end());
    }
    return terms;
  } else {
    return std::nullopt;
  }
  tensor_params::InputValues values;
  for (const Value* in : p->inputs) values.push_back(in && in->constant ? &*in->constant : nullptr);
  auto axis = slice_of(*p, static_cast<int64_t>(data.size()), values);
  if (!axis || axis->count < 0) return std::nullopt;
  std::vector<ShapeTerm> terms;
  for (int64_t i = 0; i < axis->count; ++i) terms.push_back(data[static_cast<size_t>(axis->start + i * axis->step)]);
  return terms;
}

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
  auto outer = nodes_where(graph, [](const Node& n) {
    return is_op(&n, "Reshape") && n.inputs.size() == 2 && n.outputs.size() == 1;
  });
  for (Node* r2 : outer) {
    Value* t = r2->inputs[0];
    if (!t || !read_only_by(graph, t, r2) || !is_op(t->producer, "Transpose")) continue;
    Node* transpose = t->producer;
    if (transpose->attr_ints("perm") != std::vector<int64_t>{0, 2, 1} || !transpose->inputs[0]) continue;
    Value* merged = transpose->inputs[0];
    if (!read_only_by(graph, merged, transpose) || !is_op(merged->producer, "Reshape")) continue;
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
