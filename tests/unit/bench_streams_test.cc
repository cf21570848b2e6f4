#include <gtest/gtest.h>

#include <map>

#include <nlohmann/json.hpp>

#include "graph_test_util.h"
#include "kiln/bench.h"
#include "kiln/builder.h"
#include "kiln/session.h"

namespace kiln {
namespace {

using testing::GraphMaker;
using testing::random_tensor;

TEST(BenchStreams, KeepsSeveralQueriesInFlightAndTracesThem) {
  GraphMaker m;
  Value* x = m.input("x", {2, 32});
  Value* w = m.constant("w", random_tensor({32, 32}, 1));
  m.output(m.node("MatMul", {x, w}, "y"));
  auto engine = Builder::build(m.take());
  ASSERT_TRUE(engine.ok());
  SessionOptions options;
  options.streams = 3;
  auto session = Session::create(*engine, options);
  ASSERT_TRUE(session.ok());
  BenchOptions bench;
  bench.min_iterations = 30;
  bench.min_duration_s = 0;
  bench.warmup_s = 0.01;
  bench.batch = 2;
  auto result = run_benchmark_streams(**session, {{"x", random_tensor({2, 32}, 2)}}, bench);
  ASSERT_TRUE(result.ok()) << result.status().to_string();
  EXPECT_GE(result->iterations, 30);
  EXPECT_EQ(result->streams, 3);
  EXPECT_EQ(result->latencies_ms.size(), static_cast<size_t>(result->iterations));
  EXPECT_EQ(result->spans.size(), static_cast<size_t>(result->iterations));
  EXPECT_NEAR(result->throughput_items_per_s, 2 * result->throughput_qps, 1e-9);
  auto trace = nlohmann::json::parse(bench_trace_json(*result));
  int queries = 0, compute_phases = 0, max_track = 0;
  std::map<int, std::pair<double, double>> query_extent;  // query index -> [begin, end] in us
  for (const auto& e : trace["traceEvents"]) {
    if (e["ph"] != "X") continue;
    EXPECT_GE(e["dur"].get<double>(), 0.0);
    max_track = std::max(max_track, e["tid"].get<int>());
    const int query = e["args"]["query"].get<int>();
    const double begin = e["ts"].get<double>(), end = begin + e["dur"].get<double>();
    if (e["name"] == "query") {
      ++queries;
      query_extent[query] = {begin, end};
    } else {
      EXPECT_EQ(e["name"], "compute");  // the CPU backend has no copies
      ++compute_phases;
      ASSERT_TRUE(query_extent.count(query)) << "phase drawn before its query";
      EXPECT_GE(begin, query_extent[query].first - 1e-6);
      EXPECT_LE(end, query_extent[query].second + 1e-6);
    }
  }
  EXPECT_EQ(queries, result->iterations);
  EXPECT_EQ(compute_phases, result->iterations);
  EXPECT_LT(max_track, 3 + 1);  // never more lanes than queries in flight (+1 for the refill overlap)

  auto bad = run_benchmark_streams(**session, {{"x", random_tensor({2, 31}, 3)}}, bench);
  EXPECT_FALSE(bad.ok());
}

TEST(BenchStreams, ChunkedPipelineRunsTheWholeBatchPerQuery) {
  GraphMaker m;
  Value* x = m.input("x", {-1, 16});
  m.output(m.node("MatMul", {x, m.constant("w", random_tensor({16, 8}, 4))}, "y"));
  auto engine = Builder::build(m.take());
  ASSERT_TRUE(engine.ok());
  SessionOptions options;
  options.streams = 2;
  auto session = Session::create(*engine, options);
  ASSERT_TRUE(session.ok());
  BenchOptions bench;
  bench.min_iterations = 5;
  bench.min_duration_s = 0;
  bench.warmup_s = 0;
  bench.batch = 40;
  TensorMap inputs{{"x", random_tensor({40, 16}, 5)}};
  auto result = run_benchmark_chunked(**session, inputs, 7, bench);
  ASSERT_TRUE(result.ok()) << result.status().to_string();
  EXPECT_EQ(result->iterations, 5);
  EXPECT_EQ(result->streams, 2);
  EXPECT_NEAR(result->throughput_items_per_s, 40 * result->throughput_qps, 1e-9);
  EXPECT_FALSE(result->phases_measured);  // a query spans several contexts
  auto bad = run_benchmark_chunked(**session, inputs, 0, bench);
  EXPECT_FALSE(bad.ok());
}

}  // namespace
}  // namespace kiln
