#include "kiln/bench.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "kiln/builder.h"

namespace kiln {
namespace {

TEST(BenchStatistics, PercentilesInterpolateBetweenRanks) {
  // 1..100: numpy.percentile(range(1, 101), q) == 1 + 0.99 * q.
  std::vector<double> values;
  for (int i = 1; i <= 100; ++i) values.push_back(i);
  EXPECT_DOUBLE_EQ(percentile_of_sorted(values, 0), 1.0);
  EXPECT_DOUBLE_EQ(percentile_of_sorted(values, 100), 100.0);
  EXPECT_NEAR(percentile_of_sorted(values, 50), 50.5, 1e-12);
  EXPECT_NEAR(percentile_of_sorted(values, 90), 90.1, 1e-12);
  EXPECT_NEAR(percentile_of_sorted(values, 95), 95.05, 1e-12);
  EXPECT_NEAR(percentile_of_sorted(values, 99), 99.01, 1e-12);
}

TEST(BenchStatistics, SummaryOfShuffledKnownData) {
  // {10, 20, 30, 40, 1000} shuffled: numpy gives median 30, p90 616, p95 808, p99 961.6.
  std::vector<double> values = {40, 1000, 10, 30, 20};
  auto stats = compute_latency_stats(values);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->count, 5u);
  EXPECT_DOUBLE_EQ(stats->min_ms, 10);
  EXPECT_DOUBLE_EQ(stats->max_ms, 1000);
  EXPECT_DOUBLE_EQ(stats->mean_ms, 220);
  EXPECT_DOUBLE_EQ(stats->median_ms, 30);
  EXPECT_NEAR(stats->p90_ms, 616, 1e-9);
  EXPECT_NEAR(stats->p95_ms, 808, 1e-9);
  EXPECT_NEAR(stats->p99_ms, 961.6, 1e-9);
}

TEST(BenchStatistics, SingleValueAndEmpty) {
  auto one = compute_latency_stats({2.5});
  ASSERT_TRUE(one.ok());
  EXPECT_DOUBLE_EQ(one->p99_ms, 2.5);
  EXPECT_DOUBLE_EQ(one->median_ms, 2.5);
  EXPECT_FALSE(compute_latency_stats({}).ok());
}

TEST(BenchStatistics, EvenCountMedianIsMeanOfMiddlePair) {
  std::vector<double> values = {4, 1, 3, 2};
  auto stats = compute_latency_stats(values);
  ASSERT_TRUE(stats.ok());
  EXPECT_DOUBLE_EQ(stats->median_ms, 2.5);
}

std::vector<IoDesc> two_inputs() {
  return {
      {"image", DataType::kFloat32,
       Shape({Dim::symbolic("batch"), Dim::known(3), Dim::symbolic("h"), Dim::symbolic("h")})},
      {"mask", DataType::kInt64, Shape({Dim::symbolic("batch"), Dim()})},
  };
}

TEST(BenchShapes, BatchSetsSymbolicFirstAxesAndOtherSymbolsDefaultToOne) {
  ShapeRequest request;
  request.batch = 8;
  auto dims = resolve_input_dims(two_inputs(), request);
  ASSERT_TRUE(dims.ok()) << dims.status().to_string();
  EXPECT_EQ(dims->at("image"), (Dims{8, 3, 1, 1}));
  EXPECT_EQ(dims->at("mask"), (Dims{8, 1}));
  EXPECT_EQ(batch_size_of(two_inputs(), *dims), 8);
}

TEST(BenchShapes, GivenShapeBindsSymbolsForOtherInputs) {
  ShapeRequest request;
  auto shapes = parse_shape_list("image:2x3x32x32");
  ASSERT_TRUE(shapes.ok());
  request.shapes = *shapes;
  auto dims = resolve_input_dims(two_inputs(), request);
  ASSERT_TRUE(dims.ok()) << dims.status().to_string();
  EXPECT_EQ(dims->at("mask"), (Dims{2, 1}));
}

TEST(BenchShapes, ErrorsNameTheInput) {
  std::vector<IoDesc> fixed = {{"x", DataType::kFloat32, Shape::from_dims({4, 10})}};
  ShapeRequest request;
  request.batch = 2;
  auto dims = resolve_input_dims(fixed, request);
  ASSERT_FALSE(dims.ok());
  EXPECT_NE(dims.status().message().find("'x'"), std::string::npos) << dims.status().message();
  request.batch = 4;
  EXPECT_TRUE(resolve_input_dims(fixed, request).ok());

  ShapeRequest wrong_rank;
  wrong_rank.shapes["x"] = {4};
  EXPECT_FALSE(resolve_input_dims(fixed, wrong_rank).ok());
  ShapeRequest unknown;
  unknown.shapes["y"] = {4, 10};
  EXPECT_FALSE(resolve_input_dims(fixed, unknown).ok());
  EXPECT_FALSE(parse_shape_list("x=4x10").ok());
  EXPECT_FALSE(parse_shape_list("x:4xa").ok());
}

TEST(BenchShapes, ParsesCommaSeparatedDims) {
  auto shapes = parse_shape_list("a:1,3,8,8,b:2x5");
  ASSERT_TRUE(shapes.ok()) << shapes.status().to_string();
  EXPECT_EQ(shapes->at("a"), (Dims{1, 3, 8, 8}));
  EXPECT_EQ(shapes->at("b"), (Dims{2, 5}));
}

TEST(BenchInputs, RandomDataIsInRangeNotConstantAndDeterministic) {
  auto a = random_tensor(DataType::kFloat32, {1000}, 5);
  auto b = random_tensor(DataType::kFloat32, {1000}, 5);
  ASSERT_TRUE(a.ok() && b.ok());
  auto [lo, hi] = std::minmax_element(a->span<float>().begin(), a->span<float>().end());
  EXPECT_GE(*lo, -1.0f);
  EXPECT_LT(*hi, 1.0f);
  EXPECT_LT(*lo, -0.9f);
  EXPECT_GT(*hi, 0.9f);
  EXPECT_TRUE(std::equal(a->span<float>().begin(), a->span<float>().end(), b->span<float>().begin()));
  auto ints = random_tensor(DataType::kInt64, {1000}, 5);
  ASSERT_TRUE(ints.ok());
  int64_t nonzero =
      std::count_if(ints->span<int64_t>().begin(), ints->span<int64_t>().end(), [](int64_t v) { return v != 0; });
  EXPECT_GT(nonzero, 500);
  for (int64_t v : ints->span<int64_t>()) ASSERT_TRUE(v >= 0 && v < 4);
}

// A model whose output is its input needs no kernels, so the loop can be tested
// on its own. Only counts are asserted, never timings.
std::shared_ptr<Engine> passthrough_engine() {
  auto graph = std::make_unique<Graph>();
  graph->opsets[""] = 17;
  Value* x = graph->value("x");
  x->dtype = DataType::kFloat32;
  x->shape = Shape({Dim::symbolic("batch"), Dim::known(4)});
  graph->inputs().push_back(x);
  graph->outputs().push_back(x);
  auto engine = Builder::build(std::move(graph));
  EXPECT_TRUE(engine.ok()) << engine.status().to_string();
  return engine.ok() ? *engine : nullptr;
}

TEST(BenchLoop, RunsAtLeastTheIterationsAndTheDuration) {
  auto engine = passthrough_engine();
  ASSERT_TRUE(engine);
  auto context = engine->create_context();
  ASSERT_TRUE(context.ok());
  TensorMap inputs;
  inputs["x"] = *random_tensor(DataType::kFloat32, {2, 4}, 1);

  BenchOptions count_only;
  count_only.min_iterations = 7;
  count_only.min_duration_s = 0;
  count_only.warmup_s = 0;
  count_only.batch = 2;
  auto result = run_benchmark(**context, inputs, count_only);
  ASSERT_TRUE(result.ok()) << result.status().to_string();
  EXPECT_EQ(result->iterations, 7);
  EXPECT_EQ(result->latency.count, 7u);
  EXPECT_EQ(result->warmup_iterations, 0);
  EXPECT_NEAR(result->throughput_items_per_s, 2 * result->throughput_qps, 1e-6 * result->throughput_qps);

  BenchOptions timed;
  timed.min_iterations = 1;
  timed.min_duration_s = 0.05;
  timed.warmup_s = 0.01;
  auto long_run = run_benchmark(**context, inputs, timed);
  ASSERT_TRUE(long_run.ok());
  EXPECT_GE(long_run->wall_s, 0.05);
  EXPECT_GE(long_run->warmup_iterations, 1);
  EXPECT_GT(long_run->iterations, 1);

  std::string json = bench_result_to_json(*result, "m.onnx", "cpu");
  for (const char* key : {"\"throughput_qps\"", "\"throughput_items_per_s\"", "\"latency_ms\"", "\"p99\"", "\"wall_s\"",
                          "\"model\"", "\"backend\"", "\"batch\"", "\"iterations\"", "\"warmup_s\""}) {
    EXPECT_NE(json.find(key), std::string::npos) << key;
  }
}

TEST(BenchLoop, FailedQueryStopsTheRunWithItsError) {
  auto engine = passthrough_engine();
  ASSERT_TRUE(engine);
  auto context = engine->create_context();
  ASSERT_TRUE(context.ok());
  TensorMap wrong;
  wrong["x"] = *random_tensor(DataType::kFloat32, {2, 5}, 1);
  auto result = run_benchmark(**context, wrong, BenchOptions{});
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find("'x'"), std::string::npos) << result.status().message();
}

}  // namespace
}  // namespace kiln
