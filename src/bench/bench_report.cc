// Text and JSON reports of a benchmark run.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "kiln/bench.h"

namespace kiln {

std::string bench_result_to_json(const BenchResult& result, const std::string& model, const std::string& backend) {
  nlohmann::ordered_json json;
  json["model"] = model;
  json["backend"] = backend;
  json["batch"] = result.batch;
  json["iterations"] = result.iterations;
  json["warmup_s"] = result.warmup_s;
  json["wall_s"] = result.wall_s;
  if (result.profile >= 0) json["profile"] = result.profile;
  json["streams"] = result.streams;
  json["throughput_qps"] = result.throughput_qps;
  json["throughput_items_per_s"] = result.throughput_items_per_s;
  json["latency_ms"] = {
      {"min", result.latency.min_ms},       {"max", result.latency.max_ms}, {"mean", result.latency.mean_ms},
      {"median", result.latency.median_ms}, {"p90", result.latency.p90_ms}, {"p95", result.latency.p95_ms},
      {"p99", result.latency.p99_ms},
  };
  for (const auto& [percent, ms] : result.extra_percentiles_ms) json["latency_ms"][percentile_key(percent)] = ms;
  return json.dump(2) + "\n";
}

std::string bench_result_to_text(const BenchResult& result) {
  const LatencyStats& l = result.latency;
  char buffer[1024];
  std::snprintf(buffer, sizeof(buffer),
                "Warm-up: %lld queries in %.3f s\n"
                "Timed: %lld queries in %.3f s (batch %lld)\n"
                "Throughput: %.3f qps, %.3f items/s\n"
                "Latency (host to host, ms): min = %.4f, max = %.4f, mean = %.4f, median = %.4f, "
                "p90 = %.4f, p95 = %.4f, p99 = %.4f\n",
                static_cast<long long>(result.warmup_iterations), result.warmup_s,
                static_cast<long long>(result.iterations), result.wall_s, static_cast<long long>(result.batch),
                result.throughput_qps, result.throughput_items_per_s, l.min_ms, l.max_ms, l.mean_ms, l.median_ms,
                l.p90_ms, l.p95_ms, l.p99_ms);
  std::string text = buffer;
  if (!result.extra_percentiles_ms.empty()) {
    text += "Latency percentiles (ms):";
    for (const auto& [percent, ms] : result.extra_percentiles_ms) {
      std::snprintf(buffer, sizeof(buffer), " %s = %.4f", percentile_key(percent).c_str(), ms);
      text += buffer;
    }
    text += "\n";
  }
  // Hints in the spirit of trtexec: say what makes the figures doubtful and which flag helps.
  if (result.iterations < 20) {
    text += "Warning: only " + std::to_string(result.iterations) +
            " timed queries; the upper percentiles are unreliable. Raise --iterations or --duration.\n";
  }
  if (l.median_ms > 0 && l.p99_ms > 2 * l.median_ms && result.iterations >= 20) {
    std::snprintf(buffer, sizeof(buffer),
                  "Warning: p99 latency is %.1fx the median; other load on the machine or too short a "
                  "--warmup can cause this.\n",
                  l.p99_ms / l.median_ms);
    text += buffer;
  }
  return text;
}

}  // namespace kiln
