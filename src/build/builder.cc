#include "kiln/builder.h"

#include <chrono>

#include "build/tactic_selection.h"
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

// One point (min, opt or max) of a profile, with static inputs at their declared shape.
Expected<InputShapes> profile_point(const OptimizationProfile& profile, const Graph& graph,
                                    Dims ProfileRange::*point) {
  InputShapes shapes;
  for (Value* v : graph.inputs()) {
    auto it = profile.inputs.find(v->name);
    if (it != profile.inputs.end()) {
      shapes[v->name] = it->second.*point;
    } else if (v->shape.is_static()) {
      shapes[v->name] = v->shape.known_dims();
    } else {
      return invalid_argument("profile gives no shape for dynamic input '" + v->name + "'");
    }
  }
  return shapes;
}

Expected<InputShapes> max_shapes(const OptimizationProfile& profile, const Graph& graph) {
  return profile_point(profile, graph, &ProfileRange::max);
}

// Asks the backend to choose tactics at every profile's shapes, with the
// timing cache file read before and written after.
Status select_tactics(Graph& graph, const Backend& backend, const std::vector<OptimizationProfile>& profiles,
                      const std::vector<InputShapes>& static_shapes, const BuildConfig& config,
                      std::chrono::steady_clock::time_point start) {
  if (!config.time_tactics || !backend.has_tactics()) return ok_status();
  TacticProgress progress(config.progress, start);
  TacticSelection selection;
  selection.allow_tf32 = config.allow_tf32;
  selection.progress = &progress;
  for (size_t i = 0; i < profiles.size(); ++i) {
    ProfileShapes shapes;
    shapes.index = i;
    KILN_ASSIGN_OR_RETURN(shapes.min, profile_point(profiles[i], graph, &ProfileRange::min));
    KILN_ASSIGN_OR_RETURN(shapes.opt, profile_point(profiles[i], graph, &ProfileRange::opt));
    KILN_ASSIGN_OR_RETURN(shapes.max, profile_point(profiles[i], graph, &ProfileRange::max));
    selection.profiles.push_back(std::move(shapes));
  }
  for (const InputShapes& shapes : static_shapes) selection.profiles.push_back(ProfileShapes{0, shapes, shapes, shapes});
  TimingCache cache;
  if (!config.timing_cache.empty()) {
    std::string warning;
    cache = TimingCache::load(config.timing_cache, &warning);
    if (!warning.empty()) progress.warning(warning);
  }
  selection.cache = &cache;
  KILN_RETURN_IF_ERROR(backend.select_tactics(graph, selection));
  if (!config.timing_cache.empty() && cache.modified()) {
    // The engine is good without the cache file: a failed write is a warning.
    Status saved = cache.save(config.timing_cache);
    if (!saved.ok()) progress.warning(saved.message() + "; the timing cache was not updated");
  }
  return ok_status();
}

// Runs each layer in the build's precision, in its forced one, or in float32
// where the backend cannot run it lower; says which layers fell back.
Status choose_layer_precisions(Graph& graph, const Backend& backend, const BuildConfig& config,
                               std::chrono::steady_clock::time_point start) {
  PrecisionPolicy policy;
  policy.default_precision = config.precision;
  policy.layers = config.layer_precisions;
  policy.supports = [&backend](const Node& node, const std::vector<TensorInfo>& inputs) {
    return backend.supports(node, inputs);
  };
  KILN_ASSIGN_OR_RETURN(PrecisionReport report, assign_float_precision(graph, policy));
  if (!report.clamped.empty()) {
    std::string message = std::to_string(report.clamped.size()) + " weight" +
                          (report.clamped.size() == 1 ? " has" : "s have") +
                          " values beyond " + dtype_name(config.precision) + "'s range, clamped to its largest finite value: ";
    for (size_t i = 0; i < report.clamped.size() && i < 5; ++i) message += (i ? "; " : "") + report.clamped[i];
    if (report.clamped.size() > 5) message += "; ...";
    TacticProgress(config.progress, start).warning(message);
  }
  if (report.fallbacks.empty()) return ok_status();
  std::string message = std::to_string(report.fallbacks.size()) + " layer" +
                        (report.fallbacks.size() == 1 ? "" : "s") + " run in float32 instead of " +
                        dtype_name(config.precision) + " (the " + backend_kind_name(config.backend) +
                        " backend does not run them lower): ";
  for (size_t i = 0; i < report.fallbacks.size() && i < 5; ++i) message += (i ? "; " : "") + report.fallbacks[i];
  if (report.fallbacks.size() > 5) message += "; ...";
  TacticProgress(config.progress, start).warning(message);
  return ok_status();
}

}  // namespace

Expected<std::shared_ptr<Engine>> Builder::build(std::unique_ptr<Graph> graph, const BuildConfig& config) {
  const auto start = std::chrono::steady_clock::now();
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
  if (config.precision != DataType::kFloat32 || !config.layer_precisions.empty()) {
    KILN_RETURN_IF_ERROR(choose_layer_precisions(*graph, *backend, config, start));
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
  KILN_RETURN_IF_ERROR(select_tactics(*graph, *backend, profiles,
                                       profiles.empty() ? planned : std::vector<InputShapes>{}, config, start));
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
  config.time_tactics = false;  // the plan holds the tactics chosen when it was built
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
