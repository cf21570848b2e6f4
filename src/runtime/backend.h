// The seam between the runtime and a backend. A Backend decides, node by node,
// what it can run; an executor runs one engine's graph for one context.
#pragma once

#include <memory>
#include <vector>

#include "ir/op_registry.h"
#include "kiln/engine.h"
#include "kiln/graph.h"

namespace kiln {

class BackendExecutor {
 public:
  virtual ~BackendExecutor() = default;
  // Inputs were validated by the Engine; outputs in graph output order.
  virtual Expected<std::vector<Tensor>> execute(const TensorMap& inputs) = 0;
  // Phases of the last execute; backends fill what they measure.
  virtual QueryTimings last_timings() const { return {}; }
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual BackendKind kind() const = 0;
  // OK when this backend runs `node` with inputs described by `inputs`;
  // otherwise an error that names the node and the reason.
  virtual Status supports(const Node& node, const std::vector<TensorInfo>& inputs) const = 0;
  // Whether 2-D convolutions run faster channels-last (NHWC) at this compute
  // precision; the builder then runs the choose_channels_last pass.
  virtual bool prefers_channels_last(DataType precision) const {
    (void)precision;
    return false;
  }
  // `graph` outlives the executor (the Engine owns both).
  virtual Expected<std::unique_ptr<BackendExecutor>> create_executor(const Graph& graph,
                                                                     const ExecutionOptions& options) const = 0;
};

// The process-wide backend instance of a kind; error when it is not built in
// or no device is present.
Expected<const Backend*> get_backend(BackendKind kind);

const Backend* cpu_backend();

}  // namespace kiln
