// Chrome trace format ("traceEvents", complete events "ph": "X", microseconds),
// which Perfetto and chrome://tracing open. Queries are laid out on as few
// tracks as their overlap needs, so a run with S streams shows S lanes.
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
  }
  for (size_t t = 0; t < track_end.size(); ++t) {
    events.push_back({{"name", "thread_name"}, {"ph", "M"}, {"pid", 1}, {"tid", static_cast<int>(t)},
                      {"args", {{"name", "stream slot " + std::to_string(t)}}}});
  }
  nlohmann::ordered_json trace;
  trace["traceEvents"] = events;
  trace["displayTimeUnit"] = "ms";
  return trace.dump(1);
}

}  // namespace kiln
