// Per-layer timing (ExecutionOptions::profile_layers): every node that ran is
// listed once, in execution order, with one run per query; without the option
// nothing is recorded; the benchmark and its reports carry the table.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "graph_test_util.h"
#include "kiln/bench.h"
#include "kiln/builder.h"

namespace kiln {
namespace {

using testing::GraphMaker;
using testing::random_tensor;

std::shared_ptr<Engine> small_engine() {
  GraphMaker m;
  Value* x = m.input("x", {4, 16});
  Value* h = m.node("MatMul", {x, m.constant("w1", random_tensor({16, 32}, 1))}, "h");
  Value* t = m.node("Tanh", {h}, "t");
  m.output(m.node("MatMul", {t, m.constant("w2", random_tensor({32, 8}, 2))}, "y"));
  BuildConfig config;
  config.optimize = false;  // keep three layers
  auto engine = Builder::build(m.take(), config);
  EXPECT_TRUE(engine.ok()) << engine.status().to_string();
  return *engine;
}

TEST(LayerProfile, EveryLayerOncePerQueryInExecutionOrder) {
  auto engine = small_engine();
  ExecutionOptions options;
  options.profile_layers = true;
  auto context = engine->create_context(options);
  ASSERT_TRUE(context.ok());
  TensorMap inputs{{"x", random_tensor({4, 16}, 3)}};
  for (int i = 0; i < 3; ++i) ASSERT_TRUE((*context)->execute(inputs).ok());
  std::vector<LayerTime> layers = (*context)->layer_profile();
  ASSERT_EQ(layers.size(), 3u);
  EXPECT_EQ(layers[0].name, "h_node");
  EXPECT_EQ(layers[1].op, "Tanh");
  EXPECT_EQ(layers[2].name, "y_node");
  for (const LayerTime& layer : layers) {
    EXPECT_EQ(layer.runs, 3);
    EXPECT_GE(layer.total_ms, 0.0);
  }
  auto plain = engine->create_context();
  ASSERT_TRUE(plain.ok());
  ASSERT_TRUE((*plain)->execute(inputs).ok());
  EXPECT_TRUE((*plain)->layer_profile().empty());
}

TEST(LayerProfile, BenchmarkReportsTheLayers) {
  auto engine = small_engine();
  BenchOptions bench;
  bench.min_iterations = 5;
  bench.min_duration_s = 0;
  bench.warmup_s = 0;
  bench.execution.profile_layers = true;
  auto context = engine->create_context(bench.execution);
  ASSERT_TRUE(context.ok());
  auto result = run_benchmark(**context, {{"x", random_tensor({4, 16}, 4)}}, bench);
  ASSERT_TRUE(result.ok()) << result.status().to_string();
  ASSERT_EQ(result->layers.size(), 3u);
  EXPECT_EQ(result->layers[0].runs, 5);
  auto json = nlohmann::json::parse(bench_result_to_json(*result, "m", "cpu"));
  ASSERT_EQ(json["layers"].size(), 3u);
  EXPECT_EQ(json["layers"][1]["op"], "Tanh");
  const std::string text = bench_result_to_text(*result);
  EXPECT_NE(text.find("Layer profile"), std::string::npos);
  EXPECT_NE(text.find("By op type"), std::string::npos);
  EXPECT_NE(text.find("y_node"), std::string::npos);
}

}  // namespace
}  // namespace kiln
