// Parameter sweeps for `kiln bench --sweep 'batch=1,8,32 streams=1,2,4'`: the
// grid, the reports of its runs (text table, CSV, JSON) and a plot of
// throughput against tail latency (SVG).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "kiln/bench.h"
#include "kiln/status.h"

namespace kiln {

// One swept setting and its values, in the order given. Booleans are 0 or 1.
struct SweepAxis {
  std::string key;
  std::vector<int64_t> values;
};

struct SweepSpec {
  std::vector<SweepAxis> axes;
};

// The keys a sweep may set, each mapping to a `kiln bench` option: batch
// (--batch, >= 1), streams (--streams, 1..64), and the booleans cuda_graph,
// spin_wait, no_data_transfers (0/1, false/true, off/on).
const std::vector<std::string>& sweep_keys();

// "batch=1,8,32 streams=1,2" (axes separated by spaces). Errors quote the bad
// token: an unknown key, a value out of range, a key given twice, no values.
Expected<SweepSpec> parse_sweep_spec(const std::string& text);

// One grid point: (key, value) in the order of the spec's axes.
using SweepPoint = std::vector<std::pair<std::string, int64_t>>;

// The cartesian product of the axes; the last axis varies fastest.
std::vector<SweepPoint> expand_sweep(const SweepSpec& spec);

// "batch=8 streams=2"; `skip` leaves out one key (e.g. the one a plot puts on its points).
std::string sweep_point_to_string(const SweepPoint& point, const std::string& skip = "");

// The value of `key` in `point`, or `fallback` when the sweep does not set it.
int64_t sweep_value(const SweepPoint& point, const std::string& key, int64_t fallback);

struct SweepRun {
  SweepPoint point;
  BenchResult result;
};

// A fixed column set whatever was swept (batch, streams, the booleans,
// throughput, latency statistics, mean phase times, warning kinds), one row per run.
std::string sweep_to_csv(const std::vector<SweepRun>& runs);
// {"model", "backend", "sweep", "runs": [{"config": {key: value}, ...the bench JSON of the run}]}.
std::string sweep_to_json(const std::vector<SweepRun>& runs, const std::string& model, const std::string& backend,
                          const std::string& spec_text);
// A Markdown table for the terminal: the swept keys, items/s, qps, median and p99 latency, mean compute.
std::string sweep_to_table(const std::vector<SweepRun>& runs);

// ---- plotting ---------------------------------------------------------------

struct PlotPoint {
  double x = 0;
  double y = 0;
  std::string label;  // drawn beside the marker; may be empty
};

struct PlotSeries {
  std::string name;               // legend entry
  std::vector<PlotPoint> points;  // joined in this order
};

struct PlotSpec {
  std::string title;
  std::string x_label;
  std::string y_label;
  std::vector<PlotSeries> series;
};

// A self-contained SVG: both axes from 0 with 1-2-5 ticks, grid lines, one
// <polyline> with circle markers per series, point labels and a legend.
std::string line_plot_svg(const PlotSpec& plot);

// Throughput (items/s, y) against p99 latency (ms, x): one series per setting of
// the swept keys other than batch, in batch order, points labelled "b=<batch>".
PlotSpec sweep_plot(const std::vector<SweepRun>& runs, const std::string& title);

}  // namespace kiln
