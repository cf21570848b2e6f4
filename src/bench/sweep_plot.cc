// A small SVG line plot (no external tools): linear axes from 0, 1-2-5 ticks,
// one polyline with markers per series, and the sweep's throughput-vs-latency view.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iterator>
#include <map>

#include "kiln/bench_sweep.h"

namespace kiln {
namespace {

constexpr double kWidth = 760, kHeight = 480;
constexpr double kLeft = 80, kRight = 190, kTop = 48, kBottom = 64;  // margins: room for labels and the legend
constexpr int kTargetTicks = 5;
constexpr const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                   "#9467bd", "#8c564b", "#e377c2", "#17becf"};

std::string xml_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string number(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.2f", v);
  return buffer;
}

// The smallest 1, 2 or 5 times a power of ten that is at least `raw`.
double nice_step(double raw) {
  if (!(raw > 0) || !std::isfinite(raw)) return 1;
  double power = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (m * power >= raw * (1 - 1e-9)) return m * power;
  }
  return 10 * power;
}

struct Axis {
  double step = 1;
  double max = 1;
  // Tick labels at the precision the step needs: 0.25 -> "0.25", 2000 -> "2000".
  std::string label(double v) const {
    int decimals = std::max(0, static_cast<int>(std::ceil(-std::log10(step) - 1e-9)));
    char buffer[32];
    std::snprintf(buffer, sizeof(buffer), "%.*f", decimals, v);
    return buffer;
  }
};

Axis axis_for(double data_max) {
  Axis axis;
  if (!(data_max > 0) || !std::isfinite(data_max)) data_max = 1;
  axis.step = nice_step(data_max / kTargetTicks);
  axis.max = std::ceil(data_max / axis.step * (1 - 1e-9)) * axis.step;
  return axis;
}

}  // namespace

std::string line_plot_svg(const PlotSpec& plot) {
  double x_data = 0, y_data = 0;
  for (const PlotSeries& s : plot.series) {
    for (const PlotPoint& p : s.points) {
      if (std::isfinite(p.x)) x_data = std::max(x_data, p.x);
      if (std::isfinite(p.y)) y_data = std::max(y_data, p.y);
    }
  }
  const Axis x_axis = axis_for(x_data), y_axis = axis_for(y_data);
  const double plot_w = kWidth - kLeft - kRight, plot_h = kHeight - kTop - kBottom;
  auto px = [&](double x) { return kLeft + plot_w * std::clamp(x / x_axis.max, 0.0, 1.0); };
  auto py = [&](double y) { return kTop + plot_h * (1 - std::clamp(y / y_axis.max, 0.0, 1.0)); };

  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + number(kWidth) + "\" height=\"" +
                    number(kHeight) + "\" viewBox=\"0 0 " + number(kWidth) + " " + number(kHeight) +
                    "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  svg += "<rect x=\"0\" y=\"0\" width=\"" + number(kWidth) + "\" height=\"" + number(kHeight) + "\" fill=\"white\"/>\n";
  svg += "<text x=\"" + number(kLeft + plot_w / 2) + "\" y=\"28\" text-anchor=\"middle\" font-size=\"15\">" +
         xml_escape(plot.title) + "</text>\n";

  // Grid and ticks.
  for (int i = 0; x_axis.step * i <= x_axis.max * (1 + 1e-9); ++i) {
    double v = x_axis.step * i, x = px(v);
    svg += "<line x1=\"" + number(x) + "\" y1=\"" + number(kTop) + "\" x2=\"" + number(x) + "\" y2=\"" +
           number(kTop + plot_h) + "\" stroke=\"#e0e0e0\"/>\n";
    svg += "<text x=\"" + number(x) + "\" y=\"" + number(kTop + plot_h + 18) + "\" text-anchor=\"middle\">" +
           x_axis.label(v) + "</text>\n";
  }
  for (int i = 0; y_axis.step * i <= y_axis.max * (1 + 1e-9); ++i) {
    double v = y_axis.step * i, y = py(v);
    svg += "<line x1=\"" + number(kLeft) + "\" y1=\"" + number(y) + "\" x2=\"" + number(kLeft + plot_w) + "\" y2=\"" +
           number(y) + "\" stroke=\"#e0e0e0\"/>\n";
    svg += "<text x=\"" + number(kLeft - 8) + "\" y=\"" + number(y + 4) + "\" text-anchor=\"end\">" + y_axis.label(v) +
           "</text>\n";
  }
  svg += "<rect x=\"" + number(kLeft) + "\" y=\"" + number(kTop) + "\" width=\"" + number(plot_w) + "\" height=\"" +
         number(plot_h) + "\" fill=\"none\" stroke=\"black\"/>\n";
  svg += "<text x=\"" + number(kLeft + plot_w / 2) + "\" y=\"" + number(kHeight - 18) + "\" text-anchor=\"middle\">" +
         xml_escape(plot.x_label) + "</text>\n";
  const double y_mid = kTop + plot_h / 2;
  svg += "<text x=\"20\" y=\"" + number(y_mid) + "\" text-anchor=\"middle\" transform=\"rotate(-90 20 " +
         number(y_mid) + ")\">" + xml_escape(plot.y_label) + "</text>\n";

  // Series, then the legend to the right of the plot area.
  for (size_t i = 0; i < plot.series.size(); ++i) {
    const PlotSeries& s = plot.series[i];
    const std::string color = kColors[i % std::size(kColors)];
    std::string points;
    for (const PlotPoint& p : s.points) points += (points.empty() ? "" : " ") + number(px(p.x)) + "," + number(py(p.y));
    svg += "<g class=\"series\">\n<polyline fill=\"none\" stroke=\"" + color + "\" stroke-width=\"2\" points=\"" +
           points + "\"/>\n";
    for (const PlotPoint& p : s.points) {
      svg += "<circle cx=\"" + number(px(p.x)) + "\" cy=\"" + number(py(p.y)) + "\" r=\"4\" fill=\"" + color + "\"/>\n";
      if (!p.label.empty()) {
        svg += "<text x=\"" + number(px(p.x) + 6) + "\" y=\"" + number(py(p.y) - 6) + "\" font-size=\"10\" fill=\"" +
               color + "\">" + xml_escape(p.label) + "</text>\n";
      }
    }
    svg += "</g>\n";
    const double ly = kTop + 12 + 20 * static_cast<double>(i), lx = kLeft + plot_w + 16;
    svg += "<line x1=\"" + number(lx) + "\" y1=\"" + number(ly) + "\" x2=\"" + number(lx + 24) + "\" y2=\"" +
           number(ly) + "\" stroke=\"" + color + "\" stroke-width=\"2\"/>\n";
    svg += "<text x=\"" + number(lx + 30) + "\" y=\"" + number(ly + 4) + "\">" + xml_escape(s.name) + "</text>\n";
  }
  svg += "</svg>\n";
  return svg;
}

PlotSpec sweep_plot(const std::vector<SweepRun>& runs, const std::string& title) {
  PlotSpec plot;
  plot.title = title;
  plot.x_label = "p99 latency (ms)";
  plot.y_label = "throughput (items/s)";
  // Series keyed by every swept setting except batch, in order of first appearance.
  std::vector<std::string> names;
  std::map<std::string, std::vector<const SweepRun*>> members;
  for (const SweepRun& run : runs) {
    std::string name = sweep_point_to_string(run.point, "batch");
    if (name.empty()) name = "streams=" + std::to_string(run.result.streams);
    if (!members.count(name)) names.push_back(name);
    members[name].push_back(&run);
  }
  for (const std::string& name : names) {
    auto& list = members[name];
    std::stable_sort(list.begin(), list.end(),
                     [](const SweepRun* a, const SweepRun* b) { return a->result.batch < b->result.batch; });
    PlotSeries series{name, {}};
    for (const SweepRun* run : list) {
      series.points.push_back(
          {run->result.latency.p99_ms, run->result.throughput_items_per_s, "b=" + std::to_string(run->result.batch)});
    }
    plot.series.push_back(std::move(series));
  }
  return plot;
}

}  // namespace kiln
