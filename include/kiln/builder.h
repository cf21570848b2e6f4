// Builder: turns an imported graph into an Engine for one backend.
#pragma once

#include <memory>

#include "kiln/engine.h"
#include "kiln/graph.h"
#include "kiln/status.h"

namespace kiln {

struct BuildConfig {
  BackendKind backend = BackendKind::kCpu;
  // Run the graph passes (constant folding, fusion, ...).
  bool optimize = true;
};

class Builder {
 public:
  // Validates every node against the op table and the backend (errors name
  // the node, op type, domain and opset), infers types and shapes, and returns
  // an engine that owns the graph.
  static Expected<std::shared_ptr<Engine>> build(std::unique_ptr<Graph> graph, const BuildConfig& config = {});
};

}  // namespace kiln
