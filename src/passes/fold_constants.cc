#include <set>

#include "backends/cpu/cpu_kernels.h"
#include "passes/passes.h"
#include "runtime/shape_plan.h"

namespace kiln {
namespace {

// Ops whose result is not a function of their inputs.
const std::set<std::string> kNondeterministic = {"RandomNormal", "RandomUniform", "RandomNormalLike",
                                                 "RandomUniformLike", "Bernoulli", "Multinomial"};
// Folding must not turn a small graph into a huge constant (ConstantOfShape, Expand, Tile).
constexpr size_t kMaxFoldedBytes = 64u << 20;

bool statically_shaped(const Value* v) { return v && v->shape.is_ranked() && v->shape.is_static(); }

}  // namespace

Expected<PassStats> fold_constants(Graph& graph) {
  PassStats stats;
  KILN_ASSIGN_OR_RETURN(auto order, graph.topological_order());
  for (Node* node : order) {
    if (!node->domain.empty() || kNondeterministic.count(node->op_type)) continue;
    if (!cpu::KernelTable::global().find(node->op_type, node->domain)) continue;
    // Shape and Size of a statically shaped value are known without its data.
    if ((node->op_type == "Shape" || node->op_type == "Size") && node->has_input(0) &&
        !node->inputs[0]->constant && statically_shaped(node->inputs[0])) {
      auto value = shape_value_from_dims(*node, node->inputs[0]->shape.known_dims());
      if (!value.ok()) continue;
      node->outputs[0]->constant = *value;
      node->outputs[0]->producer = nullptr;
      graph.remove_node(node);
      ++stats.changed;
      continue;
    }
    bool all_constant = !node->inputs.empty();
    std::vector<const Tensor*> inputs;
    for (Value* in : node->inputs) {
      if (in && !in->constant) all_constant = false;
      inputs.push_back(in ? &*in->constant : nullptr);
    }
    if (!all_constant) continue;
    auto outputs = cpu::evaluate_node(*node, inputs);
    if (!outputs.ok()) continue;  // left for execution, which reports the error with context
    size_t bytes = 0;
    for (const Tensor& t : *outputs) bytes += t.defined() ? t.byte_size() : 0;
    if (bytes > kMaxFoldedBytes) continue;
    for (size_t i = 0; i < node->outputs.size(); ++i) {
      if (!node->outputs[i]) continue;
      node->outputs[i]->constant = (*outputs)[i];
      node->outputs[i]->dtype = (*outputs)[i].dtype();
      node->outputs[i]->shape = Shape::from_dims((*outputs)[i].dims());
      node->outputs[i]->producer = nullptr;
    }
    graph.remove_node(node);
    ++stats.changed;
  }
  return stats;
}

}  // namespace kiln
