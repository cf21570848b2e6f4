// kiln serve: loads a model repository and serves it over KServe v2 HTTP/REST
// (and gRPC), with Prometheus metrics on a port of their own. Runs until
// SIGINT or SIGTERM, then stops accepting requests, finishes the ones in
// flight and exits 0.
#include <malloc.h>
#include <semaphore.h>
#include <signal.h>

#include <cerrno>
#include <cstdlib>
#include <iostream>
#include <memory>

#include "cli_support.h"
#include "commands.h"
#include "serve/grpc_frontend.h"
#include "serve/http_frontend.h"
#include "serve/inference_server.h"

namespace kiln::cli {
namespace {

struct ServeOptions {
  std::string model_repository;
  std::vector<std::string> models;
  std::string backend = "cpu";
  std::string timing_cache;
  std::string host = "0.0.0.0";
  int http_port = 8000;
  int grpc_port = 8001;
  int metrics_port = 8002;
  int http_threads = 64;
  size_t http_max_body_bytes = size_t{256} << 20;
  int64_t grpc_max_message_bytes = int64_t{256} << 20;
};

// Posted by the signal handler (sem_post is async-signal-safe); main waits on it.
sem_t g_stop_requested;

void on_stop_signal(int) { sem_post(&g_stop_requested); }

void install_stop_handlers() {
  sem_init(&g_stop_requested, 0, 0);
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

void wait_for_stop_signal() {
  while (sem_wait(&g_stop_requested) != 0 && errno == EINTR) {
  }
}

// Request tensors arrive in buffers of megabytes (a 16-image ResNet-50 request
// is 9.6 MB) that gRPC, protobuf and the batcher allocate and free per request.
// glibc serves such sizes with fresh mmaps, or trims them from its heaps, so
// every request pays page faults and zeroing. Keeping blocks up to 32 MiB in
// the heaps and not trimming below 1 GiB lets them be reused instead (about
// 9% less server CPU per image with raw gRPC tensors, docs/benchmarks.md).
// GLIBC_TUNABLES, when set, still has the last word for anything it names.
void keep_large_allocations_for_reuse() {
  if (std::getenv("GLIBC_TUNABLES") != nullptr) return;
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
}

void print_model(const serve::InferenceServer& server, const std::string& name) {
  auto config = server.model_config(name, "");
  if (!config.ok()) return;
  std::cout << "kiln serve: model '" << name << "' ready (" << config->platform << ", "
            << backend_kind_name(config->backend) << ", " << config->batching.instances << " instance"
            << (config->batching.instances == 1 ? "" : "s") << ")" << std::endl;
}

int serve(const ServeOptions& options) {
  keep_large_allocations_for_reuse();
  auto backend = parse_backend_kind(options.backend);
  if (!backend.ok()) return report_error("serve", backend.status().with_context("--backend"));
  serve::ServerOptions server_options;
  server_options.model_repository = options.model_repository;
  server_options.default_backend = *backend;
  server_options.timing_cache = options.timing_cache;
  server_options.models = options.models;
  auto server = serve::InferenceServer::create(server_options);
  if (!server.ok()) return report_error("serve", server.status());
  for (const std::string& name : (*server)->model_names()) print_model(**server, name);

  install_stop_handlers();
  std::unique_ptr<serve::HttpFrontend> http;
  if (options.http_port >= 0) {
    serve::HttpOptions http_options;
    http_options.host = options.host;
    http_options.port = options.http_port;
    http_options.threads = options.http_threads;
    http_options.max_body_bytes = options.http_max_body_bytes;
    auto started = serve::HttpFrontend::start(**server, http_options);
    if (!started.ok()) return report_error("serve", started.status());
    http = std::move(started).value();
    std::cout << "kiln serve: HTTP/REST ready on " << options.host << ":" << http->port() << std::endl;
  }

  std::unique_ptr<serve::GrpcFrontend> grpc;
  if (options.grpc_port >= 0) {
    serve::GrpcFrontendOptions grpc_options;
    grpc_options.host = options.host;
    grpc_options.port = options.grpc_port;
    grpc_options.max_message_bytes = options.grpc_max_message_bytes;
    auto started = serve::GrpcFrontend::start(**server, grpc_options);
    if (!started.ok()) return report_error("serve", started.status());
    grpc = std::move(started).value();
    std::cout << "kiln serve: gRPC ready on " << options.host << ":" << grpc->port() << std::endl;
  }

  std::unique_ptr<serve::MetricsFrontend> metrics;
  if (options.metrics_port >= 0) {
    auto started = serve::MetricsFrontend::start(**server, options.host, options.metrics_port);
    if (!started.ok()) return report_error("serve", started.status());
    metrics = std::move(started).value();
    std::cout << "kiln serve: metrics ready on " << options.host << ":" << metrics->port() << "/metrics" << std::endl;
  }
  std::cout << "kiln serve: ready" << std::endl;

  wait_for_stop_signal();
  std::cout << "kiln serve: shutting down" << std::endl;
  // Front ends first: they finish the requests in flight, which need the
  // server; then the server drains its batchers.
  if (http) http->stop();
  if (grpc) grpc->stop();
  if (metrics) metrics->stop();
  server->reset();
  std::cout << "kiln serve: stopped" << std::endl;
  return 0;
}

}  // namespace

void add_serve_command(CLI::App& app, CommandAction& action) {
  auto options = std::make_shared<ServeOptions>();
  CLI::App* sub = app.add_subcommand("serve", "Serve a model repository over KServe v2 (HTTP/REST, gRPC)");
  sub->add_option("--model-repository", options->model_repository,
                  "Directory with one directory per model: model.onnx or model.kiln, optional config.json")
      ->required();
  sub->add_option("--model", options->models, "Serve only this model (repeatable; default: every model directory)");
  sub->add_option("--backend,-b", options->backend, "Backend of models whose config.json names none: cpu or cuda")
      ->capture_default_str();
  sub->add_option("--timing-cache", options->timing_cache, "Timing cache file for building ONNX models");
  sub->add_option("--host", options->host, "Address to listen on")->capture_default_str();
  sub->add_option("--http-port", options->http_port, "HTTP/REST port (0: any free port, -1: no HTTP)")
      ->capture_default_str();
  sub->add_option("--grpc-port", options->grpc_port, "gRPC port (0: any free port, -1: no gRPC)")
      ->capture_default_str();
  sub->add_option("--grpc-max-message-bytes", options->grpc_max_message_bytes,
                  "Largest gRPC request or response message; larger requests get RESOURCE_EXHAUSTED")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{2147483647}));
  sub->add_option("--metrics-port", options->metrics_port, "Prometheus metrics port (0: any free port, -1: none)")
      ->capture_default_str();
  sub->add_option("--http-threads", options->http_threads,
                  "HTTP connection threads (bounds the HTTP requests in flight)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  sub->add_option("--http-max-body-bytes", options->http_max_body_bytes,
                  "Largest HTTP request body; larger ones get 413")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  sub->callback([&action, options] { action = [options] { return serve(*options); }; });
}

}  // namespace kiln::cli
