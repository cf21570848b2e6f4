#include <algorithm>
#include <cmath>
#include <numeric>

#include "kiln/bench.h"

namespace kiln {

Status add_requested_percentiles(BenchResult& result, const std::vector<double>& percentiles) {
  std::vector<double> sorted = result.latencies_ms;
  std::sort(sorted.begin(), sorted.end());
  result.extra_percentiles_ms.clear();
  for (double p : percentiles) {
    if (!(p >= 0 && p <= 100)) return invalid_argument("percentile " + std::to_string(p) + " is outside [0, 100]");
    if (sorted.empty()) return invalid_argument("no latencies to take percentiles of");
    result.extra_percentiles_ms.emplace_back(p, percentile_of_sorted(sorted, p));
  }
  return ok_status();
}

Expected<std::vector<double>> parse_percentiles(const std::string& text) {
  std::vector<double> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    char* end = nullptr;
    double v = std::strtod(item.c_str(), &end);
    if (item.empty() || end != item.c_str() + item.size() || !(v >= 0 && v <= 100)) {
      return invalid_argument("--percentiles '" + text + "': '" + item + "' is not a number in [0, 100]");
    }
    out.push_back(v);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

std::string percentile_key(double percent) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "p%g", percent);
  return buffer;
}

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
  double squares = 0;
  for (double v : latencies_ms) squares += (v - stats.mean_ms) * (v - stats.mean_ms);
  stats.stddev_ms = std::sqrt(squares / static_cast<double>(stats.count));
  return stats;
}

}  // namespace kiln
