#include "serve/grpc_frontend.h"

#include <grpcpp/grpcpp.h>

#include <limits>
#include <mutex>

#include "serve/grpc_convert.h"
#include "serve/proto/kserve_v2.grpc.pb.h"

namespace kiln::serve {

namespace {

grpc::Status to_grpc_status(const Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(grpc_code_for(status)), status.message());
}

// Every RPC uses the callback API: handlers never block, and ModelInfer
// finishes from the batcher's completion callback, so a queued request holds
// no thread. gRPC owns `request` and `response` until the reactor is done;
// Finish on an RPC whose client went away is harmless.
class KserveService final : public inference::GRPCInferenceService::CallbackService {
 public:
  explicit KserveService(InferenceServer& server) : server_(server) {}

  grpc::ServerUnaryReactor* ServerLive(grpc::CallbackServerContext* context, const inference::ServerLiveRequest*,
                                       inference::ServerLiveResponse* response) override {
    response->set_live(server_.live());
    return finish(context, ok_status());
  }

  grpc::ServerUnaryReactor* ServerReady(grpc::CallbackServerContext* context, const inference::ServerReadyRequest*,
                                        inference::ServerReadyResponse* response) override {
    response->set_ready(server_.ready());
    return finish(context, ok_status());
  }

  grpc::ServerUnaryReactor* ModelReady(grpc::CallbackServerContext* context,
                                       const inference::ModelReadyRequest* request,
                                       inference::ModelReadyResponse* response) override {
    response->set_ready(server_.model_ready(request->name(), request->version()));
    return finish(context, ok_status());
  }

  grpc::ServerUnaryReactor* ServerMetadata(grpc::CallbackServerContext* context,
                                           const inference::ServerMetadataRequest*,
                                           inference::ServerMetadataResponse* response) override {
    server_metadata_to_proto(server_.server_metadata(), response);
    return finish(context, ok_status());
  }

  grpc::ServerUnaryReactor* ModelMetadata(grpc::CallbackServerContext* context,
                                          const inference::ModelMetadataRequest* request,
                                          inference::ModelMetadataResponse* response) override {
    auto metadata = server_.model_metadata(request->name(), request->version());
    if (metadata.ok()) model_metadata_to_proto(*metadata, response);
    return finish(context, metadata.status());
  }

  grpc::ServerUnaryReactor* ModelConfig(grpc::CallbackServerContext* context,
                                        const inference::ModelConfigRequest* request,
                                        inference::ModelConfigResponse* response) override {
    auto config = server_.model_config(request->name(), request->version());
    if (!config.ok()) return finish(context, config.status());
    auto metadata = server_.model_metadata(request->name(), request->version());
    if (!metadata.ok()) return finish(context, metadata.status());
    return finish(context, model_config_to_proto(*config, *metadata, response->mutable_config()));
  }

  grpc::ServerUnaryReactor* ModelStatistics(grpc::CallbackServerContext* context,
                                            const inference::ModelStatisticsRequest* request,
                                            inference::ModelStatisticsResponse* response) override {
    auto statistics = server_.statistics(request->name(), request->version());
    if (statistics.ok()) statistics_to_proto(*statistics, response);
    return finish(context, statistics.status());
  }

  grpc::ServerUnaryReactor* ModelInfer(grpc::CallbackServerContext* context,
                                       const inference::ModelInferRequest* request,
                                       inference::ModelInferResponse* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    // gRPC allocated the request (non-const) and owns it until the reactor
    // finishes; nothing reads it after this conversion, which moves the raw
    // input bytes out of it into the tensors instead of copying them.
    auto infer_request = infer_request_from_proto(*const_cast<inference::ModelInferRequest*>(request));
    if (!infer_request.ok()) {
      reactor->Finish(to_grpc_status(infer_request.status()));
      return reactor;
    }
    Status submitted =
        server_.infer(std::move(infer_request).value(), [reactor, response](Expected<InferResponse> result) {
          if (!result.ok()) {
            reactor->Finish(to_grpc_status(result.status()));
            return;
          }
          reactor->Finish(to_grpc_status(infer_response_to_proto(*result, response)));
        });
    // A refused request never reaches the callback, so it is finished here.
    if (!submitted.ok()) reactor->Finish(to_grpc_status(submitted));
    return reactor;
  }

  grpc::ServerUnaryReactor* SystemSharedMemoryStatus(grpc::CallbackServerContext* context,
                                                     const inference::SystemSharedMemoryStatusRequest* request,
                                                     inference::SystemSharedMemoryStatusResponse* response) override {
    auto regions = server_.system_shared_memory().status(request->name());
    if (regions.ok()) shared_memory_status_to_proto(*regions, response);
    return finish(context, regions.status());
  }

  grpc::ServerUnaryReactor* SystemSharedMemoryRegister(grpc::CallbackServerContext* context,
                                                       const inference::SystemSharedMemoryRegisterRequest* request,
                                                       inference::SystemSharedMemoryRegisterResponse*) override {
    return finish(context, server_.system_shared_memory().register_region(request->name(), request->key(),
                                                                          request->offset(), request->byte_size()));
  }

  grpc::ServerUnaryReactor* SystemSharedMemoryUnregister(grpc::CallbackServerContext* context,
                                                         const inference::SystemSharedMemoryUnregisterRequest* request,
                                                         inference::SystemSharedMemoryUnregisterResponse*) override {
    server_.system_shared_memory().unregister(request->name());
    return finish(context, ok_status());
  }

  grpc::ServerUnaryReactor* CudaSharedMemoryStatus(grpc::CallbackServerContext* context,
                                                   const inference::CudaSharedMemoryStatusRequest*,
                                                   inference::CudaSharedMemoryStatusResponse*) override {
    return finish(context, cuda_shared_memory_unsupported());
  }

  grpc::ServerUnaryReactor* CudaSharedMemoryRegister(grpc::CallbackServerContext* context,
                                                     const inference::CudaSharedMemoryRegisterRequest*,
                                                     inference::CudaSharedMemoryRegisterResponse*) override {
    return finish(context, cuda_shared_memory_unsupported());
  }

  grpc::ServerUnaryReactor* CudaSharedMemoryUnregister(grpc::CallbackServerContext* context,
                                                       const inference::CudaSharedMemoryUnregisterRequest*,
                                                       inference::CudaSharedMemoryUnregisterResponse*) override {
    return finish(context, cuda_shared_memory_unsupported());
  }

 private:
  static grpc::ServerUnaryReactor* finish(grpc::CallbackServerContext* context, const Status& status) {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(to_grpc_status(status));
    return reactor;
  }

  InferenceServer& server_;
};

std::string listen_address(const std::string& host, int port) {
  // An IPv6 literal needs brackets before the port.
  bool ipv6 = host.find(':') != std::string::npos && host.front() != '[';
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

}  // namespace

struct GrpcFrontend::State {
  // The service must outlive the server that dispatches into it.
  std::unique_ptr<KserveService> service;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
  std::once_flag stopped;
};

GrpcFrontend::GrpcFrontend(std::unique_ptr<State> state) : state_(std::move(state)) {}

GrpcFrontend::~GrpcFrontend() { stop(); }

int GrpcFrontend::port() const { return state_->port; }

void GrpcFrontend::stop(std::chrono::milliseconds grace) {
  std::call_once(state_->stopped, [&] {
    // Shutdown(deadline) returns once every started RPC has finished; those
    // still running at the deadline are cancelled first.
    state_->server->Shutdown(std::chrono::system_clock::now() + grace);
    state_->server->Wait();
  });
}

Expected<std::unique_ptr<GrpcFrontend>> GrpcFrontend::start(InferenceServer& server,
                                                            const GrpcFrontendOptions& options) {
  if (options.port < 0 || options.port > 65535) {
    return invalid_argument("gRPC port " + std::to_string(options.port) + " is outside 0..65535");
  }
  if (options.max_message_bytes <= 0 || options.max_message_bytes > std::numeric_limits<int>::max()) {
    return invalid_argument("gRPC max message size " + std::to_string(options.max_message_bytes) +
                            " bytes is outside 1.." + std::to_string(std::numeric_limits<int>::max()));
  }
  auto state = std::make_unique<State>();
  state->service = std::make_unique<KserveService>(server);

  const std::string address = listen_address(options.host, options.port);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &state->port);
  builder.RegisterService(state->service.get());
  builder.SetMaxReceiveMessageSize(static_cast<int>(options.max_message_bytes));
  builder.SetMaxSendMessageSize(static_cast<int>(options.max_message_bytes));
  // gRPC turns SO_REUSEPORT on by default, which would let a second server
  // share a port silently instead of failing to start.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  state->server = builder.BuildAndStart();
  if (!state->server || state->port == 0) {
    return unavailable("gRPC front end cannot listen on " + address + " (address in use or not local?)");
  }
  return std::unique_ptr<GrpcFrontend>(new GrpcFrontend(std::move(state)));
}

}  // namespace kiln::serve
