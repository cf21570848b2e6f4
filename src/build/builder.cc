#include "kiln/builder.h"

#include "ir/shape_inference.h"
#include "passes/passes.h"
#include "runtime/backend.h"

namespace kiln {

Expected<std::shared_ptr<Engine>> Builder::build(std::unique_ptr<Graph> graph, const BuildConfig& config) {
  if (!graph) return invalid_argument("no graph to build");
  KILN_ASSIGN_OR_RETURN(const Backend* backend, get_backend(config.backend));
  const OpRegistry& registry = OpRegistry::global();
  for (const auto& node : graph->nodes()) {
    KILN_RETURN_IF_ERROR(registry.validate(*node));
  }
  KILN_RETURN_IF_ERROR(infer_graph_shapes(*graph));
  if (config.optimize) {
    KILN_RETURN_IF_ERROR(run_default_passes(*graph));
    KILN_RETURN_IF_ERROR(infer_graph_shapes(*graph));
  }
  for (const auto& node : graph->nodes()) {
    std::vector<TensorInfo> inputs;
    for (Value* in : node->inputs) inputs.push_back(in ? info_of(*in) : TensorInfo{});
    KILN_RETURN_IF_ERROR(backend->supports(*node, inputs));
  }
  for (Value* out : graph->outputs()) {
    if (!out->producer && !out->constant) {
      bool is_input = false;
      for (Value* in : graph->inputs()) is_input |= in == out;
      if (!is_input) return invalid_argument("graph output '" + out->name + "' is produced by no node");
    }
  }
  return std::make_shared<Engine>(std::move(graph), backend);
}

}  // namespace kiln
