#include "kiln/engine.h"

#include <algorithm>
#include <cstring>
#include <optional>

#include "kiln/host_memory.h"
#include "runtime/backend.h"

namespace kiln {

const char* backend_kind_name(BackendKind kind) { return kind == BackendKind::kCpu ? "cpu" : "cuda"; }

Expected<BackendKind> parse_backend_kind(const std::string& name) {
  if (name == "cpu") return BackendKind::kCpu;
  if (name == "cuda" || name == "gpu") return BackendKind::kCuda;
  return invalid_argument("unknown backend '" + name + "' (expected cpu or cuda)");
}

Engine::Engine(std::unique_ptr<Graph> graph, const Backend* backend, std::vector<OptimizationProfile> profiles,
               std::vector<ProfileMemory> memory)
    : graph_(std::move(graph)), backend_(backend), profiles_(std::move(profiles)), memory_(std::move(memory)) {
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
      return invalid_argument("input '" + d.name + "' has shape " + dims_to_string(t.dims()) + ", the model expects " +
                              d.shape.to_string());
    }
  }
  return ok_status();
}

Expected<std::unique_ptr<Context>> Engine::create_context(const ExecutionOptions& options) const {
  KILN_ASSIGN_OR_RETURN(auto executor, backend_->create_executor(*graph_, options));
  return std::make_unique<Context>(std::move(executor), this);
}

Context::Context(std::unique_ptr<BackendExecutor> executor, const Engine* engine)
    : executor_(std::move(executor)), engine_(engine) {}

Context::~Context() = default;

QueryTimings Context::last_timings() const { return executor_->last_timings(); }
std::vector<LayerTime> Context::layer_profile() const { return executor_->layer_profile(); }

Expected<ProfileChoice> Context::choose_profile(const InputShapes& shapes) const {
  const auto& profiles = engine_->profiles();
  if (profiles.empty()) return ProfileChoice{};
  auto exact = select_profile(profiles, shapes);
  if (exact.ok()) return ProfileChoice{*exact, -1};
  // A static-batch profile (min = max on axis 0) takes a smaller batch padded up to it.
  int64_t batch = -1;
  for (const auto& [name, dims] : shapes) {
    if (dims.empty()) return exact.status();
    if (batch >= 0 && dims[0] != batch) return exact.status();
    batch = dims[0];
  }
  std::optional<ProfileChoice> best;
  for (size_t i = 0; i < profiles.size(); ++i) {
    int64_t target = -1;
    bool fits = true;
    for (const auto& [name, range] : profiles[i].inputs) {
      auto it = shapes.find(name);
      if (it == shapes.end() || it->second.size() != range.min.size() || range.min.empty()) {
        fits = false;
        break;
      }
      if (range.min[0] != range.max[0] || range.min[0] < batch) {
        fits = false;
        break;
      }
      if (target >= 0 && target != range.min[0]) {
        fits = false;
        break;
      }
      target = range.min[0];
      for (size_t a = 1; a < range.min.size(); ++a) {
        if (it->second[a] < range.min[a] || it->second[a] > range.max[a]) fits = false;
      }
    }
    if (fits && target >= 0 && (!best || target < best->padded_batch)) best = ProfileChoice{i, target};
  }
  if (!best) return exact.status();
  return *best;
}

namespace {

// On the CUDA backend the padded copy is pinned, so it goes to the device without staging.
Tensor pad_batch(const Tensor& t, int64_t batch, bool pinned) {
  Dims dims = t.dims();
  dims[0] = batch;
  Tensor out = pinned ? PinnedMemoryPool::global().allocate(t.dtype(), dims) : Tensor::empty(t.dtype(), dims);
  if (out.dtype() == DataType::kString) {
    std::copy(t.string_data().begin(), t.string_data().end(), out.string_data().begin());
    return out;
  }
  if (t.byte_size()) std::memcpy(out.raw_data(), t.raw_data(), t.byte_size());
  if (out.byte_size() > t.byte_size()) {
    std::memset(static_cast<char*>(out.raw_data()) + t.byte_size(), 0, out.byte_size() - t.byte_size());
  }
  return out;
}

}  // namespace

Expected<std::vector<Tensor>> Context::execute(const TensorMap& inputs) {
  KILN_RETURN_IF_ERROR(engine_->validate_inputs(inputs));
  KILN_ASSIGN_OR_RETURN(ProfileChoice choice, choose_profile(input_shapes_of(inputs)));
  active_profile_ = choice.profile;
  if (choice.padded_batch < 0) return executor_->execute(inputs);
  TensorMap padded;
  int64_t batch = 0;
  for (const auto& [name, t] : inputs) {
    batch = t.dim(0);
    padded[name] = pad_batch(t, choice.padded_batch, engine_->backend_kind() == BackendKind::kCuda);
  }
  KILN_ASSIGN_OR_RETURN(auto outputs, executor_->execute(padded));
  for (Tensor& out : outputs) {
    if (out.rank() > 0 && out.dim(0) == choice.padded_batch && out.dtype() != DataType::kString) {
      out = out.rows(0, batch);  // shares the padded buffer
    }
  }
  return outputs;
}

}  // namespace kiln
