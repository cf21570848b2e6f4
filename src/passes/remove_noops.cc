#include "passes/passes.h"

namespace kiln {
namespace {

bool is_noop(const Node& n) {
  if (!n.domain.empty() || !n.has_input(0) || n.outputs.empty() || !n.outputs[0]) return false;
  const Value* in = n.inputs[0];
  const Value* out = n.outputs[0];
  if (n.op_type == "Identity") return true;
  if (n.op_type == "Dropout") {
    bool mask_used = n.outputs.size() > 1 && n.outputs[1];
    bool training = n.has_input(2) && (!n.inputs[2]->constant || n.inputs[2]->constant->scalar_as_int64() != 0);
    return !mask_used && !training;
  }
  if (n.op_type == "Cast") {
    return in->dtype != DataType::kUndefined && n.attr_int("to", -1) == static_cast<int64_t>(in->dtype);
  }
  if (n.op_type == "Reshape" || n.op_type == "Expand") {
    return in->shape.is_ranked() && in->shape.is_static() && out->shape.is_ranked() && out->shape.is_static() &&
           in->shape.known_dims() == out->shape.known_dims();
  }
  if (n.op_type == "Transpose") {
    if (!n.has_attribute("perm")) return false;  // default perm reverses axes
    std::vector<int64_t> perm = n.attr_ints("perm");
    for (size_t i = 0; i < perm.size(); ++i) if (perm[i] != static_cast<int64_t>(i)) return false;
    return true;
  }
  return false;
}

}  // namespace

Expected<PassStats> remove_noops(Graph& graph) {
  PassStats stats;
  for (Node* n : nodes_where(graph, is_noop)) {
    Value* in = n->inputs[0];
    Value* out = n->outputs[0];
    if (!is_graph_output(graph, out)) {
      graph.replace_all_uses(out, in);
    } else if (in->producer && !is_graph_input(graph, in) && !is_graph_output(graph, in) &&
               graph.consumers(in).size() == 1) {
      // Keep the graph output's name: make the producer write it directly.
      Node* producer = in->producer;
      for (Value*& o : producer->outputs) if (o == in) o = out;
      out->producer = producer;
      in->producer = nullptr;
    } else {
      continue;
    }
    graph.remove_node(n);
    ++stats.changed;
  }
  return stats;
}

}  // namespace kiln
