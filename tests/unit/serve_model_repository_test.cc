// Model repository layout and config.json parsing: defaults, every key, and
// errors that name the file and the key.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "serve/model_repository.h"

namespace kiln::serve {
namespace {

namespace fs = std::filesystem;

ModelConfig onnx_model(const std::string& name = "m") {
  ModelConfig config;
  config.name = name;
  config.platform = "onnx";
  config.model_file = "/r/" + name + "/model.onnx";
  return config;
}

ModelConfig plan_model() {
  ModelConfig config = onnx_model();
  config.platform = "kiln_plan";
  config.model_file = "/r/m/model.kiln";
  return config;
}

// Parses `text` into a fresh config and returns the error message ("" when it parses).
std::string parse_error(const std::string& text, ModelConfig config = onnx_model()) {
  Status status = parse_model_config(text, "m/config.json", config);
  return status.ok() ? "" : status.message();
}

TEST(ServeModelConfig, OnnxDefaults) {
  ModelConfig config = onnx_model();
  ASSERT_TRUE(parse_model_config("{}", "m/config.json", config).ok());
  EXPECT_EQ(config.batching.max_batch_size, kDefaultOnnxMaxBatchSize);
  EXPECT_EQ(config.batch_buckets, (std::vector<int64_t>{1, kDefaultOnnxMaxBatchSize}));
  EXPECT_EQ(config.backend, BackendKind::kCpu);
  EXPECT_EQ(config.precision, DataType::kFloat32);
  EXPECT_EQ(config.batching.instances, 1);
}

TEST(ServeModelConfig, EveryKey) {
  ModelConfig config = onnx_model();
  Status status = parse_model_config(R"({
      "name": "m", "max_batch_size": 32, "instances": 3, "backend": "cuda", "precision": "fp16",
      "batch_buckets": [1, 8, 32],
      "dynamic_batching": {"preferred_batch_size": [8, 32], "max_queue_delay_microseconds": 250,
        "priority_levels": 3, "default_priority_level": 2, "max_queue_size": 17,
        "default_timeout_microseconds": 5000, "preserve_ordering": true, "join_ahead": false}})",
                                     "m/config.json", config);
  ASSERT_TRUE(status.ok()) << status.to_string();
  EXPECT_EQ(config.batching.max_batch_size, 32);
  EXPECT_EQ(config.batching.instances, 3);
  EXPECT_EQ(config.backend, BackendKind::kCuda);
  EXPECT_EQ(config.precision, DataType::kFloat16);
  EXPECT_EQ(config.batch_buckets, (std::vector<int64_t>{1, 8, 32}));
  EXPECT_EQ(config.batching.preferred_batch_sizes, (std::vector<int64_t>{8, 32}));
  EXPECT_EQ(config.batching.max_queue_delay_us, 250);
  EXPECT_EQ(config.batching.priority_levels, 3);
  EXPECT_EQ(config.batching.default_priority, 2);
  EXPECT_EQ(config.batching.max_queue_size, 17u);
  EXPECT_EQ(config.batching.default_timeout_us, 5000);
  EXPECT_TRUE(config.batching.preserve_ordering);
  EXPECT_EQ(config.batching.join_ahead, std::optional<bool>(false));
}

TEST(ServeModelConfig, BucketsGiveTheMaxBatchSize) {
  ModelConfig config = onnx_model();
  ASSERT_TRUE(parse_model_config(R"({"batch_buckets": [2, 4, 16]})", "c", config).ok());
  EXPECT_EQ(config.batching.max_batch_size, 16);
  config = onnx_model();
  ASSERT_TRUE(parse_model_config(R"({"max_batch_size": 1})", "c", config).ok());
  EXPECT_EQ(config.batch_buckets, (std::vector<int64_t>{1}));
}

TEST(ServeModelConfig, PlansKeepTheirProfiles) {
  ModelConfig config = plan_model();
  ASSERT_TRUE(parse_model_config(R"({"max_batch_size": 4})", "c", config).ok());
  EXPECT_TRUE(config.batch_buckets.empty());
  EXPECT_EQ(config.batching.max_batch_size, 4);
  EXPECT_NE(
      parse_error(R"({"batch_buckets": [1, 8]})", plan_model()).find("'batch_buckets' applies to ONNX models only"),
      std::string::npos);
  EXPECT_NE(parse_error(R"({"precision": "fp16"})", plan_model()).find("'precision' applies to ONNX models only"),
            std::string::npos);
}

TEST(ServeModelConfig, ErrorsNameTheFileAndKey) {
  struct Case {
    const char* text;
    const char* expected;  // substring of the message
  } cases[] = {
      {R"({"max_batch_size": "8"})", "'max_batch_size' must be an integer >= 1, got \"8\""},
      {R"({"max_batch_size": 0})", "'max_batch_size' must be an integer >= 1, got 0"},
      {R"({"max_batch_size": 8.5})", "'max_batch_size' must be an integer"},
      {R"({"instances": -1})", "'instances' must be an integer in [1, 1024], got -1"},
      {R"({"backend": "tpu"})", "'backend' unknown backend 'tpu'"},
      {R"({"precision": "int4"})", "'precision' must be fp32, fp16 or bf16, got 'int4'"},
      {R"({"batch_buckets": [8, 4]})", "'batch_buckets' must be strictly ascending"},
      {R"({"batch_buckets": []})", "'batch_buckets' must be a non-empty array"},
      {R"({"max_batch_size": 64, "batch_buckets": [1, 8]})",
       "'max_batch_size' is 64 but the largest of batch_buckets is 8"},
      {R"({"max_batch_sise": 8})", "unknown key 'max_batch_sise'"},
      {R"({"dynamic_batching": {"max_queue_size": 0}})", "'dynamic_batching.max_queue_size' must be an integer >= 1"},
      {R"({"dynamic_batching": {"join_ahead": "yes"}})", "'dynamic_batching.join_ahead' must be true or false"},
      {R"({"dynamic_batching": {"preserve_ordering": 1}})",
       "'dynamic_batching.preserve_ordering' must be true or false"},
      {R"({"dynamic_batching": {"priority_levels": 2, "default_priority_level": 3}})",
       "'dynamic_batching.default_priority_level' must be an integer in [1, 2], got 3"},
      {R"({"dynamic_batching": {"delay": 3}})", "unknown key 'dynamic_batching.delay'"},
      {R"({"dynamic_batching": []})", "'dynamic_batching.' must be an object"},
      {R"({"dynamic_batching": {"preferred_batch_size": [4, 16]}})",
       "'dynamic_batching.preferred_batch_size' 16 exceeds max_batch_size 8"},
      {R"({"name": "other"})", "'name' is 'other' but the directory is 'm'"},
      {R"({"max_batch_size": 8,})", "not valid JSON"},
      {R"([1, 2])", "expected a JSON object"},
  };
  for (const Case& c : cases) {
    std::string message = parse_error(c.text);
    EXPECT_NE(message.find(c.expected), std::string::npos) << c.text << " gave: " << message;
    EXPECT_NE(message.find("m/config.json"), std::string::npos) << message;
  }
}

class ServeRepository : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("kiln_serve_repository_test_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  void write(const std::string& relative, const std::string& contents) {
    fs::create_directories((root_ / relative).parent_path());
    std::ofstream(root_ / relative) << contents;
  }
  std::string root() const { return root_.string(); }

  fs::path root_;
};

TEST_F(ServeRepository, ListsModelDirectoriesSorted) {
  write("b/model.onnx", "x");
  write("a/model.kiln", "x");
  write(".hidden/model.onnx", "x");
  write("README.md", "not a model");
  auto names = list_models(root(), {});
  ASSERT_TRUE(names.ok()) << names.status().to_string();
  EXPECT_EQ(*names, (std::vector<std::string>{"a", "b"}));
  auto only = list_models(root(), {"b"});
  ASSERT_TRUE(only.ok());
  EXPECT_EQ(*only, (std::vector<std::string>{"b"}));
  auto missing = list_models(root(), {"c"});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("model 'c'"), std::string::npos);
  auto no_repository = list_models(root() + "/nothing", {});
  ASSERT_FALSE(no_repository.ok());
  EXPECT_NE(no_repository.status().message().find("nothing"), std::string::npos);
}

TEST_F(ServeRepository, ReadsModelFileAndConfig) {
  write("m/model.onnx", "x");
  write("m/config.json", R"({"max_batch_size": 4, "backend": "cpu"})");
  auto config = read_model_config(root(), "m", BackendKind::kCuda);
  ASSERT_TRUE(config.ok()) << config.status().to_string();
  EXPECT_EQ(config->platform, "onnx");
  EXPECT_EQ(config->model_file, (root_ / "m" / "model.onnx").string());
  EXPECT_EQ(config->backend, BackendKind::kCpu);
  EXPECT_EQ(config->batch_buckets, (std::vector<int64_t>{1, 4}));

  write("p/model.kiln", "x");
  auto plan = read_model_config(root(), "p", BackendKind::kCuda);
  ASSERT_TRUE(plan.ok()) << plan.status().to_string();
  EXPECT_EQ(plan->platform, "kiln_plan");
  EXPECT_EQ(plan->backend, BackendKind::kCuda);  // the server's default
}

TEST_F(ServeRepository, ModelFileErrors) {
  fs::create_directories(root_ / "empty");
  auto empty = read_model_config(root(), "empty", BackendKind::kCpu);
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("neither model.kiln nor model.onnx"), std::string::npos);

  write("both/model.kiln", "x");
  write("both/model.onnx", "x");
  auto both = read_model_config(root(), "both", BackendKind::kCpu);
  ASSERT_FALSE(both.ok());
  EXPECT_NE(both.status().message().find("both model.kiln and model.onnx"), std::string::npos);

  write("bad/model.onnx", "x");
  write("bad/config.json", R"({"instances": 0})");
  auto bad = read_model_config(root(), "bad", BackendKind::kCpu);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find((root_ / "bad" / "config.json").string()), std::string::npos);
  EXPECT_NE(bad.status().message().find("'instances'"), std::string::npos);
}

}  // namespace
}  // namespace kiln::serve
