#include <algorithm>
#include <set>

#include "passes/passes.h"

namespace kiln {

bool provably_same_shape(const Shape& a, const Shape& b) {
  if (!a.is_ranked() || !b.is_ranked() || a.rank() != b.rank()) return false;
  for (size_t d = 0; d < a.rank(); ++d) {
    if (!(a[d] == b[d]) || (!a[d].is_known() && a[d].symbol.empty())) return false;
  }
  return true;
}

bool is_graph_output(const Graph& graph, const Value* value) {
  return std::find(graph.outputs().begin(), graph.outputs().end(), value) != graph.outputs().end();
}

bool read_only_by(const Graph& graph, const Value* value, const Node* node) {
  auto consumers = graph.consumers(value);
  return consumers.size() == 1 && consumers[0] == node && !is_graph_output(graph, value);
}

bool is_op(const Node* node, std::string_view op_type, std::string_view domain) {
  return node && node->op_type == op_type && node->domain == domain && !node->outputs.empty() && node->outputs[0];
}

std::vector<Node*> nodes_where(const Graph& graph, const std::function<bool(const Node&)>& keep) {
  std::vector<Node*> nodes;
  for (const auto& n : graph.nodes()) {
    if (keep(*n)) nodes.push_back(n.get());
  }
  return nodes;
}

bool is_last_axis_softmax(const Node& node) {
  if (!is_op(&node, "Softmax") || node.inputs.size() != 1 || node.outputs.size() != 1) return false;
  const Value* x = node.inputs[0];
  if (!x || !x->shape.is_ranked() || x->shape.rank() == 0) return false;
  const int64_t rank = static_cast<int64_t>(x->shape.rank());
  int64_t axis = node.attr_int("axis", node.opset < 13 ? 1 : -1);
  if (axis < 0) axis += rank;
  return axis == rank - 1;
}

bool is_graph_input(const Graph& graph, const Value* value) {
  return std::find(graph.inputs().begin(), graph.inputs().end(), value) != graph.inputs().end();
}

Status eliminate_dead_nodes(Graph& graph) {
  bool changed = true;
  while (changed) {
    std::set<const Value*> read(graph.outputs().begin(), graph.outputs().end());
    for (const auto& n : graph.nodes()) {
      for (Value* in : n->inputs) if (in) read.insert(in);
    }
    std::vector<Node*> dead;
    for (const auto& n : graph.nodes()) {
      bool used = false;
      for (Value* out : n->outputs) used |= out && read.count(out);
      if (!used) dead.push_back(n.get());
    }
    for (Node* n : dead) graph.remove_node(n);
    changed = !dead.empty();
  }
  graph.remove_unused_values();
  return ok_status();
}

}  // namespace kiln
