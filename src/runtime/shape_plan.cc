#include "runtime/shape_plan.h"

#include <algorithm>

#include "backends/cpu/cpu_kernels.h"
#include "build/memory_planner.h"
#include "ir/shape_inference.h"

namespace kiln {

bool ShapePlan::is_host_node(const Node* n) const {
  return host_nodes.count(n) != 0;
}

std::map<const Value*, size_t> ShapePlan::value_bytes() const {
  std::map<const Value*, size_t> out;
  for (const auto& [v, info] : infos) {
    if (v->constant || host_values.count(v) || !info.fully_known() || info.dtype == DataType::kString) continue;
    out[v] = static_cast<size_t>(element_count(info.dims)) * dtype_size(info.dtype);
  }
  return out;
}

// Shape and Size need only their input's dims.
Expected<Tensor> shape_value_from_dims(const Node& node, const Dims& dims) {
  if (node.op_type == "Size") return Tensor::from_vector<int64_t>(DataType::kInt64, {}, {element_count(dims)});
  const int64_t rank = static_cast<int64_t>(dims.size());
  int64_t start = node.attr_int("start", 0);
  int64_t end = node.attr_int("end", rank);
  if (start < 0) start += rank;
  if (end < 0) end += rank;
  start = std::clamp<int64_t>(start, 0, rank);
  end = std::clamp<int64_t>(end, 0, rank);
  std::vector<int64_t> values(dims.begin() + start, dims.begin() + std::max(start, end));
  return Tensor::from_vector<int64_t>(DataType::kInt64, {static_cast<int64_t>(values.size())}, values);
}

Expected<ShapePlan> plan_shapes(const Graph& graph, const std::vector<Node*>& order, const InputShapes& shapes) {
  ShapePlan plan;
  plan.input_shapes = shapes;
  for (Value* in : graph.inputs()) {
    auto it = shapes.find(in->name);
    if (it == shapes.end()) return invalid_argument("no shape given for input '" + in->name + "'");
    plan.infos[in] = TensorInfo{in->dtype, it->second, true};
  }
  const OpRegistry& registry = OpRegistry::global();
  for (Node* node : order) {
    InferContext context{*node, {}, {}};
    bool all_known = true;
    for (Value* in : node->inputs) {
      if (!in) {
        context.inputs.push_back(TensorInfo{});
        context.values.push_back(nullptr);
        continue;
      }
      const Tensor* value = nullptr;
      if (in->constant) value = &*in->constant;
      else if (auto hv = plan.host_values.find(in); hv != plan.host_values.end()) value = &hv->second;
      TensorInfo info;
      if (value) info = TensorInfo{value->dtype(), value->dims(), true};
      else if (auto known = plan.infos.find(in); known != plan.infos.end()) info = known->second;
      else info = info_of(*in);
      all_known &= value != nullptr;
      context.inputs.push_back(info);
      context.values.push_back(value);
    }
    // Shape tensors: compute on the host.
    const bool shape_op = (node->op_type == "Shape" || node->op_type == "Size") && node->domain.empty() &&
                          node->has_input(0) && context.inputs[0].fully_known();
    if (shape_op) {
      KILN_ASSIGN_OR_RETURN(Tensor t, shape_value_from_dims(*node, context.inputs[0].dims));
      plan.infos[node->outputs[0]] = TensorInfo{t.dtype(), t.dims(), true};
      plan.host_values[node->outputs[0]] = std::move(t);
      plan.host_nodes.insert(node);
      continue;
    }
    KILN_ASSIGN_OR_RETURN(auto infos, registry.infer(context));
    bool small = true;
    for (const TensorInfo& info : infos) {
      small &= info.fully_known() && element_count(info.dims) <= kMaxHostValueElements;
    }
    static const char* kNondeterministic[] = {"RandomNormalLike", "RandomUniformLike", "Bernoulli", "Multinomial"};
    bool deterministic = std::none_of(std::begin(kNondeterministic), std::end(kNondeterministic),
                                      [&](const char* op) { return node->op_type == op; });
    if (all_known && deterministic && !node->inputs.empty() && small && node->domain.empty()) {
      auto outputs = cpu::evaluate_node(*node, context.values);
      if (outputs.ok()) {
        for (size_t i = 0; i < node->outputs.size(); ++i) {
          if (!node->outputs[i]) continue;
          const Tensor& t = (*outputs)[i];
          plan.infos[node->outputs[i]] = TensorInfo{t.dtype(), t.dims(), true};
          plan.host_values[node->outputs[i]] = t;
        }
        plan.host_nodes.insert(node);
        continue;
      }
    }
    for (size_t i = 0; i < node->outputs.size() && i < infos.size(); ++i) {
      if (node->outputs[i]) plan.infos[node->outputs[i]] = infos[i];
    }
  }
  return plan;
}

Expected<ActivationMemory> activation_memory(const Graph& graph, const InputShapes& shapes) {
  KILN_ASSIGN_OR_RETURN(auto order, graph.topological_order());
  KILN_ASSIGN_OR_RETURN(ShapePlan plan, plan_shapes(graph, order, shapes));
  auto bytes = plan.value_bytes();
  KILN_ASSIGN_OR_RETURN(GraphMemoryPlan memory, plan_graph_memory(graph, bytes));
  return ActivationMemory{memory.plan.arena_bytes, memory.plan.total_tensor_bytes};
}

}  // namespace kiln
