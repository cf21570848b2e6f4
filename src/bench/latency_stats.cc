#include <algorithm>
#include <cmath>
#include <numeric>

#include "kiln/bench.h"

namespace kiln {

double percentile_of_sorted(std::span<const double> sorted, double percent) {
  if (sorted.empty()) return 0;
  percent = std::clamp(percent, 0.0, 100.0);
  double rank = percent / 100.0 * static_cast<double>(sorted.size() - 1);
  size_t lower = static_cast<size_t>(std::floor(rank));
  size_t upper = std::min(lower + 1, sorted.size() - 1);
  double fraction = rank - static_cast<double>(lower);
  return sorted[lower] + (sorted[upper] - sorted[lower]) * fraction;
}

Expected<LatencyStats> compute_latency_stats(std::vector<double> latencies_ms) {
  if (latencies_ms.empty()) return invalid_argument("no latencies to summarise: the benchmark ran no queries");
  std::sort(latencies_ms.begin(), latencies_ms.end());
  LatencyStats stats;
  stats.count = latencies_ms.size();
  stats.min_ms = latencies_ms.front();
  stats.max_ms = latencies_ms.back();
  stats.mean_ms = std::accumulate(latencies_ms.begin(), latencies_ms.end(), 0.0) / static_cast<double>(stats.count);
  stats.median_ms = percentile_of_sorted(latencies_ms, 50);
  stats.p90_ms = percentile_of_sorted(latencies_ms, 90);
  stats.p95_ms = percentile_of_sorted(latencies_ms, 95);
  stats.p99_ms = percentile_of_sorted(latencies_ms, 99);
  return stats;
}

}  // namespace kiln
