// InferenceServer on a repository holding a small plan: loading errors,
// metadata, request validation (each error names the model and the input or
// output), inference against a reference, statistics and metrics text.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <future>

#include "graph_test_util.h"
#include "kiln/builder.h"
#include "serve/inference_server.h"
#include "serve_test_support.h"

namespace kiln::serve {
namespace {

namespace fs = std::filesystem;
using test_support::infer_now;
using test_support::write_relu_double_plan;

class ServeInferenceServer : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("kiln_serve_server_test_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_ / "m");
    ASSERT_TRUE(write_relu_double_plan(root_ / "m" / "model.kiln").ok());
    std::ofstream(root_ / "m" / "config.json") << R"({"max_batch_size": 4, "instances": 2,
        "dynamic_batching": {"max_queue_delay_microseconds": 200}})";
  }
  void TearDown() override { fs::remove_all(root_); }

  std::unique_ptr<InferenceServer> create() {
    ServerOptions options;
    options.model_repository = root_.string();
    auto server = InferenceServer::create(options);
    EXPECT_TRUE(server.ok()) << server.status().to_string();
    return server.ok() ? std::move(server).value() : nullptr;
  }

  fs::path root_;
};

InferRequest request_of(Tensor x) {
  InferRequest request;
  request.model = "m";
  request.inputs["x"] = std::move(x);
  return request;
}

TEST_F(ServeInferenceServer, MetadataAndConfig) {
  auto server = create();
  ASSERT_NE(server, nullptr);
  EXPECT_TRUE(server->live());
  EXPECT_TRUE(server->ready());
  EXPECT_EQ(server->model_names(), (std::vector<std::string>{"m"}));
  EXPECT_TRUE(server->model_ready("m", ""));
  EXPECT_TRUE(server->model_ready("m", "1"));
  EXPECT_FALSE(server->model_ready("m", "2"));
  EXPECT_FALSE(server->model_ready("other", ""));
  auto metadata = server->model_metadata("m", "");
  ASSERT_TRUE(metadata.ok());
  EXPECT_EQ(metadata->platform, "kiln_plan");
  ASSERT_EQ(metadata->inputs.size(), 1u);
  EXPECT_EQ(metadata->inputs[0].datatype, "FP32");
  EXPECT_EQ(metadata->inputs[0].shape, (std::vector<int64_t>{-1, 4}));
  ASSERT_EQ(metadata->outputs.size(), 2u);
  EXPECT_EQ(metadata->outputs[1].name, "z");
  auto missing = server->model_metadata("other", "");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("unknown model 'other'"), std::string::npos);
  auto config = server->model_config("m", "1");
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->batching.instances, 2);
  EXPECT_NE(config->config_json.find("\"max_batch_size\": 4"), std::string::npos) << config->config_json;
  EXPECT_NE(config->config_json.find("\"preferred_batch_size\": [\n      4\n    ]"), std::string::npos)
      << config->config_json;
}

TEST_F(ServeInferenceServer, InfersAndCountsStatistics) {
  auto server = create();
  ASSERT_NE(server, nullptr);
  Tensor x = testing::random_tensor({3, 4}, 5);
  InferRequest request = request_of(x);
  request.id = "q1";
  request.requested_outputs = {"z", "y"};
  auto response = infer_now(*server, std::move(request));
  ASSERT_TRUE(response.ok()) << response.status().to_string();
  EXPECT_EQ(response->id, "q1");
  EXPECT_EQ(response->model, "m");
  ASSERT_EQ(response->outputs.size(), 2u);
  EXPECT_EQ(response->outputs[0].first, "z");
  EXPECT_EQ(response->outputs[1].first, "y");
  const Tensor& z = response->outputs[0].second;
  const Tensor& y = response->outputs[1].second;
  ASSERT_EQ(y.dims(), (Dims{3, 4}));
  for (int64_t i = 0; i < 12; ++i) {
    float v = x.data<float>()[i];
    EXPECT_EQ(y.data<float>()[i], v > 0 ? v : 0.0f);
    EXPECT_EQ(z.data<float>()[i], 2 * v);
  }

  auto all_outputs = infer_now(*server, request_of(testing::random_tensor({1, 4}, 6)));
  ASSERT_TRUE(all_outputs.ok());
  ASSERT_EQ(all_outputs->outputs.size(), 2u);
  EXPECT_EQ(all_outputs->outputs[0].first, "y");  // engine order when none is asked for

  auto stats = server->statistics("m", "");
  ASSERT_TRUE(stats.ok());
  ASSERT_EQ(stats->size(), 1u);
  const ModelStatistics& s = (*stats)[0];
  EXPECT_EQ(s.inference_count, 4u);
  EXPECT_GE(s.execution_count, 1u);
  EXPECT_LE(s.execution_count, 2u);
  EXPECT_EQ(s.success.count, 2u);
  EXPECT_GT(s.last_inference_ms, 0u);
  std::string metrics = server->prometheus_metrics();
  EXPECT_NE(metrics.find("nv_inference_request_success{model=\"m\",version=\"1\"} 2\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("nv_inference_count{model=\"m\",version=\"1\"} 4\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("# TYPE nv_inference_pending_request_count gauge"), std::string::npos);
  EXPECT_FALSE(server->statistics("nope", "").ok());
}

TEST_F(ServeInferenceServer, ValidationErrorsNameTheThing) {
  auto server = create();
  ASSERT_NE(server, nullptr);
  struct Case {
    InferRequest request;
    StatusCode code;
    const char* expected;
  };
  std::vector<Case> cases;
  {
    InferRequest r = request_of(testing::random_tensor({1, 4}, 1));
    r.model = "nope";
    cases.push_back({r, StatusCode::kNotFound, "unknown model 'nope'"});
  }
  {
    InferRequest r = request_of(testing::random_tensor({1, 4}, 1));
    r.version = "7";
    cases.push_back({r, StatusCode::kNotFound, "model 'm' has no version '7'"});
  }
  cases.push_back({request_of(Tensor::zeros(DataType::kInt32, {1, 4})), StatusCode::kInvalidArgument,
                   "input 'x' of model 'm': datatype INT32 given, the model takes FP32"});
  cases.push_back({request_of(testing::random_tensor({1, 5}, 1)), StatusCode::kInvalidArgument,
                   "input 'x' of model 'm': shape [1,5] given, the model takes [-1,4]"});
  cases.push_back({request_of(testing::random_tensor({4}, 1)), StatusCode::kInvalidArgument,
                   "shape [4] given, the model takes [-1,4]"});
  cases.push_back({request_of(testing::random_tensor({5, 4}, 1)), StatusCode::kInvalidArgument,
                   "batch size 5 (axis 0 of shape [5,4]) is outside [1, 4]"});
  cases.push_back({request_of(testing::random_tensor({0, 4}, 1)), StatusCode::kInvalidArgument, "batch size 0"});
  {
    InferRequest r = request_of(testing::random_tensor({1, 4}, 1));
    r.inputs["w"] = testing::random_tensor({1, 4}, 2);
    cases.push_back({r, StatusCode::kInvalidArgument, "model 'm' has no input 'w' (inputs: 'x')"});
  }
  {
    InferRequest r;
    r.model = "m";
    cases.push_back({r, StatusCode::kInvalidArgument, "model 'm': input 'x' is missing"});
  }
  {
    InferRequest r = request_of(testing::random_tensor({1, 4}, 1));
    r.requested_outputs = {"q"};
    cases.push_back({r, StatusCode::kInvalidArgument, "model 'm' has no output 'q' (outputs: 'y', 'z')"});
  }
  {
    InferRequest r = request_of(testing::random_tensor({1, 4}, 1));
    r.requested_outputs = {"y", "y"};
    cases.push_back({r, StatusCode::kInvalidArgument, "output 'y' asked for twice"});
  }
  for (Case& c : cases) {
    bool called = false;
    Status status = server->infer(std::move(c.request), [&called](Expected<InferResponse>) { called = true; });
    EXPECT_FALSE(status.ok()) << c.expected;
    EXPECT_EQ(status.code(), c.code) << status.to_string();
    EXPECT_NE(status.message().find(c.expected), std::string::npos) << status.message();
    EXPECT_FALSE(called) << "done must not run when infer returns an error";
  }
  auto stats = server->statistics("m", "");
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ((*stats)[0].fail.count, cases.size() - 2);  // the two kNotFound requests name no loaded model
}

TEST_F(ServeInferenceServer, LoadErrorsNameTheModel) {
  std::ofstream(root_ / "m" / "config.json") << R"({"max_batch_size": 4, "instances": "two"})";
  ServerOptions options;
  options.model_repository = root_.string();
  auto server = InferenceServer::create(options);
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.status().message().find("model 'm'"), std::string::npos) << server.status().message();
  EXPECT_NE(server.status().message().find("'instances'"), std::string::npos) << server.status().message();

  fs::create_directories(root_ / "empty_repository");
  options.model_repository = (root_ / "empty_repository").string();
  auto empty = InferenceServer::create(options);
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("holds no model directory"), std::string::npos);

  fs::create_directories(root_ / "broken");
  std::ofstream(root_ / "broken" / "model.kiln") << "not a plan";
  options.model_repository = root_.string();
  options.models = {"broken"};
  auto broken = InferenceServer::create(options);
  ASSERT_FALSE(broken.ok());
  EXPECT_NE(broken.status().message().find("model 'broken'"), std::string::npos) << broken.status().message();
  EXPECT_NE(broken.status().message().find("model.kiln"), std::string::npos) << broken.status().message();
}

}  // namespace
}  // namespace kiln::serve
