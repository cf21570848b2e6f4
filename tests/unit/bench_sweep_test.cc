// Sweep grids: parsing, the cartesian product, the CSV/JSON/table reports and
// the SVG plot, on synthetic results.
#include "kiln/bench_sweep.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <sstream>

namespace kiln {
namespace {

std::string error_of(const std::string& spec) {
  auto parsed = parse_sweep_spec(spec);
  EXPECT_FALSE(parsed.ok()) << spec;
  return parsed.ok() ? "" : parsed.status().message();
}

TEST(BenchSweep, ParsesAxesInOrder) {
  auto spec = parse_sweep_spec("  batch=1,8,32   streams=1,2 cuda_graph=0,true,off ");
  ASSERT_TRUE(spec.ok()) << spec.status().to_string();
  ASSERT_EQ(spec->axes.size(), 3u);
  EXPECT_EQ(spec->axes[0].key, "batch");
  EXPECT_EQ(spec->axes[0].values, (std::vector<int64_t>{1, 8, 32}));
  EXPECT_EQ(spec->axes[1].values, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(spec->axes[2].values, (std::vector<int64_t>{0, 1, 0}));
}

TEST(BenchSweep, ErrorsNameTheBadToken) {
  std::string e = error_of("batch=1,x streams=1");
  EXPECT_NE(e.find("'batch=1,x'"), std::string::npos) << e;
  EXPECT_NE(e.find("'x'"), std::string::npos) << e;
  e = error_of("batch=1 colour=2");
  EXPECT_NE(e.find("'colour'"), std::string::npos) << e;
  EXPECT_NE(e.find("streams"), std::string::npos) << "lists the known keys: " << e;
  e = error_of("batch=0");
  EXPECT_NE(e.find("'0'"), std::string::npos) << e;
  e = error_of("streams=65");
  EXPECT_NE(e.find("'65'"), std::string::npos) << e;
  e = error_of("cuda_graph=2");
  EXPECT_NE(e.find("'2'"), std::string::npos) << e;
  e = error_of("batch=1 batch=2");
  EXPECT_NE(e.find("twice"), std::string::npos) << e;
  e = error_of("batch");
  EXPECT_NE(e.find("'batch'"), std::string::npos) << e;
  e = error_of("batch=1,,2");
  EXPECT_NE(e.find("''"), std::string::npos) << e;
  error_of("");
  error_of("batch=99999999999999999999");
}

TEST(BenchSweep, ExpandsTheCartesianProductLastAxisFastest) {
  auto spec = parse_sweep_spec("batch=1,8,32 streams=1,2");
  ASSERT_TRUE(spec.ok());
  std::vector<SweepPoint> points = expand_sweep(*spec);
  ASSERT_EQ(points.size(), 6u);
  EXPECT_EQ(sweep_point_to_string(points[0]), "batch=1 streams=1");
  EXPECT_EQ(sweep_point_to_string(points[1]), "batch=1 streams=2");
  EXPECT_EQ(sweep_point_to_string(points[5]), "batch=32 streams=2");
  EXPECT_EQ(sweep_point_to_string(points[3], "batch"), "streams=2");
  EXPECT_EQ(sweep_value(points[4], "batch", 0), 32);
  EXPECT_EQ(sweep_value(points[4], "cuda_graph", 7), 7);
}

// Synthetic runs: throughput grows with batch and streams, latency with batch.
std::vector<SweepRun> synthetic_runs() {
  std::vector<SweepRun> runs;
  for (int64_t batch : {1, 8, 32}) {
    for (int streams : {1, 2}) {
      SweepRun run;
      run.point = {{"batch", batch}, {"streams", streams}};
      BenchResult& r = run.result;
      r.batch = batch;
      r.streams = streams;
      r.iterations = 100;
      r.wall_s = 1.5;
      r.latency.count = 100;
      r.latency.median_ms = 0.5 + 0.25 * static_cast<double>(batch);
      r.latency.mean_ms = r.latency.median_ms;
      r.latency.p99_ms = r.latency.median_ms * 1.2;
      r.latency.max_ms = r.latency.p99_ms;
      r.latency.min_ms = r.latency.median_ms * 0.9;
      r.throughput_qps = 1000.0 * streams / r.latency.median_ms;
      r.throughput_items_per_s = r.throughput_qps * static_cast<double>(batch);
      runs.push_back(std::move(run));
    }
  }
  return runs;
}

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(text);
  while (std::getline(in, part, separator)) parts.push_back(part);
  return parts;
}

TEST(BenchSweep, CsvHasOneRowPerRunUnderAFixedHeader) {
  auto runs = synthetic_runs();
  std::vector<std::string> lines = split(sweep_to_csv(runs), '\n');
  ASSERT_EQ(lines.size(), runs.size() + 1);
  std::vector<std::string> header = split(lines[0], ',');
  EXPECT_EQ(header[0], "batch");
  EXPECT_EQ(header[1], "streams");
  auto column = [&](const std::string& name) {
    auto it = std::find(header.begin(), header.end(), name);
    EXPECT_NE(it, header.end()) << name;
    return static_cast<size_t>(it - header.begin());
  };
  const size_t items = column("throughput_items_per_s"), p99 = column("latency_p99_ms");
  column("compute_mean_ms");
  column("warnings");
  for (size_t i = 0; i < runs.size(); ++i) {
    std::vector<std::string> cells = split(lines[i + 1], ',');
    cells.resize(header.size());  // a trailing empty warnings cell
    EXPECT_EQ(std::stoll(cells[0]), runs[i].result.batch);
    EXPECT_EQ(std::stoi(cells[1]), runs[i].result.streams);
    EXPECT_NEAR(std::stod(cells[items]), runs[i].result.throughput_items_per_s,
                1e-5 * runs[i].result.throughput_items_per_s);
    EXPECT_NEAR(std::stod(cells[p99]), runs[i].result.latency.p99_ms, 1e-5 * runs[i].result.latency.p99_ms);
  }
}

TEST(BenchSweep, JsonCarriesConfigAndTheRunReport) {
  auto runs = synthetic_runs();
  auto json = nlohmann::json::parse(sweep_to_json(runs, "m.onnx", "cpu", "batch=1,8,32 streams=1,2"));
  EXPECT_EQ(json["model"], "m.onnx");
  EXPECT_EQ(json["sweep"], "batch=1,8,32 streams=1,2");
  ASSERT_EQ(json["runs"].size(), runs.size());
  const auto& third = json["runs"][2];
  EXPECT_EQ(third["config"]["batch"], 8);
  EXPECT_EQ(third["config"]["streams"], 1);
  EXPECT_DOUBLE_EQ(third["latency_ms"]["p99"].get<double>(), runs[2].result.latency.p99_ms);
  EXPECT_DOUBLE_EQ(third["throughput_items_per_s"].get<double>(), runs[2].result.throughput_items_per_s);

  std::string table = sweep_to_table(runs);
  EXPECT_EQ(split(table, '\n').size(), runs.size() + 2);
  EXPECT_NE(table.find("| batch | streams |"), std::string::npos) << table;
}

// Tags open and close in order (self-closing ones aside): enough to catch a
// malformed document without an XML parser.
bool balanced_tags(const std::string& svg, std::string* why) {
  std::vector<std::string> open;
  for (size_t at = svg.find('<'); at != std::string::npos; at = svg.find('<', at + 1)) {
    size_t end = svg.find('>', at);
    if (end == std::string::npos) {
      *why = "unterminated tag";
      return false;
    }
    std::string tag = svg.substr(at + 1, end - at - 1);
    if (tag.empty()) {
      *why = "empty tag";
      return false;
    }
    if (tag.back() == '/') continue;
    std::string name = tag.substr(tag[0] == '/' ? 1 : 0);
    name = name.substr(0, name.find_first_of(" \n"));
    if (tag[0] != '/') {
      open.push_back(name);
    } else if (open.empty() || open.back() != name) {
      *why = "</" + name + "> closes " + (open.empty() ? "nothing" : open.back());
      return false;
    } else {
      open.pop_back();
    }
  }
  if (!open.empty()) *why = "<" + open.back() + "> is never closed";
  return open.empty();
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(BenchSweep, PlotHasOneSeriesPerStreamsValueLabelledByBatch) {
  auto runs = synthetic_runs();
  PlotSpec plot = sweep_plot(runs, "kiln bench m.onnx <cpu> & co");
  ASSERT_EQ(plot.series.size(), 2u);
  EXPECT_EQ(plot.series[0].name, "streams=1");
  EXPECT_EQ(plot.series[1].name, "streams=2");
  ASSERT_EQ(plot.series[1].points.size(), 3u);
  EXPECT_EQ(plot.series[1].points[2].label, "b=32");
  EXPECT_DOUBLE_EQ(plot.series[1].points[2].x, runs[5].result.latency.p99_ms);
  EXPECT_DOUBLE_EQ(plot.series[1].points[2].y, runs[5].result.throughput_items_per_s);

  std::string svg = line_plot_svg(plot);
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  std::string why;
  EXPECT_TRUE(balanced_tags(svg, &why)) << why;
  EXPECT_EQ(count(svg, "<polyline"), 2u);
  EXPECT_EQ(count(svg, "<circle"), 6u);
  for (const char* text : {">b=1<", ">b=8<", ">b=32<", ">streams=1<", ">streams=2<", ">p99 latency (ms)<",
                           ">throughput (items/s)<", "&lt;cpu&gt; &amp; co"}) {
    EXPECT_NE(svg.find(text), std::string::npos) << text;
  }
  // Axes end on a 1-2-5 tick above the data: p99 up to 10.2 ms -> steps of 5 to 15;
  // items/s up to 7529 -> steps of 2000 to 8000.
  EXPECT_NE(svg.find(">15<"), std::string::npos) << svg;
  EXPECT_EQ(svg.find(">20<"), std::string::npos) << svg;
  EXPECT_NE(svg.find(">8000<"), std::string::npos) << svg;
  EXPECT_EQ(svg.find(">10000<"), std::string::npos) << svg;
}

TEST(BenchSweep, PlotOfAnUnsweptStreamsCountIsOneSeries) {
  auto runs = synthetic_runs();
  std::vector<SweepRun> batch_only;
  for (SweepRun& run : runs) {
    if (run.result.streams != 1) continue;
    run.point = {{"batch", run.result.batch}};
    batch_only.push_back(run);
  }
  PlotSpec plot = sweep_plot(batch_only, "t");
  ASSERT_EQ(plot.series.size(), 1u);
  EXPECT_EQ(plot.series[0].name, "streams=1");
  EXPECT_EQ(count(line_plot_svg(plot), "<polyline"), 1u);
  EXPECT_EQ(count(line_plot_svg(PlotSpec{}), "<polyline"), 0u);  // nothing to draw is still a document
}

}  // namespace
}  // namespace kiln
