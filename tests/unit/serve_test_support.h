// Shared by the serve core tests: a small plan to serve, and a synchronous
// infer on the InferenceServer's callback API.
#pragma once

#include <filesystem>
#include <future>
#include <memory>

#include "graph_test_util.h"
#include "kiln/builder.h"
#include "serve/inference_server.h"

namespace kiln::serve::test_support {

// Writes a plan of x: float32 [batch, 4] -> y = Relu(x), z = 2 x, with
// profiles for batches 1 and 4.
inline Status write_relu_double_plan(const std::filesystem::path& path) {
  kiln::testing::GraphMaker g;
  Value* x = g.input("x", {1, 4});
  x->shape = Shape({Dim::symbolic("batch"), Dim::known(4)});
  g.output(g.node("Relu", {x}, "y"));
  g.output(g.node("Mul", {x, g.scalar("two", 2.0f)}, "z"));
  BuildConfig config;
  config.batch_buckets = {1, 4};
  KILN_ASSIGN_OR_RETURN(auto engine, Builder::build(g.take(), config));
  return save_engine(*engine, path.string());
}

// Submits the request and waits for its response (or the refusal).
inline Expected<InferResponse> infer_now(InferenceServer& server, InferRequest request) {
  auto promise = std::make_shared<std::promise<Expected<InferResponse>>>();
  auto future = promise->get_future();
  Status queued =
      server.infer(std::move(request), [promise](Expected<InferResponse> r) { promise->set_value(std::move(r)); });
  if (!queued.ok()) return queued;
  return future.get();
}

}  // namespace kiln::serve::test_support
