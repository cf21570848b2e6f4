// InferenceServer: the models of a repository, each an engine behind its own
// dynamic batcher, and the KServe v2 operations on them.
//
// Threads: infer() runs on the front ends' threads and only validates and
// queues; `done` runs on a batcher thread. Statistics are read from the
// batchers' counters, so reading them never blocks inference.
#include "serve/inference_server.h"

#include <atomic>
#include <chrono>
#include <cstring>
#include <map>
#include <sstream>

#include "kiln/builder.h"
#include "serve/model_repository.h"

#ifndef KILN_VERSION
#define KILN_VERSION "0"
#endif

namespace kiln::serve {
namespace {

uint64_t now_ms() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

// Declared dims with -1 for every axis a request may choose (always the batch axis).
std::vector<int64_t> served_shape(const Shape& shape) {
  if (!shape.is_ranked()) return {};
  Dims dims = shape.known_dims();
  if (!dims.empty()) dims[0] = -1;
  return dims;
}

std::string shape_text(const std::vector<int64_t>& dims) {
  std::string text = "[";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i > 0) text += ',';
    text += std::to_string(dims[i]);
  }
  return text + "]";
}

std::vector<TensorMetadata> tensor_metadata(const std::vector<IoDesc>& descs) {
  std::vector<TensorMetadata> out;
  for (const IoDesc& desc : descs) out.push_back({desc.name, kserve_datatype(desc.dtype), served_shape(desc.shape)});
  return out;
}

std::string names_of(const std::vector<IoDesc>& descs) {
  std::string list;
  for (const IoDesc& desc : descs) list += (list.empty() ? "'" : ", '") + desc.name + "'";
  return list;
}

// Prometheus label values escape backslash, quote and newline.
std::string label_value(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

// One model of the repository, loaded.
struct Model {
  ModelConfig config;
  std::shared_ptr<const Engine> engine;
  ModelMetadata metadata;
  std::atomic<uint64_t> last_inference_ms{0};
  std::atomic<uint64_t> rejected_invalid{0};  // failed validation here, never reached the batcher
  // Last member: destroyed first, so callbacks of the requests it drains
  // still find the members above alive.
  std::unique_ptr<DynamicBatcher> batcher;
};

}  // namespace

struct InferenceServer::State {
  ServerOptions options;
  // Before `models`: destroyed after them, though requests in flight keep
  // their regions mapped by themselves anyway.
  SystemSharedMemoryRegistry shared_memory;
  std::map<std::string, std::unique_ptr<Model>> models;
  std::atomic<bool> shutting_down{false};

  // The model, or kNotFound naming the model (or the version it lacks).
  Expected<Model*> find(const std::string& name, const std::string& version) const {
    auto it = models.find(name);
    if (it == models.end()) return not_found("unknown model '" + name + "'");
    if (!version.empty() && version != "1") {
      return not_found("model '" + name + "' has no version '" + version + "' (available: 1)");
    }
    return it->second.get();
  }
};

namespace {

Expected<std::unique_ptr<Model>> load_model(const ServerOptions& options, const std::string& name) {
  KILN_ASSIGN_OR_RETURN(ModelConfig config, read_model_config(options.model_repository, name, options.default_backend));
  BuildConfig build;
  build.backend = config.backend;
  build.batch_buckets = config.batch_buckets;
  build.precision = config.precision;
  build.timing_cache = options.timing_cache;
  auto engine = load_or_build(config.model_file, build);
  if (!engine.ok()) return engine.status().with_context("'" + config.model_file + "'");
  auto batcher = DynamicBatcher::create(*engine, config.batching);
  if (!batcher.ok()) return batcher.status();

  auto model = std::make_unique<Model>();
  model->engine = std::move(engine).value();
  model->batcher = std::move(batcher).value();
  config.config_json = effective_config_json(config, model->batcher->options(), *model->engine);
  model->metadata.name = config.name;
  model->metadata.versions = {"1"};
  model->metadata.platform = config.platform;
  model->metadata.inputs = tensor_metadata(model->engine->inputs());
  model->metadata.outputs = tensor_metadata(model->engine->outputs());
  model->config = std::move(config);
  return model;
}

// The checks a front end's request must pass before it is queued; errors name
// the model, the input or output, and what was given against what is declared.
// Fills `output_indices` with the engine output index of each requested output.
Status validate_request(const Model& model, const InferRequest& request, std::vector<size_t>& output_indices) {
  const Engine& engine = *model.engine;
  const std::string& name = model.config.name;
  const int64_t max_batch = model.batcher->options().max_batch_size;
  int64_t batch = -1;
  std::string batch_input;
  for (const auto& [input, tensor] : request.inputs) {
    const IoDesc* desc = engine.find_input(input);
    if (desc == nullptr) {
      return invalid_argument("model '" + name + "' has no input '" + input +
                              "' (inputs: " + names_of(engine.inputs()) + ")");
    }
    std::string where = "input '" + input + "' of model '" + name + "'";
    if (tensor.dtype() != desc->dtype) {
      return invalid_argument(where + ": datatype " + kserve_datatype(tensor.dtype()) + " given, the model takes " +
                              kserve_datatype(desc->dtype));
    }
    std::vector<int64_t> declared = served_shape(desc->shape);
    const Dims& dims = tensor.dims();
    bool shape_ok = desc->shape.is_ranked() ? dims.size() == declared.size() : !dims.empty();
    for (size_t axis = 1; shape_ok && axis < declared.size(); ++axis) {
      shape_ok = declared[axis] < 0 || declared[axis] == dims[axis];
    }
    if (!shape_ok) {
      return invalid_argument(where + ": shape " + shape_text(dims) + " given, the model takes " +
                              shape_text(declared) + " (-1: any extent; axis 0 is the batch)");
    }
    if (dims[0] < 1 || (max_batch > 0 && dims[0] > max_batch)) {
      return invalid_argument(where + ": batch size " + std::to_string(dims[0]) + " (axis 0 of shape " +
                              shape_text(dims) + ") is outside [1, " + std::to_string(max_batch) +
                              "], the model's max_batch_size");
    }
    if (batch >= 0 && dims[0] != batch) {
      return invalid_argument("model '" + name + "': input '" + input + "' has batch size " + std::to_string(dims[0]) +
                              " but input '" + batch_input + "' has " + std::to_string(batch) +
                              " (axis 0 of every input is the batch)");
    }
    batch = dims[0];
    batch_input = input;
  }
  for (const IoDesc& desc : engine.inputs()) {
    if (request.inputs.count(desc.name) == 0) {
      return invalid_argument("model '" + name + "': input '" + desc.name + "' is missing");
    }
  }
  const auto& outputs = engine.outputs();
  output_indices.clear();
  if (request.requested_outputs.empty()) {
    for (size_t i = 0; i < outputs.size(); ++i) output_indices.push_back(i);
    return ok_status();
  }
  for (const std::string& requested : request.requested_outputs) {
    size_t index = 0;
    while (index < outputs.size() && outputs[index].name != requested) ++index;
    if (index == outputs.size()) {
      return invalid_argument("model '" + name + "' has no output '" + requested + "' (outputs: " + names_of(outputs) +
                              ")");
    }
    for (size_t earlier : output_indices) {
      if (earlier == index) return invalid_argument("model '" + name + "': output '" + requested + "' asked for twice");
    }
    output_indices.push_back(index);
  }
  return ok_status();
}

// Turns every shared memory input of `request` into a tensor viewing its
// region (no copy; the tensor keeps the mapping alive). The byte size must be
// exactly what the datatype and shape need.
Status resolve_shared_memory_inputs(const SystemSharedMemoryRegistry& registry, const std::string& model,
                                    InferRequest& request) {
  for (auto& [name, input] : request.shared_memory_inputs) {
    const std::string where = "input '" + name + "' of model '" + model + "'";
    if (request.inputs.count(name)) return invalid_argument(where + " is given twice");
    if (input.dtype == DataType::kString) {
      return unimplemented(where + ": BYTES tensors in shared memory are not supported; send them in the request");
    }
    const uint64_t needed = static_cast<uint64_t>(element_count(input.dims)) * dtype_size(input.dtype);
    const SharedMemoryReference& ref = input.reference;
    if (ref.byte_size != needed) {
      return invalid_argument(where + ": shared_memory_byte_size " + std::to_string(ref.byte_size) + " (region '" +
                              ref.region + "', offset " + std::to_string(ref.offset) + ") but " +
                              kserve_datatype(input.dtype) + " shape " + shape_text(input.dims) + " needs " +
                              std::to_string(needed) + " bytes");
    }
    KILN_ASSIGN_OR_RETURN(SharedMemorySpan span, registry.span(ref.region, ref.offset, ref.byte_size, where));
    if (reinterpret_cast<uintptr_t>(span.data) % dtype_size(input.dtype) != 0) {
      // Kernels read elements at their natural alignment; an odd offset is
      // legal on the wire, so such an input pays one copy instead.
      Tensor aligned = Tensor::empty(input.dtype, input.dims);
      if (needed) std::memcpy(aligned.raw_data(), span.data, needed);
      request.inputs.emplace(name, std::move(aligned));
    } else {
      request.inputs.emplace(name, Tensor::view(input.dtype, input.dims, span.data, std::move(span.keepalive)));
    }
  }
  request.shared_memory_inputs.clear();
  return ok_status();
}

// Where each shared memory output goes, resolved before the request is queued
// so that a bad region fails the request at once and a region unregistered
// meanwhile stays mapped until the output is written.
struct SharedMemoryOutput {
  SharedMemoryReference reference;
  SharedMemorySpan span;
};

Expected<std::map<std::string, SharedMemoryOutput>> resolve_shared_memory_outputs(
    const SystemSharedMemoryRegistry& registry, const Model& model, const InferRequest& request) {
  std::map<std::string, SharedMemoryOutput> out;
  for (const auto& [name, ref] : request.shared_memory_outputs) {
    const std::string where = "output '" + name + "' of model '" + model.config.name + "'";
    for (const IoDesc& desc : model.engine->outputs()) {
      if (desc.name == name && desc.dtype == DataType::kString) {
        return unimplemented(where + ": BYTES tensors in shared memory are not supported; leave it in the response");
      }
    }
    KILN_ASSIGN_OR_RETURN(SharedMemorySpan span, registry.span(ref.region, ref.offset, ref.byte_size, where));
    out.emplace(name, SharedMemoryOutput{ref, std::move(span)});
  }
  return out;
}

// Copies an output into its shared memory; `reference.byte_size` becomes the bytes written.
Status write_shared_memory_output(const std::string& model, const std::string& name, const Tensor& tensor,
                                  SharedMemoryOutput& destination) {
  const std::string where = "output '" + name + "' of model '" + model + "'";
  if (tensor.dtype() == DataType::kString) {
    return unimplemented(where + ": BYTES tensors in shared memory are not supported; leave it in the response");
  }
  const SharedMemoryReference& ref = destination.reference;
  if (tensor.byte_size() > destination.span.byte_size) {
    return invalid_argument(where + " is " + kserve_datatype(tensor.dtype()) + " shape " + shape_text(tensor.dims()) +
                            " (" + std::to_string(tensor.byte_size()) + " bytes) but shared_memory_byte_size gives " +
                            std::to_string(ref.byte_size) + " bytes of region '" + ref.region + "' at offset " +
                            std::to_string(ref.offset));
  }
  if (tensor.byte_size()) std::memcpy(destination.span.data, tensor.raw_data(), tensor.byte_size());
  destination.reference.byte_size = tensor.byte_size();
  return ok_status();
}

ModelStatistics statistics_of(const Model& model) {
  BatcherStats stats = model.batcher->stats();
  ModelStatistics out;
  out.name = model.config.name;
  out.last_inference_ms = model.last_inference_ms.load();
  out.inference_count = stats.inference_count;
  out.execution_count = stats.execution_count;
  out.pending = stats.pending;
  out.success = {stats.requests_ok, stats.request_ns};
  out.fail = {stats.requests_failed + model.rejected_invalid.load(), 0};
  out.queue = {stats.requests_ok, stats.queue_ns};
  out.compute_infer = {stats.execution_count, stats.compute_ns};
  for (const auto& [size, batches] : stats.batch_size_histogram) {
    ModelStatistics::BatchStat batch;
    batch.batch_size = size;
    auto compute = stats.batch_compute_ns.find(size);
    batch.compute_infer = {batches, compute == stats.batch_compute_ns.end() ? 0 : compute->second};
    out.batch_stats.push_back(batch);
  }
  return out;
}

}  // namespace

Expected<std::unique_ptr<InferenceServer>> InferenceServer::create(const ServerOptions& options) {
  KILN_ASSIGN_OR_RETURN(std::vector<std::string> names, list_models(options.model_repository, options.models));
  if (names.empty()) return not_found("model repository '" + options.model_repository + "' holds no model directory");
  auto state = std::make_unique<State>();
  state->options = options;
  for (const std::string& name : names) {
    auto model = load_model(options, name);
    if (!model.ok()) return model.status().with_context("model '" + name + "'");
    state->models.emplace(name, std::move(model).value());
  }
  return std::unique_ptr<InferenceServer>(new InferenceServer(std::move(state)));
}

InferenceServer::InferenceServer(std::unique_ptr<State> state) : state_(std::move(state)) {}

InferenceServer::~InferenceServer() {
  state_->shutting_down = true;
  // Each batcher runs what is queued, then joins; the callbacks reach the
  // front ends, which the caller stops before destroying the server.
  state_->models.clear();
}

bool InferenceServer::live() const { return true; }

bool InferenceServer::ready() const { return !state_->shutting_down && !state_->models.empty(); }

ServerMetadata InferenceServer::server_metadata() const {
  ServerMetadata metadata;
  metadata.version = KILN_VERSION;
  metadata.extensions = {"binary_tensor_data", "model_configuration", "schedule_policy", "statistics",
                         "system_shared_memory"};
  return metadata;
}

bool InferenceServer::model_ready(const std::string& model, const std::string& version) const {
  return !state_->shutting_down && state_->find(model, version).ok();
}

Expected<ModelMetadata> InferenceServer::model_metadata(const std::string& model, const std::string& version) const {
  KILN_ASSIGN_OR_RETURN(Model * found, state_->find(model, version));
  return found->metadata;
}

Expected<ModelConfig> InferenceServer::model_config(const std::string& model, const std::string& version) const {
  KILN_ASSIGN_OR_RETURN(Model * found, state_->find(model, version));
  return found->config;
}

std::vector<std::string> InferenceServer::model_names() const {
  std::vector<std::string> names;
  for (const auto& [name, model] : state_->models) names.push_back(name);
  return names;
}

Status InferenceServer::infer(InferRequest request, InferCallback done) {
  if (state_->shutting_down) return unavailable("the server is shutting down");
  KILN_ASSIGN_OR_RETURN(Model * model, state_->find(request.model, request.version));
  std::vector<size_t> output_indices;
  std::map<std::string, SharedMemoryOutput> shared_memory_outputs;
  Status valid = [&]() -> Status {
    KILN_RETURN_IF_ERROR(resolve_shared_memory_inputs(state_->shared_memory, model->config.name, request));
    KILN_RETURN_IF_ERROR(validate_request(*model, request, output_indices));
    KILN_ASSIGN_OR_RETURN(shared_memory_outputs, resolve_shared_memory_outputs(state_->shared_memory, *model, request));
    return ok_status();
  }();
  if (!valid.ok()) {
    ++model->rejected_invalid;
    return valid;
  }
  auto respond = [model, output_indices, id = request.id, shared_memory_outputs = std::move(shared_memory_outputs),
                  done = std::move(done)](Expected<Outputs> outputs) mutable {
    if (!outputs.ok()) {
      done(outputs.status().with_context("model '" + model->config.name + "'"));
      return;
    }
    InferResponse response;
    response.model = model->config.name;
    response.id = id;
    const auto& descs = model->engine->outputs();
    for (size_t index : output_indices) {
      if (index >= outputs->size()) {
        done(internal_error("model '" + model->config.name + "': the batcher returned " +
                            std::to_string(outputs->size()) + " outputs, expected " + std::to_string(descs.size())));
        return;
      }
      const std::string& name = descs[index].name;
      const Tensor& tensor = (*outputs)[index];
      if (auto shared = shared_memory_outputs.find(name); shared != shared_memory_outputs.end()) {
        Status written = write_shared_memory_output(model->config.name, name, tensor, shared->second);
        if (!written.ok()) {
          done(written);
          return;
        }
        response.shared_memory_outputs.emplace(name, shared->second.reference);
      }
      response.outputs.emplace_back(name, tensor);
    }
    model->last_inference_ms = now_ms();
    done(std::move(response));
  };
  BatchRequestOptions options;
  options.priority = request.priority;
  options.timeout_us = request.timeout_us;
  Status queued = model->batcher->submit(std::move(request.inputs), std::move(respond), options);
  if (!queued.ok()) return queued.with_context("model '" + model->config.name + "'");
  return ok_status();
}

Expected<std::vector<ModelStatistics>> InferenceServer::statistics(const std::string& model,
                                                                   const std::string& version) const {
  std::vector<ModelStatistics> out;
  if (model.empty()) {
    for (const auto& [name, found] : state_->models) out.push_back(statistics_of(*found));
    return out;
  }
  KILN_ASSIGN_OR_RETURN(Model * found, state_->find(model, version));
  out.push_back(statistics_of(*found));
  return out;
}

SystemSharedMemoryRegistry& InferenceServer::system_shared_memory() { return state_->shared_memory; }

std::string InferenceServer::prometheus_metrics() const {
  struct Metric {
    const char* name;
    const char* type;
    const char* help;
    uint64_t (*value)(const ModelStatistics&);
  };
  static const Metric kMetrics[] = {
      {"nv_inference_request_success", "counter", "Number of successful inference requests, all batch sizes",
       [](const ModelStatistics& s) { return s.success.count; }},
      {"nv_inference_request_failure", "counter", "Number of failed inference requests, all batch sizes",
       [](const ModelStatistics& s) { return s.fail.count; }},
      {"nv_inference_count", "counter", "Number of inferences performed (items, not requests)",
       [](const ModelStatistics& s) { return s.inference_count; }},
      {"nv_inference_exec_count", "counter", "Number of model executions performed (batches)",
       [](const ModelStatistics& s) { return s.execution_count; }},
      {"nv_inference_request_duration_us", "counter",
       "Cumulative inference request duration in microseconds (successful requests, queue and compute)",
       [](const ModelStatistics& s) { return s.success.ns / 1000; }},
      {"nv_inference_queue_duration_us", "counter", "Cumulative inference queuing duration in microseconds",
       [](const ModelStatistics& s) { return s.queue.ns / 1000; }},
      {"nv_inference_compute_infer_duration_us", "counter",
       "Cumulative batch compute duration in microseconds (inputs and outputs in host memory)",
       [](const ModelStatistics& s) { return s.compute_infer.ns / 1000; }},
      {"nv_inference_pending_request_count", "gauge", "Instantaneous number of requests waiting in the queue",
       [](const ModelStatistics& s) { return s.pending; }},
  };
  std::vector<ModelStatistics> all;
  for (const auto& [name, model] : state_->models) all.push_back(statistics_of(*model));
  std::ostringstream out;
  for (const Metric& metric : kMetrics) {
    out << "# HELP " << metric.name << " " << metric.help << "\n# TYPE " << metric.name << " " << metric.type << "\n";
    for (const ModelStatistics& stats : all) {
      out << metric.name << "{model=\"" << label_value(stats.name) << "\",version=\"" << stats.version << "\"} "
          << metric.value(stats) << "\n";
    }
  }
  return out.str();
}

}  // namespace kiln::serve
