// The KServe v2 HTTP/REST front end of an InferenceServer, and the Prometheus
// metrics endpoint. Routes (as Triton serves them):
//
//   GET  /v2/health/live, /v2/health/ready        200, or 503 when not ready
//   GET  /v2                                      server metadata
//   GET  /v2/models/stats                         statistics of every model
//   GET  /v2/models/M[/versions/V]                model metadata
//   GET  /v2/models/M[/versions/V]/ready          200, or 503 / 404
//   GET  /v2/models/M[/versions/V]/config         the effective model configuration
//   GET  /v2/models/M[/versions/V]/stats          statistics
//   POST /v2/models/M[/versions/V]/infer          inference (JSON or binary tensors: http_infer_codec.h)
//
//   metrics port: GET /metrics                    Prometheus text exposition
//
// Errors are {"error": "<message>"} with the status of http_status_for();
// a body over the size limit gets 413.
//
// Each connection is served by one thread of a pool; an infer request waits on
// that thread for the batcher's callback, so the pool size bounds the requests
// in flight (and thus how full batches can get).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "kiln/status.h"
#include "serve/inference_server.h"

namespace kiln::serve {

struct HttpOptions {
  std::string host = "0.0.0.0";
  int port = 8000;  // 0: any free port (see port())
  int threads = 64;
  size_t max_body_bytes = size_t{256} << 20;
};

class HttpFrontend {
 public:
  // Binds the port and starts serving on background threads. `server` must
  // outlive the front end. Errors name the host and port.
  static Expected<std::unique_ptr<HttpFrontend>> start(InferenceServer& server, const HttpOptions& options);
  // Same as stop().
  ~HttpFrontend();
  HttpFrontend(const HttpFrontend&) = delete;
  HttpFrontend& operator=(const HttpFrontend&) = delete;

  int port() const;  // the bound port
  // Stops accepting connections, lets requests in flight finish, joins the threads.
  void stop();

  struct State;

 private:
  explicit HttpFrontend(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// Serves GET /metrics (InferenceServer::prometheus_metrics) on its own port.
class MetricsFrontend {
 public:
  static Expected<std::unique_ptr<MetricsFrontend>> start(InferenceServer& server, const std::string& host, int port);
  ~MetricsFrontend();
  MetricsFrontend(const MetricsFrontend&) = delete;
  MetricsFrontend& operator=(const MetricsFrontend&) = delete;

  int port() const;
  void stop();

 private:
  explicit MetricsFrontend(std::unique_ptr<HttpFrontend::State> state);
  std::unique_ptr<HttpFrontend::State> state_;
};

}  // namespace kiln::serve
