#include "serve/http_frontend.h"

#include <httplib.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <future>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "serve/http_infer_codec.h"

namespace kiln::serve {

struct HttpFrontend::State {
  httplib::Server http;
  std::thread thread;
  int port = 0;
  std::once_flag stopped;
};

namespace {

using nlohmann::json;
using State = HttpFrontend::State;

constexpr const char* kJson = "application/json";

// Model routes: group 1 is the model, group 2 the optional version.
const std::string kModel = R"(/v2/models/([^/]+)(?:/versions/([^/]+))?)";

void send_error(httplib::Response& res, const Status& status) {
  res.status = http_status_for(status);
  res.set_content(error_json(status.message()), kJson);
}

void send_json(httplib::Response& res, const json& body) {
  res.status = 200;
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), kJson);
}

std::string model_of(const httplib::Request& req) { return req.matches[1].str(); }
std::string version_of(const httplib::Request& req) { return req.matches.size() > 2 ? req.matches[2].str() : ""; }

json tensor_list(const std::vector<TensorMetadata>& tensors) {
  json list = json::array();
  for (const TensorMetadata& t : tensors)
    list.push_back({{"name", t.name}, {"datatype", t.datatype}, {"shape", t.shape}});
  return list;
}

json duration(const DurationStat& stat) { return {{"count", stat.count}, {"ns", stat.ns}}; }

json statistics_json(const std::vector<ModelStatistics>& all) {
  json models = json::array();
  for (const ModelStatistics& s : all) {
    json batches = json::array();
    for (const ModelStatistics::BatchStat& b : s.batch_stats) {
      batches.push_back({{"batch_size", b.batch_size},
                         {"compute_input", duration({b.compute_infer.count, 0})},
                         {"compute_infer", duration(b.compute_infer)},
                         {"compute_output", duration({b.compute_infer.count, 0})}});
    }
    models.push_back({{"name", s.name},
                      {"version", s.version},
                      {"last_inference", s.last_inference_ms},
                      {"inference_count", s.inference_count},
                      {"execution_count", s.execution_count},
                      {"inference_stats",
                       {{"success", duration(s.success)},
                        {"fail", duration(s.fail)},
                        {"queue", duration(s.queue)},
                        {"compute_input", duration(s.compute_input)},
                        {"compute_infer", duration(s.compute_infer)},
                        {"compute_output", duration(s.compute_output)},
                        {"cache_hit", duration({})},
                        {"cache_miss", duration({})}}},
                      {"batch_stats", batches}});
  }
  return {{"model_stats", models}};
}

// The byte count in header `name`, when the request carries one.
Expected<std::optional<size_t>> byte_count_header(const httplib::Request& req, const char* name) {
  if (!req.has_header(name)) return std::optional<size_t>();
  std::string text = req.get_header_value(name);
  size_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) {
    return invalid_argument(std::string("header ") + name + " is '" + text + "', expected a byte count");
  }
  return std::optional<size_t>(value);
}

void handle_infer(InferenceServer& server, const httplib::Request& req, const std::string& body_text,
                  httplib::Response& res) {
  auto json_length = byte_count_header(req, kInferenceHeaderContentLength);
  if (!json_length.ok()) return send_error(res, json_length.status());
  // Binary inputs view the body instead of copying it: this thread waits
  // below for the response, and the batcher lets go of a request's inputs
  // before it answers, so the body outlives every tensor that views it.
  auto parsed = parse_infer_request(body_text, *json_length, BinaryInputs::kBorrow);
  if (!parsed.ok()) return send_error(res, parsed.status().with_context("model '" + model_of(req) + "'"));
  HttpInferRequest& http_request = *parsed;
  InferRequest request;
  request.model = model_of(req);
  request.version = version_of(req);
  request.id = http_request.request.id;
  request.inputs = std::move(http_request.request.inputs);
  request.shared_memory_inputs = std::move(http_request.request.shared_memory_inputs);
  request.requested_outputs = http_request.request.requested_outputs;
  request.shared_memory_outputs = std::move(http_request.request.shared_memory_outputs);
  request.priority = http_request.request.priority;
  request.timeout_us = http_request.request.timeout_us;

  // The callback owns the promise: it may still be inside set_value when this
  // thread wakes up and returns.
  auto promise = std::make_shared<std::promise<Expected<InferResponse>>>();
  std::future<Expected<InferResponse>> future = promise->get_future();
  Status queued = server.infer(
      std::move(request), [promise](Expected<InferResponse> response) { promise->set_value(std::move(response)); });
  if (!queued.ok()) return send_error(res, queued);
  Expected<InferResponse> response = future.get();
  if (!response.ok()) return send_error(res, response.status());
  auto body = encode_infer_response(*response, binary_choice(http_request, *response));
  if (!body.ok()) return send_error(res, body.status());
  res.status = 200;
  if (body->json_length) {
    res.set_header(kInferenceHeaderContentLength, std::to_string(*body->json_length));
    res.set_content(std::move(body->content), "application/octet-stream");
  } else {
    res.set_content(std::move(body->content), kJson);
  }
}

json region_list(const std::vector<SystemSharedMemoryRegionStatus>& regions) {
  json list = json::array();
  for (const SystemSharedMemoryRegionStatus& r : regions) {
    list.push_back({{"name", r.name}, {"key", r.key}, {"offset", r.offset}, {"byte_size", r.byte_size}});
  }
  return list;
}

// Body of a register call: {"key": "/name", "offset": 0, "byte_size": N}; the offset may be left out.
Status register_region(SystemSharedMemoryRegistry& registry, const std::string& name, const std::string& body) {
  const std::string what = "registering shared memory region '" + name + "': ";
  json root = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!root.is_object()) {
    return invalid_argument(what + "the body must be a JSON object {\"key\", \"offset\", \"byte_size\"}");
  }
  if (!root.contains("key") || !root["key"].is_string()) return invalid_argument(what + "needs a string 'key'");
  if (!root.contains("byte_size")) return invalid_argument(what + "needs 'byte_size'");
  auto size_field = [&](const char* field) -> Expected<uint64_t> {
    if (!root.contains(field)) return uint64_t{0};
    if (!root[field].is_number_unsigned()) return invalid_argument(what + "'" + field + "' must be an integer >= 0");
    return root[field].get<uint64_t>();
  };
  KILN_ASSIGN_OR_RETURN(uint64_t offset, size_field("offset"));
  KILN_ASSIGN_OR_RETURN(uint64_t byte_size, size_field("byte_size"));
  return registry.register_region(name, root["key"].get<std::string>(), offset, byte_size);
}

// The system shared memory extension, and a clear refusal of the CUDA one.
void add_shared_memory_routes(httplib::Server& http, InferenceServer& server) {
  const std::string system = "/v2/systemsharedmemory";
  const std::string region = system + "/region/([^/]+)";
  auto status = [&server](const std::string& name, httplib::Response& res) {
    auto regions = server.system_shared_memory().status(name);
    if (!regions.ok()) return send_error(res, regions.status());
    send_json(res, region_list(*regions));
  };
  http.Get(system + "/status", [status](const httplib::Request&, httplib::Response& res) { status("", res); });
  http.Get(region + "/status",
           [status](const httplib::Request& req, httplib::Response& res) { status(req.matches[1].str(), res); });
  http.Post(region + "/register", [&server](const httplib::Request& req, httplib::Response& res) {
    Status registered = register_region(server.system_shared_memory(), req.matches[1].str(), req.body);
    if (!registered.ok()) return send_error(res, registered);
    res.status = 200;
  });
  http.Post(system + "/unregister", [&server](const httplib::Request&, httplib::Response& res) {
    server.system_shared_memory().unregister("");
    res.status = 200;
  });
  http.Post(region + "/unregister", [&server](const httplib::Request& req, httplib::Response& res) {
    server.system_shared_memory().unregister(req.matches[1].str());
    res.status = 200;
  });

  auto unsupported = [](const httplib::Request&, httplib::Response& res) {
    send_error(res, cuda_shared_memory_unsupported());
  };
  const std::string cuda = "/v2/cudasharedmemory";
  http.Get(cuda + "/status", unsupported);
  http.Get(cuda + "/region/([^/]+)/status", unsupported);
  http.Post(cuda + "/region/([^/]+)/register", unsupported);
  http.Post(cuda + "/unregister", unsupported);
  http.Post(cuda + "/region/([^/]+)/unregister", unsupported);
}

void add_routes(httplib::Server& http, InferenceServer& server, size_t max_body_bytes) {
  http.Get("/v2/health/live",
           [&server](const httplib::Request&, httplib::Response& res) { res.status = server.live() ? 200 : 503; });
  http.Get("/v2/health/ready",
           [&server](const httplib::Request&, httplib::Response& res) { res.status = server.ready() ? 200 : 503; });
  http.Get(R"(/v2/?)", [&server](const httplib::Request&, httplib::Response& res) {
    ServerMetadata metadata = server.server_metadata();
    send_json(res, {{"name", metadata.name}, {"version", metadata.version}, {"extensions", metadata.extensions}});
  });
  // Before the model routes: "stats" would otherwise be taken for a model name.
  http.Get("/v2/models/stats", [&server](const httplib::Request&, httplib::Response& res) {
    auto stats = server.statistics("", "");
    if (!stats.ok()) return send_error(res, stats.status());
    send_json(res, statistics_json(*stats));
  });
  http.Get(kModel, [&server](const httplib::Request& req, httplib::Response& res) {
    auto metadata = server.model_metadata(model_of(req), version_of(req));
    if (!metadata.ok()) return send_error(res, metadata.status());
    send_json(res, {{"name", metadata->name},
                    {"versions", metadata->versions},
                    {"platform", metadata->platform},
                    {"inputs", tensor_list(metadata->inputs)},
                    {"outputs", tensor_list(metadata->outputs)}});
  });
  http.Get(kModel + "/ready", [&server](const httplib::Request& req, httplib::Response& res) {
    auto metadata = server.model_metadata(model_of(req), version_of(req));
    if (!metadata.ok()) return send_error(res, metadata.status());
    res.status = server.model_ready(model_of(req), version_of(req)) ? 200 : 503;
  });
  http.Get(kModel + "/config", [&server](const httplib::Request& req, httplib::Response& res) {
    auto config = server.model_config(model_of(req), version_of(req));
    if (!config.ok()) return send_error(res, config.status());
    res.status = 200;
    res.set_content(config->config_json, kJson);
  });
  http.Get(kModel + "/stats", [&server](const httplib::Request& req, httplib::Response& res) {
    auto stats = server.statistics(model_of(req), version_of(req));
    if (!stats.ok()) return send_error(res, stats.status());
    send_json(res, statistics_json(*stats));
  });
  // The body is read into one buffer sized from Content-Length up front:
  // appending a tensor of megabytes to a growing string would copy it again
  // at every doubling. The size is trusted only up to the body limit, which
  // the library enforces while reading.
  http.Post(kModel + "/infer", [&server, max_body_bytes](const httplib::Request& req, httplib::Response& res,
                                                         const httplib::ContentReader& content) {
    std::string body;
    if (auto length = byte_count_header(req, "Content-Length"); length.ok() && *length) {
      body.reserve(std::min(**length, max_body_bytes));
    }
    const bool read = content([&body](const char* data, size_t length) {
      body.append(data, length);
      return true;
    });
    if (!read) {
      // The library set the status (413 past --http-max-body-bytes); the
      // error handler words it.
      if (res.status < 400) res.status = 400;
      return;
    }
    handle_infer(server, req, body, res);
  });
  add_shared_memory_routes(http, server);
}

// Gives every error the library answers by itself (no route, body too large,
// unreadable request, an escaped exception) the same {"error": ...} body.
void add_error_handlers(httplib::Server& http, size_t max_body_bytes) {
  httplib::Server::HandlerWithResponse handler = [max_body_bytes](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    std::string message;
    switch (res.status) {
      case 404:
        message = "no route for " + req.method + " " + req.path;
        break;
      case 405:
        message = "method " + req.method + " not allowed for " + req.path;
        break;
      case 413:
        message = "request body is larger than the limit of " + std::to_string(max_body_bytes) + " bytes";
        break;
      case 503:
        message = "not ready";
        break;
      default:
        message = "HTTP " + std::to_string(res.status) + " for " + req.method + " " + req.path;
        break;
    }
    res.set_content(error_json(message), kJson);
    return httplib::Server::HandlerResponse::Handled;
  };
  http.set_error_handler(std::move(handler));
  http.set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr error) {
    std::string message = "internal error";
    try {
      if (error) std::rethrow_exception(error);
    } catch (const std::exception& e) {
      message += std::string(": ") + e.what();
    } catch (...) {
    }
    res.status = 500;
    res.set_content(error_json(message + " (" + req.method + " " + req.path + ")"), kJson);
  });
}

Status listen(State& state, const std::string& host, int port, const std::string& what) {
  if (port < 0 || port > 65535) return invalid_argument(what + " port " + std::to_string(port) + " is out of range");
  if (port == 0) {
    state.port = state.http.bind_to_any_port(host);
    if (state.port < 0) return unavailable("cannot listen for " + what + " on " + host + " (any port)");
  } else {
    if (!state.http.bind_to_port(host, port)) {
      return unavailable("cannot listen for " + what + " on " + host + ":" + std::to_string(port) +
                         " (in use, or the address is not local)");
    }
    state.port = port;
  }
  state.thread = std::thread([&state] { state.http.listen_after_bind(); });
  // stop() is a no-op until the accept loop runs, so wait for it: a front end
  // that is stopped right after start() must not leave the loop running.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!state.http.is_running()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return internal_error(what + " on " + host + ":" + std::to_string(state.port) + " did not start");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return ok_status();
}

void stop_state(State& state) {
  std::call_once(state.stopped, [&state] {
    state.http.stop();
    if (state.thread.joinable()) state.thread.join();
  });
}

}  // namespace

Expected<std::unique_ptr<HttpFrontend>> HttpFrontend::start(InferenceServer& server, const HttpOptions& options) {
  if (options.threads < 1) return invalid_argument("HTTP threads must be >= 1, got " + std::to_string(options.threads));
  auto state = std::make_unique<State>();
  httplib::Server& http = state->http;
  const int threads = options.threads;
  http.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  http.set_payload_max_length(options.max_body_bytes);
  // Small responses go out at once instead of waiting for the client's ACK.
  http.set_tcp_nodelay(true);
  // Clients keep their connections for many requests (tritonclient pools them).
  http.set_keep_alive_max_count(100000);
  add_routes(http, server, options.max_body_bytes);
  add_error_handlers(http, options.max_body_bytes);
  Status listening = listen(*state, options.host, options.port, "HTTP");
  if (!listening.ok()) {
    stop_state(*state);
    return listening;
  }
  return std::unique_ptr<HttpFrontend>(new HttpFrontend(std::move(state)));
}

HttpFrontend::HttpFrontend(std::unique_ptr<State> state) : state_(std::move(state)) {}
HttpFrontend::~HttpFrontend() { stop(); }
int HttpFrontend::port() const { return state_->port; }
void HttpFrontend::stop() { stop_state(*state_); }

Expected<std::unique_ptr<MetricsFrontend>> MetricsFrontend::start(InferenceServer& server, const std::string& host,
                                                                  int port) {
  auto state = std::make_unique<State>();
  httplib::Server& http = state->http;
  http.new_task_queue = [] { return new httplib::ThreadPool(4); };
  http.Get("/metrics", [&server](const httplib::Request&, httplib::Response& res) {
    res.status = 200;
    res.set_content(server.prometheus_metrics(), "text/plain; version=0.0.4; charset=utf-8");
  });
  add_error_handlers(http, 0);
  Status listening = listen(*state, host, port, "metrics");
  if (!listening.ok()) {
    stop_state(*state);
    return listening;
  }
  return std::unique_ptr<MetricsFrontend>(new MetricsFrontend(std::move(state)));
}

MetricsFrontend::MetricsFrontend(std::unique_ptr<HttpFrontend::State> state) : state_(std::move(state)) {}
MetricsFrontend::~MetricsFrontend() { stop(); }
int MetricsFrontend::port() const { return state_->port; }
void MetricsFrontend::stop() { stop_state(*state_); }

}  // namespace kiln::serve
