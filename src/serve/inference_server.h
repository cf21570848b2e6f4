// The protocol-independent core of `kiln serve`: a model repository loaded
// into engines and dynamic batchers, and the KServe v2 operations on it. The
// HTTP/REST front end (http_frontend.*) and the gRPC front end
// (grpc_frontend.*) only translate between their wire formats and these calls,
// so both behave identically.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kiln/batcher.h"
#include "kiln/status.h"
#include "kiln/tensor.h"
#include "serve/system_shared_memory.h"

namespace kiln::serve {

// ---- model repository ------------------------------------------------------
//
// <repository>/<model name>/config.json   optional settings (below)
// <repository>/<model name>/model.kiln    a plan, or
// <repository>/<model name>/model.onnx    built when the server loads it
//
// config.json: {"max_batch_size": 32, "instances": 2, "backend": "cpu"|"cuda",
//   "precision": "fp32"|"fp16"|"bf16", "batch_buckets": [1, 8, 32],
//   "dynamic_batching": {"preferred_batch_size": [8, 32], "max_queue_delay_microseconds": 100,
//     "priority_levels": 1, "default_priority_level": 1, "max_queue_size": 1024,
//     "default_timeout_microseconds": 0, "preserve_ordering": false}}
// Unknown keys and wrong types are load errors naming the file and the key.

struct ModelConfig {
  std::string name;
  std::string platform;    // "kiln_plan" or "onnx"
  std::string model_file;  // absolute path of model.kiln / model.onnx
  BackendKind backend = BackendKind::kCpu;
  DataType precision = DataType::kFloat32;
  std::vector<int64_t> batch_buckets;  // ONNX models: profiles to build (default: 1 and max_batch_size)
  BatcherOptions batching;             // max_batch_size, instances and the dynamic_batching block
  std::string config_json;             // the effective configuration, as served by the config endpoint
};

struct ServerOptions {
  std::string model_repository;
  BackendKind default_backend = BackendKind::kCpu;  // for models whose config names none
  std::string timing_cache;                         // passed to builds of ONNX models ("" = none)
  std::vector<std::string> models;                  // load only these (empty: every model directory)
};

// ---- KServe v2 operations ---------------------------------------------------

struct TensorMetadata {
  std::string name;
  std::string datatype;        // KServe name: "FP32", "INT64", "BYTES", ...
  std::vector<int64_t> shape;  // -1 for a dynamic axis (including the batch axis)
};

struct ModelMetadata {
  std::string name;
  std::vector<std::string> versions;  // always {"1"}
  std::string platform;
  std::vector<TensorMetadata> inputs, outputs;
};

struct ServerMetadata {
  std::string name = "kiln";
  std::string version;
  std::vector<std::string> extensions;
};

// A tensor's bytes in a registered system shared memory region: the tensor
// parameters shared_memory_region, shared_memory_offset (default 0) and
// shared_memory_byte_size.
struct SharedMemoryReference {
  std::string region;
  uint64_t offset = 0;
  uint64_t byte_size = 0;
};

struct SharedMemoryInput {
  DataType dtype = DataType::kUndefined;
  Dims dims;
  SharedMemoryReference reference;
};

struct InferRequest {
  std::string model;
  std::string version;  // "" or "1"
  std::string id;       // echoed in the response
  TensorMap inputs;
  // Inputs whose bytes are in shared memory (never also in `inputs`); infer()
  // turns each into a tensor viewing the region, without a copy.
  std::map<std::string, SharedMemoryInput> shared_memory_inputs;
  std::vector<std::string> requested_outputs;  // empty: all, in engine order
  // Requested outputs to be written into shared memory instead of returned.
  std::map<std::string, SharedMemoryReference> shared_memory_outputs;
  int priority = 0;
  int64_t timeout_us = 0;
};

struct InferResponse {
  std::string model;
  std::string version = "1";
  std::string id;
  std::vector<std::pair<std::string, Tensor>> outputs;  // requested order
  // Outputs already written into shared memory, with byte_size the bytes
  // written: the front ends send their datatype, shape and these parameters
  // but not their data.
  std::map<std::string, SharedMemoryReference> shared_memory_outputs;
};

using InferCallback = std::function<void(Expected<InferResponse>)>;

struct DurationStat {
  uint64_t count = 0;
  uint64_t ns = 0;
};

// Cumulative since the model was loaded. success: requests and their
// submit-to-response time; fail: requests that failed (rejected as invalid,
// queue full, timed out, failed to run; ns 0); queue: requests and their time
// waiting for a batch; compute_infer: batches and their run time (inputs in
// host memory to outputs in host memory, so compute_input and compute_output
// stay 0: their time is inside compute_infer).
struct ModelStatistics {
  std::string name;
  std::string version = "1";
  uint64_t last_inference_ms = 0;  // ms since the epoch
  uint64_t inference_count = 0;    // items
  uint64_t execution_count = 0;    // batches
  uint64_t pending = 0;            // requests queued now
  DurationStat success, fail, queue, compute_input, compute_infer, compute_output;
  struct BatchStat {
    int64_t batch_size = 0;
    DurationStat compute_infer;
  };
  std::vector<BatchStat> batch_stats;
};

class InferenceServer {
 public:
  // Loads every model of the repository; an error names the model directory
  // and the reason. A repository with no loadable model is an error.
  static Expected<std::unique_ptr<InferenceServer>> create(const ServerOptions& options);
  ~InferenceServer();

  bool live() const;
  bool ready() const;  // every model loaded and ready
  ServerMetadata server_metadata() const;
  // version "" means the latest (the only) version; errors: kNotFound naming the model.
  bool model_ready(const std::string& model, const std::string& version) const;
  Expected<ModelMetadata> model_metadata(const std::string& model, const std::string& version) const;
  Expected<ModelConfig> model_config(const std::string& model, const std::string& version) const;
  std::vector<std::string> model_names() const;

  // Validates the request (unknown model -> kNotFound; unknown or missing
  // input, wrong datatype or shape, unknown requested output, unknown shared
  // memory region, a shared memory range past the region's end or of the
  // wrong size -> kInvalidArgument, each naming the thing) and returns that
  // error without calling `done`;
  // otherwise `done` runs exactly once on a server thread (queue full ->
  // kResourceExhausted, timed out -> kDeadlineExceeded, shutting down -> kUnavailable).
  Status infer(InferRequest request, InferCallback done);

  // model "" : every model.
  Expected<std::vector<ModelStatistics>> statistics(const std::string& model, const std::string& version) const;
  // Prometheus text exposition: nv_inference_request_success/failure,
  // nv_inference_count, nv_inference_exec_count, nv_inference_queue_duration_us,
  // nv_inference_compute_infer_duration_us, nv_inference_request_duration_us,
  // nv_inference_pending_request_count (labels model, version).
  std::string prometheus_metrics() const;

  // The system shared memory regions requests may name (thread-safe).
  SystemSharedMemoryRegistry& system_shared_memory();

 private:
  struct State;
  explicit InferenceServer(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// KServe datatype names <-> Kiln dtypes ("FP32" <-> float32, "BYTES" <-> string ...).
const char* kserve_datatype(DataType dtype);
Expected<DataType> parse_kserve_datatype(const std::string& name);

// HTTP status / gRPC status code (grpc::StatusCode numbering) for an error.
int http_status_for(const Status& status);
int grpc_code_for(const Status& status);

}  // namespace kiln::serve
