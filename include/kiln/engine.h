// An Engine is a built model: immutable, shareable across threads. Contexts
// created from it each own their working memory and run one request at a time.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kiln/graph.h"
#include "kiln/io.h"
#include "kiln/profile.h"
#include "kiln/status.h"
#include "kiln/tensor.h"
#include "kiln/types.h"

namespace kiln {

class Context;
class BackendExecutor;
class Backend;

// Activation memory of one profile at its max shapes.
struct ProfileMemory {
  size_t arena_bytes = 0;  // one planned arena, reused across value lifetimes
  size_t total_bytes = 0;  // what one buffer per activation would cost
};

class Engine {
 public:
  // Built by Builder::build; owns the optimised graph and its weights.
  Engine(std::unique_ptr<Graph> graph, const Backend* backend, std::vector<OptimizationProfile> profiles = {},
         std::vector<ProfileMemory> memory = {});
  ~Engine();

  // Profiles the engine was built for (empty: any shape the model allows).
  const std::vector<OptimizationProfile>& profiles() const { return profiles_; }
  const std::vector<ProfileMemory>& profile_memory() const { return memory_; }

  const std::vector<IoDesc>& inputs() const { return inputs_; }
  const std::vector<IoDesc>& outputs() const { return outputs_; }
  const IoDesc* find_input(const std::string& name) const;
  BackendKind backend_kind() const;
  const Graph& graph() const { return *graph_; }

  // A new execution context. Thread-safe; each context is single-threaded.
  Expected<std::unique_ptr<Context>> create_context(const ExecutionOptions& options = {}) const;

  // Checks names, types and shapes of a request against the declared inputs;
  // errors name the input, the shape given and the shape declared.
  Status validate_inputs(const TensorMap& inputs) const;

 private:
  std::unique_ptr<Graph> graph_;
  const Backend* backend_;
  std::vector<IoDesc> inputs_;
  std::vector<IoDesc> outputs_;
  std::vector<OptimizationProfile> profiles_;
  std::vector<ProfileMemory> memory_;
};

// How a request maps onto a profile: which one, and the batch it is padded to
// when that profile's batch axis is static (min = max) and larger than the request's.
struct ProfileChoice {
  size_t profile = 0;
  int64_t padded_batch = -1;  // -1: no padding
};

// Where the time of one Context::execute went. Wall-clock phases on the host
// (std::chrono) and, on the CUDA backend, device phases between CUDA events
// recorded on the context's stream. A phase a backend does not have is 0
// (the CPU backend has no H2D/D2H copies: its compute_ms is the graph run).
struct QueryTimings {
  bool valid = false;      // false until a query has run
  double enqueue_ms = 0;   // host time to issue the query's copies and kernels (or graph launch)
  double h2d_ms = 0;       // device: input copies, first H2D start to last H2D end
  double compute_ms = 0;   // device: kernels (CPU: running the graph)
  double d2h_ms = 0;       // device: output copies
  double host_wall_ms = 0; // whole execute call, host clock
};

// One layer's share of the queries a context ran with
// ExecutionOptions::profile_layers.
struct LayerTime {
  std::string name;     // node name
  std::string op;       // op type
  int64_t runs = 0;     // queries that ran it
  double total_ms = 0;  // summed over those queries
};

class Context {
 public:
  explicit Context(std::unique_ptr<BackendExecutor> executor, const Engine* engine);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  // Runs the model on host tensors and returns the outputs in the order of
  // Engine::outputs(). Blocks until outputs are in host memory. The profile is
  // chosen from the inputs' shapes (the tightest that covers them); a batch
  // smaller than a static-batch profile's is padded and the outputs sliced.
  Expected<std::vector<Tensor>> execute(const TensorMap& inputs);

  // Chooses the profile for these shapes without running; an error names the
  // input, its shape and every profile's min/max when none fits.
  Expected<ProfileChoice> choose_profile(const InputShapes& shapes) const;
  // Profile used by the last execute (0 when the engine has none).
  size_t active_profile() const { return active_profile_; }
  // Phase timings of the last execute (valid = false before the first one).
  QueryTimings last_timings() const;
  // Per-layer times since the context was created, in execution order
  // (empty unless it was created with profile_layers).
  std::vector<LayerTime> layer_profile() const;

  const Engine& engine() const { return *engine_; }

 private:
  std::unique_ptr<BackendExecutor> executor_;
  const Engine* engine_;
  size_t active_profile_ = 0;
};

}  // namespace kiln
