#include <set>

#include "passes/passes.h"

namespace kiln {

Status eliminate_dead_nodes(Graph& graph) {
  bool changed = true;
  while (changed) {
    changed = false;
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
  return ok_status();
}

Status run_default_passes(Graph& graph) {
  KILN_RETURN_IF_ERROR(eliminate_dead_nodes(graph));
  return ok_status();
}

}  // namespace kiln
