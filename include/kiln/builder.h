// Builder: turns an imported graph into an Engine for one backend.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kiln/engine.h"
#include "kiln/graph.h"
#include "kiln/profile.h"
#include "kiln/status.h"

namespace kiln {

struct BuildConfig {
  BackendKind backend = BackendKind::kCpu;
  // Run the graph passes (constant folding, fusion, ...).
  bool optimize = true;
  // Shape ranges the engine must accept; empty: any shape the model allows.
  std::vector<OptimizationProfile> profiles;
  // One profile per batch size (e.g. 1, 8, 32, 128), added to `profiles`.
  std::vector<int64_t> batch_buckets;
  // float32 (default), float16 or bfloat16: the precision float32 layers run in.
  DataType precision = DataType::kFloat32;
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
