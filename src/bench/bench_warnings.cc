// Hints about a run's figures in the spirit of trtexec's: each names the
// numbers that raised it and the flag worth trying next.
#include <cmath>
#include <cstdio>
#include <string>

#include "kiln/bench.h"

namespace kiln {
namespace {

// Thresholds. Enqueue within 80% of compute leaves the device waiting on the
// host as soon as anything else (a copy, a callback) adds host time.
constexpr double kEnqueueBoundFraction = 0.8;
constexpr double kUnstableVariation = 0.10;  // stddev / mean of latency
constexpr double kTailToMedian = 2.0;        // p99 / median
constexpr double kMaxToMedian = 10.0;        // max / median
constexpr int64_t kMinIterations = 20;

std::string format(const char* pattern, auto... values) {
  char buffer[512];
  std::snprintf(buffer, sizeof(buffer), pattern, values...);
  return buffer;
}

void check_enqueue_bound(const BenchResult& r, std::vector<BenchWarning>& out) {
  if (r.backend != BackendKind::kCuda || !r.phases_measured || r.compute.mean_ms <= 0) return;
  if (r.enqueue.mean_ms < kEnqueueBoundFraction * r.compute.mean_ms) return;
  std::string message = format(
      "Mean enqueue time (%.4f ms) is %.0f%% of mean compute time (%.4f ms): throughput may be bound by issuing "
      "work rather than running it, leaving the device idle.",
      r.enqueue.mean_ms, 100 * r.enqueue.mean_ms / r.compute.mean_ms, r.compute.mean_ms);
  message += r.execution.cuda_graphs
                 ? " CUDA graphs are already in use; a larger --batch spreads the cost over more items."
                 : " Try --cuda-graph to launch each query's kernels as one graph.";
  out.push_back({BenchWarningKind::kEnqueueBound, message});
}

void check_transfer_bound(const BenchResult& r, std::vector<BenchWarning>& out) {
  if (!r.phases_measured) return;
  const double transfers = r.h2d.mean_ms + r.d2h.mean_ms;
  if (transfers <= 0 || transfers <= r.compute.mean_ms) return;
  std::string message = format(
      "Mean H2D + D2H time (%.4f + %.4f ms) exceeds mean compute time (%.4f ms): the figures are bound by data "
      "transfers rather than compute.",
      r.h2d.mean_ms, r.d2h.mean_ms, r.compute.mean_ms);
  std::string advice;
  if (r.backend == BackendKind::kCuda && !r.execution.no_data_transfers) {
    advice = " Add --no-data-transfers to measure compute alone";
  }
  if (r.streams <= 1) {
    advice += advice.empty() ? " Use --streams 2 or more to overlap copies with compute"
                             : ", or --streams 2 or more to overlap copies with compute";
  }
  if (!advice.empty()) message += advice + ".";
  out.push_back({BenchWarningKind::kTransferBound, message});
}

void check_unstable(const BenchResult& r, std::vector<BenchWarning>& out) {
  const LatencyStats& l = r.latency;
  if (l.count < 2 || l.mean_ms <= 0 || l.median_ms <= 0) return;
  const double variation = l.stddev_ms / l.mean_ms;
  const bool varies = variation > kUnstableVariation;
  const bool long_tail = l.p99_ms > kTailToMedian * l.median_ms && r.iterations >= kMinIterations;
  const bool outlier = l.max_ms > kMaxToMedian * l.median_ms;
  if (!varies && !long_tail && !outlier) return;
  std::string message = format(
      "Latency is unstable: coefficient of variation %.1f%% (stddev %.4f ms, mean %.4f ms), median %.4f ms, "
      "p99 %.4f ms (%.1fx the median), max %.4f ms (%.1fx). Other load on the machine, clock changes or too short "
      "a warm-up cause this; try a longer --duration and --warmup",
      100 * variation, l.stddev_ms, l.mean_ms, l.median_ms, l.p99_ms, l.p99_ms / l.median_ms, l.max_ms,
      l.max_ms / l.median_ms);
  if (r.backend == BackendKind::kCuda && !r.execution.spin_wait) message += ", or --spin-wait";
  out.push_back({BenchWarningKind::kUnstable, message + "."});
}

void check_few_iterations(const BenchResult& r, std::vector<BenchWarning>& out) {
  std::string message;
  if (r.iterations < kMinIterations) {
    message = "Only " + std::to_string(r.iterations) + " timed queries: the upper percentiles are unreliable.";
  }
  // A percentile p needs a sample above it: at least 100 / (100 - p) queries.
  for (const auto& [percent, ms] : r.extra_percentiles_ms) {
    if (percent >= 100 || percent <= 0) continue;
    // 100 - 99.9 is not exact in binary: without the slack p99.9 would ask for 1001.
    const double needed = std::ceil(100.0 / (100.0 - percent) - 1e-6);
    if (static_cast<double>(r.iterations) >= needed) continue;
    message += (message.empty() ? "" : " ") +
               format("%s needs at least %.0f queries to rest on measured values; %lld ran.",
                      percentile_key(percent).c_str(), needed, static_cast<long long>(r.iterations));
  }
  if (message.empty()) return;
  out.push_back({BenchWarningKind::kFewIterations, message + " Raise --iterations or --duration."});
}

}  // namespace

const char* bench_warning_name(BenchWarningKind kind) {
  switch (kind) {
    case BenchWarningKind::kEnqueueBound:
      return "enqueue_bound";
    case BenchWarningKind::kTransferBound:
      return "transfer_bound";
    case BenchWarningKind::kUnstable:
      return "unstable";
    case BenchWarningKind::kFewIterations:
      return "few_iterations";
  }
  return "unknown";
}

std::vector<BenchWarning> bench_warnings(const BenchResult& result) {
  std::vector<BenchWarning> warnings;
  check_enqueue_bound(result, warnings);
  check_transfer_bound(result, warnings);
  check_unstable(result, warnings);
  check_few_iterations(result, warnings);
  return warnings;
}

}  // namespace kiln
