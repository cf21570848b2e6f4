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
