#include "kiln/engine.h"

#include "runtime/backend.h"

namespace kiln {

const char* backend_kind_name(BackendKind kind) {
  return kind == BackendKind::kCpu ? "cpu" : "cuda";
}

Expected<BackendKind> parse_backend_kind(const std::string& name) {
  if (name == "cpu") return BackendKind::kCpu;
  if (name == "cuda" || name == "gpu") return BackendKind::kCuda;
  return invalid_argument("unknown backend '" + name + "' (expected cpu or cuda)");
}

Engine::Engine(std::unique_ptr<Graph> graph, const Backend* backend)
    : graph_(std::move(graph)), backend_(backend) {
  for (Value* v : graph_->inputs()) inputs_.push_back({v->name, v->dtype, v->shape});
  for (Value* v : graph_->outputs()) outputs_.push_back({v->name, v->dtype, v->shape});
}

Engine::~Engine() = default;

BackendKind Engine::backend_kind() const { return backend_->kind(); }

const IoDesc* Engine::find_input(const std::string& name) const {
  for (const IoDesc& d : inputs_) {
    if (d.name == name) return &d;
  }
  return nullptr;
}

Status Engine::validate_inputs(const TensorMap& inputs) const {
  for (const auto& [name, tensor] : inputs) {
    if (!find_input(name)) {
      std::string known;
      for (const IoDesc& d : inputs_) known += (known.empty() ? "" : ", ") + d.name;
      return not_found("model has no input named '" + name + "' (inputs: " + known + ")");
    }
  }
  for (const IoDesc& d : inputs_) {
    auto it = inputs.find(d.name);
    if (it == inputs.end()) return invalid_argument("input '" + d.name + "' is missing");
    const Tensor& t = it->second;
    if (d.dtype != DataType::kUndefined && t.dtype() != d.dtype) {
      return invalid_argument("input '" + d.name + "' has type " + dtype_name(t.dtype()) + ", the model expects " +
                              dtype_name(d.dtype));
    }
    if (!d.shape.accepts(t.dims())) {
      return invalid_argument("input '" + d.name + "' has shape " + dims_to_string(t.dims()) +
                              ", the model expects " + d.shape.to_string());
    }
  }
  return ok_status();
}

Expected<std::unique_ptr<Context>> Engine::create_context() const {
  KILN_ASSIGN_OR_RETURN(auto executor, backend_->create_executor(*graph_));
  return std::make_unique<Context>(std::move(executor), this);
}

Context::Context(std::unique_ptr<BackendExecutor> executor, const Engine* engine)
    : executor_(std::move(executor)), engine_(engine) {}

Context::~Context() = default;

Expected<std::vector<Tensor>> Context::execute(const TensorMap& inputs) {
  KILN_RETURN_IF_ERROR(engine_->validate_inputs(inputs));
  return executor_->execute(inputs);
}

}  // namespace kiln
