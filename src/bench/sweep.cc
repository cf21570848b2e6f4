// Sweep grids: parsing `--sweep`, the cartesian product and the reports of its runs.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "bench/bench_json.h"
#include "kiln/bench_sweep.h"

namespace kiln {
namespace {

bool is_boolean_key(const std::string& key) {
  return key == "cuda_graph" || key == "spin_wait" || key == "no_data_transfers";
}

Expected<int64_t> parse_sweep_value(const std::string& token, const std::string& key, const std::string& item) {
  auto bad = [&](const std::string& why) {
    return invalid_argument("--sweep '" + token + "': '" + item + "' is not " + why);
  };
  if (is_boolean_key(key)) {
    if (item == "0" || item == "false" || item == "off") return int64_t{0};
    if (item == "1" || item == "true" || item == "on") return int64_t{1};
    return bad("0 or 1 (or false/true, off/on)");
  }
  errno = 0;
  char* end = nullptr;
  long long value = std::strtoll(item.c_str(), &end, 10);
  if (item.empty() || end != item.c_str() + item.size() || errno == ERANGE) return bad("an integer");
  if (key == "batch" && value < 1) return bad("a batch size >= 1");
  if (key == "streams" && (value < 1 || value > 64)) return bad("a stream count in [1, 64]");
  return static_cast<int64_t>(value);
}

std::string join_keys() {
  std::string all;
  for (const std::string& k : sweep_keys()) all += (all.empty() ? "" : ", ") + k;
  return all;
}

std::string csv_number(double v) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.6g", v);
  return buffer;
}

}  // namespace

const std::vector<std::string>& sweep_keys() {
  static const std::vector<std::string> keys = {"batch", "streams", "cuda_graph", "spin_wait", "no_data_transfers"};
  return keys;
}

Expected<SweepSpec> parse_sweep_spec(const std::string& text) {
  SweepSpec spec;
  std::istringstream tokens(text);
  std::string token;
  while (tokens >> token) {
    size_t eq = token.find('=');
    if (eq == std::string::npos || eq == 0) {
      return invalid_argument("--sweep '" + token + "': expected KEY=V1,V2,... (keys: " + join_keys() + ")");
    }
    SweepAxis axis;
    axis.key = token.substr(0, eq);
    bool known = false;
    for (const std::string& k : sweep_keys()) known |= k == axis.key;
    if (!known) {
      return invalid_argument("--sweep '" + token + "': unknown key '" + axis.key + "' (keys: " + join_keys() + ")");
    }
    for (const SweepAxis& other : spec.axes) {
      if (other.key == axis.key)
        return invalid_argument("--sweep '" + token + "': key '" + axis.key + "' is given twice");
    }
    std::string values = token.substr(eq + 1);
    size_t start = 0;
    while (true) {
      size_t comma = values.find(',', start);
      std::string item = values.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      KILN_ASSIGN_OR_RETURN(int64_t value, parse_sweep_value(token, axis.key, item));
      axis.values.push_back(value);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    spec.axes.push_back(std::move(axis));
  }
  if (spec.axes.empty()) {
    return invalid_argument("--sweep '" + text + "' sets nothing: expected e.g. 'batch=1,8 streams=1,2'");
  }
  return spec;
}

std::vector<SweepPoint> expand_sweep(const SweepSpec& spec) {
  std::vector<SweepPoint> points = {{}};
  for (const SweepAxis& axis : spec.axes) {
    std::vector<SweepPoint> next;
    for (const SweepPoint& prefix : points) {
      for (int64_t value : axis.values) {
        SweepPoint p = prefix;
        p.emplace_back(axis.key, value);
        next.push_back(std::move(p));
      }
    }
    points = std::move(next);
  }
  return points;
}

std::string sweep_point_to_string(const SweepPoint& point, const std::string& skip) {
  std::string text;
  for (const auto& [key, value] : point) {
    if (key == skip) continue;
    text += (text.empty() ? "" : " ") + key + "=" + std::to_string(value);
  }
  return text;
}

int64_t sweep_value(const SweepPoint& point, const std::string& key, int64_t fallback) {
  for (const auto& [k, v] : point) {
    if (k == key) return v;
  }
  return fallback;
}

std::string sweep_to_csv(const std::vector<SweepRun>& runs) {
  std::string csv =
      "batch,streams,cuda_graph,spin_wait,no_data_transfers,iterations,wall_s,throughput_qps,throughput_items_per_s,"
      "latency_min_ms,latency_mean_ms,latency_median_ms,latency_p90_ms,latency_p95_ms,latency_p99_ms,latency_max_ms,"
      "enqueue_mean_ms,h2d_mean_ms,compute_mean_ms,d2h_mean_ms,warnings\n";
  for (const SweepRun& run : runs) {
    const BenchResult& r = run.result;
    std::string warnings;  // kinds only: a message may hold commas
    for (const BenchWarning& w : bench_warnings(r)) {
      warnings += (warnings.empty() ? "" : ";") + std::string(bench_warning_name(w.kind));
    }
    const double row[] = {r.throughput_qps,    r.throughput_items_per_s, r.latency.min_ms, r.latency.mean_ms,
                          r.latency.median_ms, r.latency.p90_ms,         r.latency.p95_ms, r.latency.p99_ms,
                          r.latency.max_ms,    r.enqueue.mean_ms,        r.h2d.mean_ms,    r.compute.mean_ms,
                          r.d2h.mean_ms};
    csv += std::to_string(r.batch) + "," + std::to_string(r.streams) + "," +
           std::to_string(int{r.execution.cuda_graphs}) + "," + std::to_string(int{r.execution.spin_wait}) + "," +
           std::to_string(int{r.execution.no_data_transfers}) + "," + std::to_string(r.iterations) + "," +
           csv_number(r.wall_s);
    for (double v : row) csv += "," + csv_number(v);
    csv += "," + warnings + "\n";
  }
  return csv;
}

std::string sweep_to_json(const std::vector<SweepRun>& runs, const std::string& model, const std::string& backend,
                          const std::string& spec_text) {
  nlohmann::ordered_json json;
  json["model"] = model;
  json["backend"] = backend;
  json["sweep"] = spec_text;
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const SweepRun& run : runs) {
    nlohmann::ordered_json entry;
    nlohmann::ordered_json config = nlohmann::ordered_json::object();
    for (const auto& [key, value] : run.point) config[key] = value;
    entry["config"] = config;
    const nlohmann::ordered_json report = bench_result_json(run.result, model, backend);
    for (const auto& [key, value] : report.items()) {
      if (key != "model" && key != "backend") entry[key] = value;
    }
    list.push_back(std::move(entry));
  }
  json["runs"] = list;
  return json.dump(2) + "\n";
}

std::string sweep_to_table(const std::vector<SweepRun>& runs) {
  if (runs.empty()) return "";
  std::string header = "|", rule = "|";
  for (const auto& [key, value] : runs[0].point) {
    header += " " + key + " |";
    rule += " ---: |";
  }
  header += " items/s | qps | median ms | p99 ms | compute ms |\n";
  rule += " ---: | ---: | ---: | ---: | ---: |\n";
  std::string table = header + rule;
  char buffer[256];
  for (const SweepRun& run : runs) {
    std::string line = "|";
    for (const auto& [key, value] : run.point) line += " " + std::to_string(value) + " |";
    const BenchResult& r = run.result;
    std::snprintf(buffer, sizeof(buffer), " %.1f | %.1f | %.4f | %.4f | %s |\n", r.throughput_items_per_s,
                  r.throughput_qps, r.latency.median_ms, r.latency.p99_ms,
                  r.phases_measured ? csv_number(r.compute.mean_ms).c_str() : "-");
    table += line + buffer;
  }
  return table;
}

}  // namespace kiln
