// Chrome trace format ("traceEvents", complete events "ph": "X", microseconds),
// which Perfetto and chrome://tracing open. Queries are laid out on as few
// tracks as their overlap needs, so a run with S streams shows S lanes.
//
// Where the backend measured a query's phases (CUDA events), its H2D, compute
// and D2H spans are drawn inside the query on the same lane. The three events
// are consecutive on the query's stream, so the phases tile one interval;
// that interval is anchored at the query's end, since the host observes the
// completion right after the D2H event (to within its wake-up latency,
// microseconds with --spin-wait). The gap before the H2D is host enqueue and
// waiting for the stream.
#include <algorithm>
#include <nlohmann/json.hpp>

#include "kiln/bench.h"

namespace kiln {

std::string bench_trace_json(const BenchResult& result) {
  std::vector<size_t> order(result.spans.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return result.spans[a].begin_s < result.spans[b].begin_s; });
  std::vector<double> track_end;
  nlohmann::ordered_json events = nlohmann::ordered_json::array();
  for (size_t index : order) {
    const QuerySpan& span = result.spans[index];
    size_t track = 0;
    while (track < track_end.size() && track_end[track] > span.begin_s) ++track;
    if (track == track_end.size()) track_end.push_back(0);
    track_end[track] = span.end_s;
    nlohmann::ordered_json e;
    e["name"] = span.ok ? "query" : "query (failed)";
    e["cat"] = "inference";
    e["ph"] = "X";
    e["ts"] = span.begin_s * 1e6;
    e["dur"] = (span.end_s - span.begin_s) * 1e6;
    e["pid"] = 1;
    e["tid"] = static_cast<int>(track);
    e["args"] = {{"query", index}, {"batch", result.batch}};
    events.push_back(e);
    if (index < result.query_timings.size() && result.query_timings[index].valid) {
      const QueryTimings& t = result.query_timings[index];
      if (t.h2d_ms + t.compute_ms + t.d2h_ms <= 0) continue;
      double phase_end_us = span.end_s * 1e6;
      const std::pair<const char*, double> phases[] = {{"D2H", t.d2h_ms}, {"compute", t.compute_ms}, {"H2D", t.h2d_ms}};
      for (const auto& [name, ms] : phases) {
        if (ms <= 0) continue;  // a phase the backend does not have (CPU: no copies)
        const double begin_us = std::max(span.begin_s * 1e6, phase_end_us - ms * 1e3);
        nlohmann::ordered_json p;
        p["name"] = name;
        p["cat"] = "phase";
        p["ph"] = "X";
        p["ts"] = begin_us;
        p["dur"] = phase_end_us - begin_us;
        p["pid"] = 1;
        p["tid"] = static_cast<int>(track);
        p["args"] = {{"query", index}, {"ms", ms}};
        events.push_back(p);
        phase_end_us = begin_us;
      }
    }
  }
  for (size_t t = 0; t < track_end.size(); ++t) {
    events.push_back({{"name", "thread_name"},
                      {"ph", "M"},
                      {"pid", 1},
                      {"tid", static_cast<int>(t)},
                      {"args", {{"name", "stream slot " + std::to_string(t)}}}});
  }
  nlohmann::ordered_json trace;
  trace["traceEvents"] = events;
  trace["displayTimeUnit"] = "ms";
  return trace.dump(1);
}

}  // namespace kiln
