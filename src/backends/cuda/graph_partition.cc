#include "backends/cuda/graph_partition.h"

namespace kiln::cuda {

bool reads_only_shape(const Node& node) {
  return (node.op_type == "Shape" || node.op_type == "Size") && (node.domain.empty() || node.domain == "ai.onnx");
}

GraphPartition partition_graph(const Graph& graph, std::vector<Node*> order) {
  GraphPartition p;
  p.order = std::move(order);
  p.on_host.assign(p.order.size(), false);
  for (Value* v : graph.constant_values()) p.host_known.insert(v);
  for (size_t i = 0; i < p.order.size(); ++i) {
    const Node& node = *p.order[i];
    bool host = reads_only_shape(node);
    if (!host) {
      host = true;
      for (const Value* in : node.inputs) {
        if (in && !in->constant && !p.host_known.count(in)) host = false;
      }
    }
    p.on_host[i] = host;
    if (host) {
      for (const Value* out : node.outputs) if (out) p.host_known.insert(out);
    }
  }
  for (size_t i = 0; i < p.order.size(); ++i) {
    if (p.on_host[i]) continue;
    for (const Value* in : p.order[i]->inputs) {
      if (in && (in->constant || p.host_known.count(in))) p.needed_on_device.insert(in);
    }
  }
  return p;
}

}  // namespace kiln::cuda
