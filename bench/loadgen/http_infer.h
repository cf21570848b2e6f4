// kiln-loadgen's HTTP/REST infer path: the request a client thread would send
// over gRPC, sent instead as one KServe v2 HTTP infer request with the binary
// tensor extension (a JSON header, then the raw tensor bytes; outputs asked
// back as binary), or with shared memory references in the tensors'
// parameters, exactly as tritonclient.http sends them.
#pragma once

#include <memory>
#include <string>

#include "kiln/status.h"
#include "serve/proto/kserve_v2.grpc.pb.h"

namespace kiln::loadgen {

// One keep-alive connection to host:port, posting the same request each time.
class HttpInferClient {
 public:
  // `request` as made for gRPC (raw_input_contents or shared memory parameters);
  // `metadata` names the outputs to ask for.
  static Expected<std::unique_ptr<HttpInferClient>> create(const std::string& url,
                                                           const inference::ModelInferRequest& request,
                                                           const inference::ModelMetadataResponse& metadata);
  ~HttpInferClient();
  HttpInferClient(const HttpInferClient&) = delete;
  HttpInferClient& operator=(const HttpInferClient&) = delete;

  // Posts the request and reads the whole response; an error carries the HTTP
  // status and the server's message.
  Status infer();

 private:
  struct State;
  explicit HttpInferClient(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace kiln::loadgen
