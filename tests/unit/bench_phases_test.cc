// Per-query phase timings: the CPU executor's, the session's timed callback,
// and their statistics in the benchmark results and reports.
#include <gtest/gtest.h>

#include <future>
#include <nlohmann/json.hpp>

#include "graph_test_util.h"
#include "kiln/bench.h"
#include "kiln/builder.h"
#include "kiln/session.h"

namespace kiln {
namespace {

using testing::random_tensor;

std::shared_ptr<Engine> matmul_engine() {
  auto engine = Builder::build(testing::matmul_relu_graph(32, 16));
  EXPECT_TRUE(engine.ok()) << engine.status().to_string();
  return engine.ok() ? *engine : nullptr;
}

void expect_consistent(const QueryTimings& t) {
  EXPECT_TRUE(t.valid);
  EXPECT_GE(t.enqueue_ms, 0);
  EXPECT_EQ(t.h2d_ms, 0);  // the CPU executor reads its inputs in place
  EXPECT_GE(t.compute_ms, 0);
  EXPECT_GE(t.d2h_ms, 0);
  // The phases are disjoint parts of the whole call.
  EXPECT_LE(t.enqueue_ms + t.compute_ms + t.d2h_ms, t.host_wall_ms + 1e-6);
}

TEST(BenchPhases, CpuContextReportsTheLastExecute) {
  auto engine = matmul_engine();
  ASSERT_NE(engine, nullptr);
  auto context = engine->create_context();
  ASSERT_TRUE(context.ok());
  EXPECT_FALSE((*context)->last_timings().valid);
  auto outputs = (*context)->execute({{"x", random_tensor({4, 32}, 1)}});
  ASSERT_TRUE(outputs.ok()) << outputs.status().to_string();
  expect_consistent((*context)->last_timings());
}

TEST(BenchPhases, SessionDeliversEachRequestsTimings) {
  auto engine = matmul_engine();
  ASSERT_NE(engine, nullptr);
  SessionOptions options;
  options.streams = 2;
  auto session = Session::create(engine, options);
  ASSERT_TRUE(session.ok());
  std::vector<std::promise<std::pair<bool, QueryTimings>>> promises(6);
  for (size_t i = 0; i < promises.size(); ++i) {
    // The last request has the wrong width and must fail with invalid timings.
    const int64_t width = i + 1 == promises.size() ? 31 : 32;
    Tensor x = random_tensor({2, width}, static_cast<uint32_t>(i));
    Status s = (*session)->submit({{"x", x}}, [&promises, i](Expected<Outputs> outputs, const QueryTimings& timings) {
      promises[i].set_value({outputs.ok(), timings});
    });
    ASSERT_TRUE(s.ok());
  }
  for (size_t i = 0; i < promises.size(); ++i) {
    auto [ok, timings] = promises[i].get_future().get();
    if (i + 1 == promises.size()) {
      EXPECT_FALSE(ok);
      EXPECT_FALSE(timings.valid);
    } else {
      EXPECT_TRUE(ok);
      expect_consistent(timings);
    }
  }
  // The untimed overload still works beside it.
  auto plain = (*session)->submit({{"x", random_tensor({3, 32}, 9)}}).get();
  EXPECT_TRUE(plain.ok());
}

TEST(BenchPhases, RunBenchmarkSummarisesEveryQuerysPhases) {
  auto engine = matmul_engine();
  ASSERT_NE(engine, nullptr);
  auto context = engine->create_context();
  ASSERT_TRUE(context.ok());
  BenchOptions options;
  options.min_iterations = 12;
  options.min_duration_s = 0;
  options.warmup_s = 0;
  options.batch = 4;
  auto result = run_benchmark(**context, {{"x", random_tensor({4, 32}, 3)}}, options);
  ASSERT_TRUE(result.ok()) << result.status().to_string();
  ASSERT_TRUE(result->phases_measured);
  ASSERT_EQ(result->query_timings.size(), static_cast<size_t>(result->iterations));
  EXPECT_EQ(result->compute.count, static_cast<size_t>(result->iterations));
  double sum = 0, max_compute = 0;
  for (const QueryTimings& t : result->query_timings) {
    expect_consistent(t);
    sum += t.compute_ms;
    max_compute = std::max(max_compute, t.compute_ms);
  }
  EXPECT_NEAR(result->total_compute_ms, sum, 1e-9);
  EXPECT_DOUBLE_EQ(result->compute.max_ms, max_compute);
  EXPECT_EQ(result->h2d.max_ms, 0);
  EXPECT_DOUBLE_EQ(result->total_host_wall_s, result->wall_s);
  EXPECT_EQ(result->backend, BackendKind::kCpu);

  ASSERT_TRUE(add_requested_percentiles(*result, {50, 99.9}).ok());
  auto json = nlohmann::json::parse(bench_result_to_json(*result, "m.onnx", "cpu"));
  for (const char* phase : {"enqueue_ms", "h2d_ms", "compute_ms", "d2h_ms", "latency_ms"}) {
    ASSERT_TRUE(json.contains(phase)) << phase;
    for (const char* key : {"min", "max", "mean", "median", "p90", "p95", "p99", "stddev", "p50", "p99.9"}) {
      EXPECT_TRUE(json[phase].contains(key)) << phase << "." << key;
    }
  }
  EXPECT_DOUBLE_EQ(json["compute_ms"]["max"].get<double>(), max_compute);
  EXPECT_DOUBLE_EQ(json["compute_ms"]["p50"].get<double>(), result->compute.median_ms);
  for (const char* key : {"streams", "total_host_wall_s", "total_compute_ms", "warnings", "spin_wait"}) {
    EXPECT_TRUE(json.contains(key)) << key;
  }
  EXPECT_EQ(json["streams"], 1);

  std::string text = bench_result_to_text(*result);
  EXPECT_NE(text.find("Compute "), std::string::npos) << text;
  EXPECT_NE(text.find("Enqueue "), std::string::npos) << text;
  EXPECT_EQ(text.find("H2D "), std::string::npos) << "an all-zero phase is left out:\n" << text;
}

TEST(BenchPhases, StreamsBenchmarkCollectsTimingsWithAndWithoutSpinning) {
  auto engine = matmul_engine();
  ASSERT_NE(engine, nullptr);
  for (bool spin : {false, true}) {
    SessionOptions session_options;
    session_options.streams = 2;
    session_options.execution.spin_wait = spin;
    auto session = Session::create(engine, session_options);
    ASSERT_TRUE(session.ok());
    BenchOptions options;
    options.min_iterations = 20;
    options.min_duration_s = 0;
    options.warmup_s = 0.005;
    options.execution.spin_wait = spin;
    auto result = run_benchmark_streams(**session, {{"x", random_tensor({2, 32}, 4)}}, options);
    ASSERT_TRUE(result.ok()) << result.status().to_string();
    EXPECT_GE(result->iterations, 20);
    EXPECT_EQ(result->query_timings.size(), static_cast<size_t>(result->iterations));
    EXPECT_TRUE(result->phases_measured);
    EXPECT_EQ(result->execution.spin_wait, spin);
    for (const QueryTimings& t : result->query_timings) expect_consistent(t);

    auto bad = run_benchmark_streams(**session, {{"x", random_tensor({2, 30}, 5)}}, options);
    EXPECT_FALSE(bad.ok());
  }
}

TEST(BenchPhases, UnmeasuredPhasesStayOutOfTheReports) {
  BenchResult result;
  result.iterations = 2;
  result.latencies_ms = {1, 2};
  result.query_timings = {QueryTimings{true, 0.1, 0, 0.8, 0, 1.0}, QueryTimings{}};  // one backend gave none
  ASSERT_TRUE(summarize_phases(result).ok());
  EXPECT_FALSE(result.phases_measured);
  EXPECT_EQ(result.compute.count, 0u);
  auto json = nlohmann::json::parse(bench_result_to_json(result, "m", "cuda"));
  EXPECT_FALSE(json.contains("compute_ms"));
  EXPECT_TRUE(json.contains("latency_ms"));
  EXPECT_EQ(bench_result_to_text(result).find("Phase (ms)"), std::string::npos);
}

}  // namespace
}  // namespace kiln
