// kiln-loadgen: a KServe v2 gRPC load generator in C++, to measure a server
// (kiln serve, or any KServe v2 server) without a Python client's own limits.
//
// C threads, each with its own channel, send ModelInfer requests back to back
// for T seconds (after a warm-up), every request carrying `--batch` items of
// random data shaped from the model's metadata as raw_input_contents, or, with
// `--shared-memory system`, in a system shared memory region that each thread
// creates and registers once (inputs and outputs then stay out of the
// messages, as with Triton's shared memory clients). Reports
// requests/s, items/s, client-side latency percentiles (request sent to
// response received), the server's average batch (ModelStatistics:
// inference_count over execution_count during the run) and errors; exits 1
// when any request failed. With `--http-url` the infer requests go to the
// HTTP/REST endpoint instead (binary tensor extension, one keep-alive
// connection per thread); metadata, statistics and shared memory registration
// still use gRPC at --url.
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <sys/mman.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "http_infer.h"
#include "kiln/bench.h"
#include "serve/inference_server.h"
#include "serve/proto/kserve_v2.grpc.pb.h"

namespace {

using Clock = std::chrono::steady_clock;
using Stub = inference::GRPCInferenceService::Stub;

struct Options {
  std::string url = "127.0.0.1:8001";
  std::string model;
  int concurrency = 8;
  double duration_s = 10;
  double warmup_s = 1;
  int64_t batch = 1;
  std::string shared_memory = "none";  // "none" or "system"
  std::string http_url;                // infer over HTTP/REST at host:port; empty: gRPC
  std::string json_path;
};

// A POSIX shared memory object of one client thread, mapped here and
// registered with the server as a region of the same name; the destructor
// unregisters, unmaps and unlinks it.
class SharedMemoryRegion {
 public:
  static kiln::Expected<std::unique_ptr<SharedMemoryRegion>> create(Stub& stub, const std::string& name, size_t bytes) {
    auto region = std::unique_ptr<SharedMemoryRegion>(new SharedMemoryRegion(stub, name, bytes));
    const std::string key = "/" + name;
    const int fd = shm_open(key.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
    if (fd < 0) return kiln::io_error("shm_open('" + key + "'): " + std::strerror(errno));
    region->linked_ = true;
    // Reserved, not just sized: a sparse object larger than /dev/shm's free
    // space would map fine and then kill whoever touches the missing pages
    // (SIGBUS), this process or the server writing outputs.
    const int reserved = posix_fallocate(fd, 0, static_cast<off_t>(bytes));
    if (reserved != 0) {
      close(fd);
      return kiln::resource_exhausted("reserving " + std::to_string(bytes) + " bytes of shared memory '" + key +
                                      "': " + std::strerror(reserved) + " (is /dev/shm large enough?)");
    }
    void* mapping = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    const int error = errno;
    close(fd);
    if (mapping == MAP_FAILED) {
      return kiln::io_error("mapping " + std::to_string(bytes) + " bytes of '" + key + "': " + std::strerror(error));
    }
    region->data_ = static_cast<char*>(mapping);
    inference::SystemSharedMemoryRegisterRequest request;
    request.set_name(name);
    request.set_key(key);
    request.set_byte_size(bytes);
    inference::SystemSharedMemoryRegisterResponse response;
    grpc::ClientContext context;
    grpc::Status status = stub.SystemSharedMemoryRegister(&context, request, &response);
    if (!status.ok()) {
      return kiln::unavailable("registering shared memory region '" + name + "': " + status.error_message());
    }
    region->registered_ = true;
    return region;
  }

  ~SharedMemoryRegion() {
    if (registered_) {
      inference::SystemSharedMemoryUnregisterRequest request;
      request.set_name(name_);
      inference::SystemSharedMemoryUnregisterResponse response;
      grpc::ClientContext context;
      stub_.SystemSharedMemoryUnregister(&context, request, &response);
    }
    if (data_) munmap(data_, bytes_);
    if (linked_) shm_unlink(("/" + name_).c_str());
  }

  char* data() const { return data_; }
  const std::string& name() const { return name_; }

 private:
  SharedMemoryRegion(Stub& stub, std::string name, size_t bytes) : stub_(stub), name_(std::move(name)), bytes_(bytes) {}
  Stub& stub_;
  std::string name_;
  size_t bytes_;
  char* data_ = nullptr;
  bool linked_ = false;
  bool registered_ = false;
};

// Names the `bytes` at `offset` of `region` in a tensor's parameters.
template <typename TensorMessage>
void refer_to_shared_memory(TensorMessage* tensor, const std::string& region, size_t offset, size_t bytes) {
  auto& parameters = *tensor->mutable_parameters();
  parameters["shared_memory_region"].set_string_param(region);
  parameters["shared_memory_offset"].set_int64_param(static_cast<int64_t>(offset));
  parameters["shared_memory_byte_size"].set_int64_param(static_cast<int64_t>(bytes));
}

std::unique_ptr<Stub> connect(const std::string& url, int client) {
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(-1);
  arguments.SetMaxSendMessageSize(-1);
  // Channels with different arguments do not share a connection: one TCP
  // connection per client thread, as separate client processes would have.
  arguments.SetInt("kiln.loadgen.client", client);
  return inference::GRPCInferenceService::NewStub(
      grpc::CreateCustomChannel(url, grpc::InsecureChannelCredentials(), arguments));
}

// Dims of a metadata tensor with the batch axis (-1 at axis 0) set to --batch.
kiln::Expected<kiln::Dims> request_dims(const inference::ModelMetadataResponse::TensorMetadata& tensor,
                                        const Options& options, const char* what) {
  kiln::Dims dims(tensor.shape().begin(), tensor.shape().end());
  for (size_t axis = 0; axis < dims.size(); ++axis) {
    if (dims[axis] >= 0) continue;
    if (axis != 0) {
      return kiln::invalid_argument(std::string(what) + " '" + tensor.name() + "' has a dynamic axis " +
                                    std::to_string(axis) + " besides the batch axis; kiln-loadgen cannot size it");
    }
    dims[axis] = options.batch;
  }
  return dims;
}

// What one client thread sends: the request, and with shared memory the
// region its inputs and outputs live in.
struct ClientRequest {
  inference::ModelInferRequest message;
  std::unique_ptr<SharedMemoryRegion> region;
};

// The request of client `client`: inputs from the metadata, axis 0 = --batch,
// random contents (never all zeros) from Kiln's benchmark input generator,
// either as raw_input_contents or written once into the client's own
// registered region (inputs first, then room for every output).
kiln::Expected<ClientRequest> make_request(Stub& stub, const inference::ModelMetadataResponse& metadata,
                                           const Options& options, int client) {
  ClientRequest out;
  inference::ModelInferRequest& request = out.message;
  request.set_model_name(options.model);
  uint64_t seed = 1000 * static_cast<uint64_t>(client + 1);
  std::vector<kiln::Tensor> inputs;
  size_t output_bytes = 0;
  for (const auto& input : metadata.inputs()) {
    KILN_ASSIGN_OR_RETURN(kiln::DataType dtype, kiln::serve::parse_kserve_datatype(input.datatype()));
    if (dtype == kiln::DataType::kString) {
      return kiln::unimplemented("input '" + input.name() + "' is BYTES; kiln-loadgen sends numeric tensors only");
    }
    KILN_ASSIGN_OR_RETURN(kiln::Dims dims, request_dims(input, options, "input"));
    KILN_ASSIGN_OR_RETURN(kiln::Tensor data, kiln::random_tensor(dtype, dims, seed++));
    auto* tensor = request.add_inputs();
    tensor->set_name(input.name());
    tensor->set_datatype(input.datatype());
    for (int64_t d : dims) tensor->add_shape(d);
    inputs.push_back(std::move(data));
  }
  if (options.shared_memory == "none") {
    for (const kiln::Tensor& data : inputs) {
      request.add_raw_input_contents(static_cast<const char*>(data.raw_data()), data.byte_size());
    }
    return out;
  }
  std::vector<size_t> output_sizes;
  for (const auto& output : metadata.outputs()) {
    KILN_ASSIGN_OR_RETURN(kiln::DataType dtype, kiln::serve::parse_kserve_datatype(output.datatype()));
    if (dtype == kiln::DataType::kString) {
      return kiln::unimplemented("output '" + output.name() + "' is BYTES, which shared memory cannot hold");
    }
    KILN_ASSIGN_OR_RETURN(kiln::Dims dims, request_dims(output, options, "output"));
    output_sizes.push_back(static_cast<size_t>(kiln::element_count(dims)) * kiln::dtype_size(dtype));
    output_bytes += output_sizes.back();
  }
  size_t input_bytes = 0;
  for (const kiln::Tensor& data : inputs) input_bytes += data.byte_size();
  const std::string name = "kiln_loadgen_" + std::to_string(getpid()) + "_" + std::to_string(client);
  KILN_ASSIGN_OR_RETURN(out.region, SharedMemoryRegion::create(stub, name, input_bytes + output_bytes));
  size_t offset = 0;
  for (int i = 0; i < request.inputs_size(); ++i) {
    std::memcpy(out.region->data() + offset, inputs[i].raw_data(), inputs[i].byte_size());
    refer_to_shared_memory(request.mutable_inputs(i), name, offset, inputs[i].byte_size());
    offset += inputs[i].byte_size();
  }
  for (int i = 0; i < metadata.outputs_size(); ++i) {
    auto* output = request.add_outputs();
    output->set_name(metadata.outputs(i).name());
    refer_to_shared_memory(output, name, offset, output_sizes[i]);
    offset += output_sizes[i];
  }
  return out;
}

// (inference_count, execution_count) of the model.
std::pair<uint64_t, uint64_t> batch_counters(Stub& stub, const std::string& model) {
  inference::ModelStatisticsRequest request;
  request.set_name(model);
  inference::ModelStatisticsResponse response;
  grpc::ClientContext context;
  if (!stub.ModelStatistics(&context, request, &response).ok() || response.model_stats_size() == 0) return {0, 0};
  return {response.model_stats(0).inference_count(), response.model_stats(0).execution_count()};
}

struct ThreadResult {
  std::vector<double> latencies_ms;
  int64_t errors = 0;
  std::string first_error;
};

// Sends requests back to back until `stop`; records only while `record`.
void client_thread(int index, const Options& options, const inference::ModelInferRequest& request,
                   const inference::ModelMetadataResponse& metadata, const std::atomic<bool>& record,
                   const std::atomic<bool>& stop, ThreadResult& result) {
  std::unique_ptr<Stub> stub;
  std::unique_ptr<kiln::loadgen::HttpInferClient> http;
  if (options.http_url.empty()) {
    stub = connect(options.url, index + 1);
  } else {
    auto client = kiln::loadgen::HttpInferClient::create(options.http_url, request, metadata);
    if (!client.ok()) {
      result.errors = 1;
      result.first_error = client.status().to_string();
      return;
    }
    http = std::move(client).value();
  }
  inference::ModelInferResponse response;
  while (!stop.load(std::memory_order_relaxed)) {
    const bool counted = record.load(std::memory_order_relaxed);
    const auto begin = Clock::now();
    std::string error;
    if (http) {
      kiln::Status status = http->infer();
      if (!status.ok()) error = status.message();
    } else {
      grpc::ClientContext context;
      grpc::Status status = stub->ModelInfer(&context, request, &response);
      if (!status.ok()) error = status.error_message();
    }
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - begin).count();
    if (!counted) continue;
    if (error.empty()) {
      result.latencies_ms.push_back(ms);
    } else {
      if (result.errors++ == 0) result.first_error = error;
    }
  }
}

int run(const Options& options) {
  std::unique_ptr<Stub> control = connect(options.url, 0);
  inference::ModelMetadataRequest metadata_request;
  metadata_request.set_name(options.model);
  inference::ModelMetadataResponse metadata;
  {
    grpc::ClientContext context;
    grpc::Status status = control->ModelMetadata(&context, metadata_request, &metadata);
    if (!status.ok()) {
      std::fprintf(stderr, "kiln-loadgen: model '%s' at %s: %s\n", options.model.c_str(), options.url.c_str(),
                   status.error_message().c_str());
      return 2;
    }
  }
  std::vector<ClientRequest> requests;
  for (int i = 0; i < options.concurrency; ++i) {
    auto request = make_request(*control, metadata, options, i);
    if (!request.ok()) {
      std::fprintf(stderr, "kiln-loadgen: %s\n", request.status().to_string().c_str());
      return 2;
    }
    requests.push_back(std::move(request).value());
  }

  std::atomic<bool> record{false}, stop{false};
  std::vector<ThreadResult> results(options.concurrency);
  std::vector<std::thread> threads;
  for (int i = 0; i < options.concurrency; ++i) {
    threads.emplace_back(client_thread, i, std::cref(options), std::cref(requests[i].message), std::cref(metadata),
                         std::cref(record), std::cref(stop), std::ref(results[i]));
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(options.warmup_s));
  const auto before = batch_counters(*control, options.model);
  const auto start = Clock::now();
  record = true;
  std::this_thread::sleep_for(std::chrono::duration<double>(options.duration_s));
  record = false;
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  const auto after = batch_counters(*control, options.model);
  stop = true;
  for (auto& t : threads) t.join();

  std::vector<double> latencies;
  int64_t errors = 0;
  std::string first_error;
  for (const ThreadResult& r : results) {
    latencies.insert(latencies.end(), r.latencies_ms.begin(), r.latencies_ms.end());
    if (r.errors && first_error.empty()) first_error = r.first_error;
    errors += r.errors;
  }
  std::sort(latencies.begin(), latencies.end());
  auto pct = [&](double p) { return latencies.empty() ? 0.0 : kiln::percentile_of_sorted(latencies, p); };
  const double infer_per_s = latencies.size() / elapsed;
  const double items_per_s = infer_per_s * static_cast<double>(options.batch);
  const uint64_t executions = after.second - before.second;
  const double average_batch = executions ? double(after.first - before.first) / double(executions) : 0.0;
  const std::string transfer = options.shared_memory == "none" ? "raw contents" : "system shared memory";
  const bool over_http = !options.http_url.empty();
  std::printf("%s over %s at %s (%s): concurrency %d, batch %lld, %.1f s\n", options.model.c_str(),
              over_http ? "http" : "grpc", over_http ? options.http_url.c_str() : options.url.c_str(),
              transfer.c_str(), options.concurrency, static_cast<long long>(options.batch), elapsed);
  std::printf("  throughput  %.1f infer/s, %.1f items/s (%zu requests)\n", infer_per_s, items_per_s, latencies.size());
  std::printf("  latency     p50 %.2f ms, p90 %.2f ms, p99 %.2f ms\n", pct(50), pct(90), pct(99));
  std::printf("  server      average batch %.2f items (%llu executions)\n", average_batch,
              static_cast<unsigned long long>(executions));
  std::printf("  errors      %lld%s%s\n", static_cast<long long>(errors), errors ? ": " : "", first_error.c_str());
  if (!options.json_path.empty()) {
    nlohmann::ordered_json json = {{"model", options.model},
                                   {"protocol", over_http ? "http" : "grpc"},
                                   {"shared_memory", options.shared_memory},
                                   {"concurrency", options.concurrency},
                                   {"batch", options.batch},
                                   {"duration_s", elapsed},
                                   {"requests", latencies.size()},
                                   {"errors", errors},
                                   {"infer_per_s", infer_per_s},
                                   {"items_per_s", items_per_s},
                                   {"latency_ms", {{"p50", pct(50)}, {"p90", pct(90)}, {"p99", pct(99)}}},
                                   {"server_avg_batch", average_batch}};
    std::ofstream(options.json_path) << json.dump(2) << "\n";
  }
  return errors == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  CLI::App app{"KServe v2 load generator (gRPC, or HTTP/REST with --http-url)"};
  app.add_option("--url", options.url, "host:port of the gRPC endpoint")->capture_default_str();
  app.add_option("--model", options.model, "model name")->required();
  app.add_option("-c,--concurrency", options.concurrency, "client threads, one request in flight each")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  app.add_option("-t,--duration", options.duration_s, "seconds of measured load")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--warmup", options.warmup_s, "seconds of load before measuring")->capture_default_str();
  app.add_option("--batch", options.batch, "items per request (axis 0 of inputs declared -1)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20))
      ->capture_default_str();
  app.add_option("--shared-memory", options.shared_memory,
                 "where tensors travel: none (in the messages) or system (a registered POSIX shared memory region "
                 "per client thread; the server must run on this host)")
      ->check(CLI::IsMember({"none", "system"}))
      ->capture_default_str();
  app.add_option("--http-url", options.http_url,
                 "host:port of the HTTP/REST endpoint: infer requests go there (binary tensor extension); metadata, "
                 "statistics and shared memory registration still use gRPC at --url");
  app.add_option("--json", options.json_path, "also write the results as JSON to this file");
  CLI11_PARSE(app, argc, argv);
  return run(options);
}
