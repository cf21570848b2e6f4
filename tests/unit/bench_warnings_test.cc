// The benchmark warnings on synthetic results: each fires on the figures that
// should raise it, stays quiet on healthy ones, and names the flag to try.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "kiln/bench.h"

namespace kiln {
namespace {

LatencyStats stats(double mean, double stddev, double median, double p99, double max) {
  LatencyStats s;
  s.count = 200;
  s.min_ms = std::min(mean, median) * 0.9;
  s.mean_ms = mean;
  s.stddev_ms = stddev;
  s.median_ms = median;
  s.p90_ms = s.p95_ms = (median + p99) / 2;
  s.p99_ms = p99;
  s.max_ms = max;
  return s;
}

// A steady CUDA run: enqueue well under compute, small transfers, 200 queries.
BenchResult healthy_cuda_run() {
  BenchResult r;
  r.backend = BackendKind::kCuda;
  r.iterations = 200;
  r.latency = stats(2.0, 0.05, 2.0, 2.1, 2.2);
  r.phases_measured = true;
  r.enqueue = stats(0.2, 0.01, 0.2, 0.21, 0.22);
  r.h2d = stats(0.3, 0.01, 0.3, 0.31, 0.32);
  r.compute = stats(1.3, 0.02, 1.3, 1.35, 1.4);
  r.d2h = stats(0.1, 0.01, 0.1, 0.11, 0.12);
  return r;
}

bool fires(const BenchResult& r, BenchWarningKind kind, std::string* message = nullptr) {
  for (const BenchWarning& w : bench_warnings(r)) {
    if (w.kind == kind) {
      if (message) *message = w.message;
      return true;
    }
  }
  return false;
}

TEST(BenchWarnings, HealthyRunRaisesNone) {
  EXPECT_TRUE(bench_warnings(healthy_cuda_run()).empty());
  BenchResult cpu = healthy_cuda_run();
  cpu.backend = BackendKind::kCpu;
  cpu.phases_measured = false;
  EXPECT_TRUE(bench_warnings(cpu).empty());
}

TEST(BenchWarnings, EnqueueBound) {
  BenchResult r = healthy_cuda_run();
  r.enqueue.mean_ms = 1.2;  // 92% of compute
  std::string message;
  ASSERT_TRUE(fires(r, BenchWarningKind::kEnqueueBound, &message));
  EXPECT_NE(message.find("--cuda-graph"), std::string::npos) << message;
  EXPECT_NE(message.find("92%"), std::string::npos) << message;

  r.execution.cuda_graphs = true;  // already on: suggest something else
  ASSERT_TRUE(fires(r, BenchWarningKind::kEnqueueBound, &message));
  EXPECT_EQ(message.find("Try --cuda-graph"), std::string::npos) << message;
  EXPECT_NE(message.find("--batch"), std::string::npos) << message;

  r.enqueue.mean_ms = 0.9;  // 69%: below the threshold
  EXPECT_FALSE(fires(r, BenchWarningKind::kEnqueueBound));
  r.enqueue.mean_ms = 1.2;
  r.backend = BackendKind::kCpu;  // the CPU backend has no device to leave idle
  EXPECT_FALSE(fires(r, BenchWarningKind::kEnqueueBound));
}

TEST(BenchWarnings, TransferBound) {
  BenchResult r = healthy_cuda_run();
  r.h2d.mean_ms = 1.0;
  r.d2h.mean_ms = 0.5;  // 1.5 ms of copies against 1.3 ms of compute
  std::string message;
  ASSERT_TRUE(fires(r, BenchWarningKind::kTransferBound, &message));
  EXPECT_NE(message.find("--no-data-transfers"), std::string::npos) << message;
  EXPECT_NE(message.find("--streams"), std::string::npos) << message;
  EXPECT_NE(message.find("1.3000"), std::string::npos) << message;

  r.streams = 4;
  r.execution.no_data_transfers = true;
  ASSERT_TRUE(fires(r, BenchWarningKind::kTransferBound, &message));
  EXPECT_EQ(message.find("--no-data-transfers"), std::string::npos) << message;
  EXPECT_EQ(message.find("--streams"), std::string::npos) << message;

  r.h2d.mean_ms = 0.7;  // 1.2 ms < 1.3 ms
  EXPECT_FALSE(fires(r, BenchWarningKind::kTransferBound));
  r.h2d.mean_ms = 1.0;
  r.phases_measured = false;
  EXPECT_FALSE(fires(r, BenchWarningKind::kTransferBound));
}

TEST(BenchWarnings, Unstable) {
  BenchResult r = healthy_cuda_run();
  r.latency.stddev_ms = 0.4;  // 20% of the mean
  std::string message;
  ASSERT_TRUE(fires(r, BenchWarningKind::kUnstable, &message));
  EXPECT_NE(message.find("20.0%"), std::string::npos) << message;
  EXPECT_NE(message.find("--duration"), std::string::npos) << message;
  EXPECT_NE(message.find("--warmup"), std::string::npos) << message;
  EXPECT_NE(message.find("--spin-wait"), std::string::npos) << message;

  r.latency.stddev_ms = 0.1;  // 5%
  EXPECT_FALSE(fires(r, BenchWarningKind::kUnstable));
  r.latency.p99_ms = 5.0;  // 2.5x the median
  ASSERT_TRUE(fires(r, BenchWarningKind::kUnstable, &message));
  EXPECT_NE(message.find("2.5x"), std::string::npos) << message;
  r.latency.p99_ms = 2.1;
  r.latency.max_ms = 40;  // one query 20x the median
  EXPECT_TRUE(fires(r, BenchWarningKind::kUnstable));
  r.latency.max_ms = 2.2;
  r.execution.spin_wait = true;
  r.latency.stddev_ms = 0.4;
  ASSERT_TRUE(fires(r, BenchWarningKind::kUnstable, &message));
  EXPECT_EQ(message.find("--spin-wait"), std::string::npos) << message;
}

TEST(BenchWarnings, FewIterations) {
  BenchResult r = healthy_cuda_run();
  r.iterations = 10;
  std::string message;
  ASSERT_TRUE(fires(r, BenchWarningKind::kFewIterations, &message));
  EXPECT_NE(message.find("Only 10"), std::string::npos) << message;
  EXPECT_NE(message.find("--iterations"), std::string::npos) << message;

  r.iterations = 200;
  EXPECT_FALSE(fires(r, BenchWarningKind::kFewIterations));
  r.extra_percentiles_ms = {{50, 2.0}, {99.9, 2.2}};  // p99.9 needs 1000 queries
  ASSERT_TRUE(fires(r, BenchWarningKind::kFewIterations, &message));
  EXPECT_NE(message.find("p99.9"), std::string::npos) << message;
  EXPECT_NE(message.find("1000"), std::string::npos) << message;
  r.iterations = 1000;
  EXPECT_FALSE(fires(r, BenchWarningKind::kFewIterations));
}

TEST(BenchWarnings, AppearInTheTextAndJsonReports) {
  BenchResult r = healthy_cuda_run();
  r.iterations = 5;
  r.enqueue.mean_ms = 1.3;
  auto json = nlohmann::json::parse(bench_result_to_json(r, "m.onnx", "cuda"));
  ASSERT_TRUE(json["warnings"].is_array());
  std::vector<std::string> kinds;
  for (const auto& w : json["warnings"]) {
    kinds.push_back(w["kind"]);
    EXPECT_FALSE(w["message"].get<std::string>().empty());
  }
  EXPECT_EQ(kinds, (std::vector<std::string>{"enqueue_bound", "few_iterations"}));
  std::string text = bench_result_to_text(r);
  EXPECT_NE(text.find("Warning: Mean enqueue time"), std::string::npos) << text;
  EXPECT_NE(text.find("Warning: Only 5"), std::string::npos) << text;
  EXPECT_TRUE(nlohmann::json::parse(bench_result_to_json(healthy_cuda_run(), "m", "cuda"))["warnings"].empty());
}

}  // namespace
}  // namespace kiln
