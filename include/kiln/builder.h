// Builder: turns an imported graph into an Engine for one backend.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kiln/engine.h"
#include "kiln/graph.h"
#include "kiln/profile.h"
#include "kiln/status.h"

namespace kiln {

// What a build reports while it chooses tactics (CUDA: it times every
// convolution and matmul candidate on each profile's opt shapes). Delivered on
// the building thread, in order.
struct BuildProgress {
  enum class Event {
    kTacticsStart,  // layers_total is known
    kLayerDone,     // one layer of one profile decided: layer, profile, tactic, tactic_ms, from_cache
    kTacticsDone,   // the totals
    kWarning,       // message: something the build worked around (an unusable timing cache file, ...)
  };
  Event event = Event::kTacticsStart;
  // A layer is one node for one profile.
  size_t layers_done = 0;
  size_t layers_total = 0;
  size_t layers_timed = 0;  // candidates measured on the device
  size_t cache_hits = 0;    // taken from the timing cache
  double elapsed_seconds = 0;  // since the build started
  std::string layer;        // node name (kLayerDone)
  std::string op_type;
  size_t profile = 0;
  std::string tactic;       // the chosen tactic, described for people; empty: none fits, the heuristic decides at run time
  double tactic_ms = 0;     // its median time at the opt shapes
  bool from_cache = false;
  std::string message;      // kWarning
};
using BuildProgressFn = std::function<void(const BuildProgress&)>;

// A precision forced on the layers whose node names match `pattern` (a glob:
// `*` any run of characters, `?` one character), like trtexec's
// --layerPrecisions. Names are those of the built graph (`kiln inspect`).
struct LayerPrecision {
  std::string pattern;
  DataType precision = DataType::kFloat32;  // float32, float16 or bfloat16
};

struct BuildConfig {
  BackendKind backend = BackendKind::kCpu;
  // Run the graph passes (constant folding, fusion, ...).
  bool optimize = true;
  // Shape ranges the engine must accept; empty: any shape the model allows.
  std::vector<OptimizationProfile> profiles;
  // One profile per batch size (e.g. 1, 8, 32, 128), added to `profiles`.
  std::vector<int64_t> batch_buckets;
  // float32 (default), float16 or bfloat16: the precision float32 layers run
  // in. The builder chooses per layer within it: a layer the backend cannot
  // run at this precision runs in float32 (the build warns which and why), and
  // data-movement layers keep the precision their input arrives in.
  DataType precision = DataType::kFloat32;
  // Per-layer precisions that override `precision` (later entries win).
  std::vector<LayerPrecision> layer_precisions;
  // Backends that have tactics (CUDA) time each convolution's and matmul's
  // candidate algorithms at every profile's opt shapes and keep the fastest
  // that is also valid at the profile's min and max shapes; the choice is
  // stored in the node (attribute "kiln.tactics") and so in the plan. Off:
  // kernels choose by heuristic when a context prepares its shapes (as they
  // also do for an engine without profiles whose inputs are dynamic: it has
  // no opt shapes to time).
  bool time_tactics = true;
  // Timing cache file (tactic choices of earlier builds, by device and layer
  // signature): read before timing (a missing file is empty; an unusable one is
  // a warning and is rewritten) and written back when new layers were timed.
  // Empty: no file. Ignored by backends without tactics.
  std::string timing_cache;
  // float32 layers are timed for contexts that allow TF32 (the default of
  // ExecutionOptions); a context that disallows it runs the heuristic's choice.
  bool allow_tf32 = true;
  // Optional: progress and warnings of the build. Empty: warnings go to stderr.
  BuildProgressFn progress;
  // Let the builder store convolution regions channels-last (NHWC) where the
  // backend prefers it at this precision (CUDA float16/bfloat16). Off: every
  // activation stays NCHW.
  bool channels_last = true;
};

class Builder {
 public:
  // Validates every node against the op table and the backend (errors name
  // the node, op type, domain and opset), infers types and shapes, and returns
  // an engine that owns the graph.
  static Expected<std::shared_ptr<Engine>> build(std::unique_ptr<Graph> graph, const BuildConfig& config = {});
};

// Writes an engine as a plan file (.kiln): graph after the passes, weights,
// profiles and backend, so another process loads it without rebuilding.
Status save_engine(const Engine& engine, const std::string& path);
// Loads a plan file and makes an engine from it; the plan's backend must match
// `backend` when given.
Expected<std::shared_ptr<Engine>> load_engine(const std::string& path, std::optional<BackendKind> backend = {});
// Loads a plan (by content) or imports and builds an ONNX model.
Expected<std::shared_ptr<Engine>> load_or_build(const std::string& path, const BuildConfig& config);

}  // namespace kiln
