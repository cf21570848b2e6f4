#include "kiln/builder.h"

#include "ir/shape_inference.h"
#include "kiln/onnx.h"
#include "kiln/plan.h"
#include "passes/passes.h"
#include "runtime/backend.h"
#include "runtime/shape_plan.h"

namespace kiln {
namespace {

std::vector<IoDesc> graph_inputs(const Graph& graph) {
  std::vector<IoDesc> out;
  for (Value* v : graph.inputs()) out.push_back({v->name, v->dtype, v->shape});
  return out;
}

// Max shapes of a profile, with static inputs at their declared shape.
Expected<InputShapes> max_shapes(const OptimizationProfile& profile, const Graph& graph) {
  InputShapes shapes;
  for (Value* v : graph.inputs()) {
    auto it = profile.inputs.find(v->name);
    if (it != profile.inputs.end()) {
      shapes[v->name] = it->second.max;
    } else if (v->shape.is_static()) {
      shapes[v->name] = v->shape.known_dims();
    } else {
      return invalid_argument("profile gives no shape for dynamic input '" + v->name + "'");
    }
  }
  return shapes;
}

}  // namespace

Expected<std::shared_ptr<Engine>> Builder::build(std::unique_ptr<Graph> graph, const BuildConfig& config) {
  if (!graph) return invalid_argument("no graph to build");
  KILN_ASSIGN_OR_RETURN(const Backend* backend, get_backend(config.backend));
  const OpRegistry& registry = OpRegistry::global();
  for (const auto& node : graph->nodes()) {
    KILN_RETURN_IF_ERROR(registry.validate(*node));
  }
  std::vector<OptimizationProfile> profiles = config.profiles;
  if (!config.batch_buckets.empty()) {
    KILN_ASSIGN_OR_RETURN(auto buckets, profiles_for_batch_buckets(graph_inputs(*graph), config.batch_buckets));
    profiles.insert(profiles.end(), buckets.begin(), buckets.end());
  }
  for (size_t i = 0; i < profiles.size(); ++i) {
    Status s = validate_profile(profiles[i], graph_inputs(*graph));
    if (!s.ok()) return s.with_context("profile " + std::to_string(i));
  }
  KILN_RETURN_IF_ERROR(infer_graph_shapes(*graph));
  if (config.optimize) {
    KILN_RETURN_IF_ERROR(run_default_passes(*graph));
    KILN_RETURN_IF_ERROR(infer_graph_shapes(*graph));
  }
  if (config.precision != DataType::kFloat32) {
    KILN_RETURN_IF_ERROR(convert_float_precision(*graph, config.precision));
    KILN_RETURN_IF_ERROR(infer_graph_shapes(*graph));
  }
  // After the precision change, so filters are permuted in their final type.
  if (config.optimize && config.channels_last && backend->prefers_channels_last(config.precision)) {
    KILN_ASSIGN_OR_RETURN(PassStats layout, choose_channels_last(*graph));
    if (layout.changed > 0) KILN_RETURN_IF_ERROR(infer_graph_shapes(*graph));
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
  // Activation memory at each profile's max shapes (or the static shapes).
  std::vector<ProfileMemory> memory;
  std::vector<InputShapes> planned;
  if (profiles.empty()) {
    bool all_static = true;
    InputShapes shapes;
    for (Value* v : graph->inputs()) {
      all_static &= v->shape.is_static();
      if (all_static) shapes[v->name] = v->shape.known_dims();
    }
    if (all_static) planned.push_back(shapes);
  }
  for (const auto& p : profiles) {
    KILN_ASSIGN_OR_RETURN(InputShapes shapes, max_shapes(p, *graph));
    planned.push_back(shapes);
  }
  for (const InputShapes& shapes : planned) {
    auto m = activation_memory(*graph, shapes);
    if (!m.ok()) return m.status().with_context("planning activation memory");
    memory.push_back(ProfileMemory{m->arena_bytes, m->total_bytes});
  }
  return std::make_shared<Engine>(std::move(graph), backend, std::move(profiles), std::move(memory));
}

Status save_engine(const Engine& engine, const std::string& path) {
  PlanMetadata meta;
  meta.backend = engine.backend_kind();
  meta.device_architecture = engine.backend_kind() == BackendKind::kCpu ? "x86_64" : "cuda";
  meta.profiles = engine.profiles();
  meta.properties["producer"] = "kiln";
  return save_plan(engine.graph(), meta, path);
}

Expected<std::shared_ptr<Engine>> load_engine(const std::string& path, std::optional<BackendKind> backend) {
  KILN_ASSIGN_OR_RETURN(LoadedPlan plan, load_plan(path, backend));
  BuildConfig config;
  config.backend = plan.metadata.backend;
  config.optimize = false;  // the plan holds the optimised graph
  config.profiles = plan.metadata.profiles;
  auto engine = Builder::build(std::move(plan.graph), config);
  if (!engine.ok()) return engine.status().with_context("plan '" + path + "'");
  return engine;
}

Expected<std::shared_ptr<Engine>> load_or_build(const std::string& path, const BuildConfig& config) {
  if (!looks_like_onnx(path)) return load_engine(path, config.backend);
  KILN_ASSIGN_OR_RETURN(auto graph, import_onnx_file(path));
  return Builder::build(std::move(graph), config);
}

}  // namespace kiln
