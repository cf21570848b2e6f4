// The seam between the runtime and a backend. A Backend decides, node by node,
// what it can run; an executor runs one engine's graph for one context.
#pragma once

#include <memory>
#include <vector>

#include "build/tactic_selection.h"
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
  // Accumulated per-layer times (ExecutionOptions::profile_layers), execution order.
  virtual std::vector<LayerTime> layer_profile() const { return {}; }
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual BackendKind kind() const = 0;
  // OK when this backend runs `node` with inputs described by `inputs`;
  // otherwise an error that names the node and the reason.
  virtual Status supports(const Node& node, const std::vector<TensorInfo>& inputs) const = 0;
  // True when select_tactics chooses anything (the builder then reads and
  // writes the timing cache); the CPU backend has nothing to choose.
  virtual bool has_tactics() const { return false; }
  // Build time, after the passes and support checks: for every node with
  // several candidate kernels, measures them at each profile's opt shapes and
  // records the choice in the node (build/tactic_record.h), using and filling
  // the timing cache. Errors name the node and profile.
  virtual Status select_tactics(Graph& graph, TacticSelection& selection) const { return ok_status(); }
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
