// Text and JSON reports of a benchmark run.
#include <algorithm>
#include <cstdio>
#include <map>

#include "bench/bench_json.h"
#include "bench/phase_stats.h"

namespace kiln {
namespace {

// The statistics keys of latency_ms and of every phase object; `values` (any
// order) give the requested percentiles.
nlohmann::ordered_json stats_json(const LatencyStats& s, std::vector<double> values,
                                  const std::vector<std::pair<double, double>>& requested) {
  nlohmann::ordered_json json = {
      {"min", s.min_ms}, {"max", s.max_ms}, {"mean", s.mean_ms}, {"median", s.median_ms},
      {"p90", s.p90_ms}, {"p95", s.p95_ms}, {"p99", s.p99_ms},   {"stddev", s.stddev_ms},
  };
  std::sort(values.begin(), values.end());
  for (const auto& [percent, ms] : requested) {
    json[percentile_key(percent)] = values.empty() ? ms : percentile_of_sorted(values, percent);
  }
  return json;
}

}  // namespace

nlohmann::ordered_json bench_result_json(const BenchResult& result, const std::string& model,
                                         const std::string& backend) {
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
  json["total_host_wall_s"] = result.total_host_wall_s;
  // Requested percentiles of latency come from extra_percentiles_ms, so that a
  // result built without per-query latencies still reports them.
  json["latency_ms"] = stats_json(result.latency, {}, result.extra_percentiles_ms);
  if (result.phases_measured) {
    for (BenchPhase phase : kBenchPhases) {
      json[std::string(phase_name(phase)) + "_ms"] =
          stats_json(phase_stats(result, phase), phase_values(result, phase), result.extra_percentiles_ms);
    }
    json["total_compute_ms"] = result.total_compute_ms;
  }
  json["cuda_graph"] = result.execution.cuda_graphs;
  json["no_data_transfers"] = result.execution.no_data_transfers;
  json["spin_wait"] = result.execution.spin_wait;
  nlohmann::ordered_json warnings = nlohmann::ordered_json::array();
  for (const BenchWarning& w : bench_warnings(result)) {
    warnings.push_back({{"kind", bench_warning_name(w.kind)}, {"message", w.message}});
  }
  json["warnings"] = warnings;
  if (!result.layers.empty()) {
    nlohmann::ordered_json layers = nlohmann::ordered_json::array();
    for (const LayerTime& layer : result.layers) {
      layers.push_back({{"name", layer.name},
                        {"op", layer.op},
                        {"runs", layer.runs},
                        {"mean_ms", layer.runs ? layer.total_ms / layer.runs : 0.0}});
    }
    json["layers"] = layers;
  }
  return json;
}

std::string layer_profile_to_text(const std::vector<LayerTime>& layers, size_t top) {
  if (layers.empty()) return {};
  std::vector<const LayerTime*> order;
  double sum = 0;
  for (const LayerTime& layer : layers) {
    order.push_back(&layer);
    sum += layer.runs ? layer.total_ms / layer.runs : 0.0;
  }
  auto mean = [](const LayerTime* l) { return l->runs ? l->total_ms / l->runs : 0.0; };
  std::stable_sort(order.begin(), order.end(), [&](auto* a, auto* b) { return mean(a) > mean(b); });
  std::string text = "Layer profile (mean per query, slowest first; sum " + std::to_string(sum) + " ms over " +
                     std::to_string(layers.size()) + " layers):\n";
  char line[512];
  std::snprintf(line, sizeof(line), "  %10s %7s  %-24s %s\n", "ms", "%", "op", "layer");
  text += line;
  std::map<std::string, double> by_op;
  for (const LayerTime* l : order) by_op[l->op] += mean(l);
  for (size_t i = 0; i < order.size() && i < top; ++i) {
    std::snprintf(line, sizeof(line), "  %10.4f %6.1f%%  %-24s %s\n", mean(order[i]),
                  sum > 0 ? 100.0 * mean(order[i]) / sum : 0.0, order[i]->op.c_str(), order[i]->name.c_str());
    text += line;
  }
  if (order.size() > top) text += "  ... " + std::to_string(order.size() - top) + " more layers\n";
  std::vector<std::pair<double, std::string>> ops;
  for (const auto& [op, ms] : by_op) ops.push_back({ms, op});
  std::sort(ops.rbegin(), ops.rend());
  text += "By op type:\n";
  for (const auto& [ms, op] : ops) {
    std::snprintf(line, sizeof(line), "  %10.4f %6.1f%%  %s\n", ms, sum > 0 ? 100.0 * ms / sum : 0.0, op.c_str());
    text += line;
  }
  return text;
}

std::string bench_result_to_json(const BenchResult& result, const std::string& model, const std::string& backend) {
  return bench_result_json(result, model, backend).dump(2) + "\n";
}

std::string bench_result_to_text(const BenchResult& result) {
  const LatencyStats& l = result.latency;
  char buffer[1024];
  std::snprintf(buffer, sizeof(buffer),
                "Warm-up: %lld queries in %.3f s\n"
                "Timed: %lld queries in %.3f s (batch %lld, %d in flight)\n"
                "Throughput: %.3f qps, %.3f items/s\n"
                "Latency (host to host, ms): min = %.4f, max = %.4f, mean = %.4f, median = %.4f, "
                "p90 = %.4f, p95 = %.4f, p99 = %.4f\n",
                static_cast<long long>(result.warmup_iterations), result.warmup_s,
                static_cast<long long>(result.iterations), result.wall_s, static_cast<long long>(result.batch),
                result.streams, result.throughput_qps, result.throughput_items_per_s, l.min_ms, l.max_ms, l.mean_ms,
                l.median_ms, l.p90_ms, l.p95_ms, l.p99_ms);
  std::string text = buffer;
  if (!result.extra_percentiles_ms.empty()) {
    text += "Latency percentiles (ms):";
    for (const auto& [percent, ms] : result.extra_percentiles_ms) {
      std::snprintf(buffer, sizeof(buffer), " %s = %.4f", percentile_key(percent).c_str(), ms);
      text += buffer;
    }
    text += "\n";
  }
  if (result.phases_measured) {
    static constexpr const char* kTitles[] = {"Enqueue", "H2D", "Compute", "D2H"};
    std::snprintf(buffer, sizeof(buffer), "%-16s %10s %10s %10s %10s %10s\n", "Phase (ms)", "min", "mean", "median",
                  "max", "p99");
    text += buffer;
    auto row = [&](const char* title, const LatencyStats& s) {
      std::snprintf(buffer, sizeof(buffer), "%-16s %10.4f %10.4f %10.4f %10.4f %10.4f\n", title, s.min_ms, s.mean_ms,
                    s.median_ms, s.max_ms, s.p99_ms);
      text += buffer;
    };
    for (BenchPhase phase : kBenchPhases) {
      const LatencyStats& s = phase_stats(result, phase);
      if (s.max_ms > 0) row(kTitles[static_cast<int>(phase)], s);  // a phase the backend does not have is all zero
    }
    row("Latency", l);
    std::snprintf(buffer, sizeof(buffer), "Total compute: %.3f ms; total host wall time: %.3f s\n",
                  result.total_compute_ms, result.total_host_wall_s);
    text += buffer;
  }
  text += layer_profile_to_text(result.layers);
  for (const BenchWarning& w : bench_warnings(result)) text += "Warning: " + w.message + "\n";
  return text;
}

}  // namespace kiln
