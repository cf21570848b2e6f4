// The KServe v2 gRPC front end of `kiln serve` (the protocol Triton's gRPC
// clients speak, service inference.GRPCInferenceService). Every RPC is
// translated to an InferenceServer call; ModelInfer is asynchronous end to end
// (no thread waits on a queued request), so any number of concurrent clients
// reach the dynamic batcher.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "kiln/status.h"
#include "serve/inference_server.h"

namespace kiln::serve {

struct GrpcFrontendOptions {
  std::string host = "0.0.0.0";
  int port = 8001;  // 0: any free port (see GrpcFrontend::port())
  // Largest request or response message accepted or sent, in bytes (at most 2 GiB - 1).
  int64_t max_message_bytes = int64_t{256} << 20;
};

class GrpcFrontend {
 public:
  // Starts serving `server`, which must outlive the front end. Errors: an
  // option out of range, or an address that cannot be bound (both named).
  static Expected<std::unique_ptr<GrpcFrontend>> start(InferenceServer& server, const GrpcFrontendOptions& options);
  ~GrpcFrontend();  // stop()
  GrpcFrontend(const GrpcFrontend&) = delete;
  GrpcFrontend& operator=(const GrpcFrontend&) = delete;

  int port() const;  // the port actually bound
  // Stops accepting RPCs; RPCs still running after `grace` are cancelled.
  // Returns once every started RPC has finished. Idempotent.
  void stop(std::chrono::milliseconds grace = std::chrono::seconds(5));

 private:
  struct State;
  explicit GrpcFrontend(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace kiln::serve
