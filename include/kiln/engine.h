// An Engine is a built model: immutable, shareable across threads. Contexts
// created from it each own their working memory and run one request at a time.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kiln/graph.h"
#include "kiln/status.h"
#include "kiln/tensor.h"
#include "kiln/types.h"

namespace kiln {

enum class BackendKind { kCpu, kCuda };
const char* backend_kind_name(BackendKind kind);
Expected<BackendKind> parse_backend_kind(const std::string& name);

// A graph input or output as the user sees it.
struct IoDesc {
  std::string name;
  DataType dtype = DataType::kUndefined;
  Shape shape;
};

using TensorMap = std::map<std::string, Tensor>;

class Context;
class BackendExecutor;
class Backend;

class Engine {
 public:
  // Built by Builder::build; owns the optimised graph and its weights.
  Engine(std::unique_ptr<Graph> graph, const Backend* backend);
  ~Engine();

  const std::vector<IoDesc>& inputs() const { return inputs_; }
  const std::vector<IoDesc>& outputs() const { return outputs_; }
  const IoDesc* find_input(const std::string& name) const;
  BackendKind backend_kind() const;
  const Graph& graph() const { return *graph_; }

  // A new execution context. Thread-safe; each context is single-threaded.
  Expected<std::unique_ptr<Context>> create_context() const;

  // Checks names, types and shapes of a request against the declared inputs;
  // errors name the input, the shape given and the shape declared.
  Status validate_inputs(const TensorMap& inputs) const;

 private:
  std::unique_ptr<Graph> graph_;
  const Backend* backend_;
  std::vector<IoDesc> inputs_;
  std::vector<IoDesc> outputs_;
};

class Context {
 public:
  explicit Context(std::unique_ptr<BackendExecutor> executor, const Engine* engine);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  // Runs the model on host tensors and returns the outputs in the order of
  // Engine::outputs(). Blocks until outputs are in host memory.
  Expected<std::vector<Tensor>> execute(const TensorMap& inputs);

  const Engine& engine() const { return *engine_; }

 private:
  std::unique_ptr<BackendExecutor> executor_;
  const Engine* engine_;
};

}  // namespace kiln
