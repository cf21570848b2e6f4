#include "build_progress.h"

#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>

namespace kiln::cli {
namespace {

struct PrinterState {
  bool terminal = false;
  bool verbose = false;
  bool line_open = false;  // a status line is on screen without its newline
  size_t last_decile = 0;
};

std::string status_line(const BuildProgress& p) {
  char buffer[128];
  std::snprintf(buffer, sizeof(buffer), "Building: tactics %zu/%zu layers, %.1f s", p.layers_done, p.layers_total,
                p.elapsed_seconds);
  return buffer;
}

std::string layer_line(const BuildProgress& p) {
  std::string line = "  " + p.layer + " (" + p.op_type + "), profile " + std::to_string(p.profile) + ": ";
  if (p.tactic.empty()) return line + "no tactic fits; the heuristic chooses at run time";
  char time[48];
  std::snprintf(time, sizeof(time), ", %.4f ms", p.tactic_ms);
  return line + p.tactic + time + (p.from_cache ? " (timing cache)" : "");
}

std::string totals_line(const BuildProgress& p) {
  char buffer[160];
  std::snprintf(buffer, sizeof(buffer), "Tactics: %zu layers, %zu timed, %zu from the timing cache, %.1f s",
                p.layers_total, p.layers_timed, p.cache_hits, p.elapsed_seconds);
  return buffer;
}

}  // namespace

BuildProgressFn make_build_progress_printer(bool verbose) {
  auto state = std::make_shared<PrinterState>();
  state->terminal = ::isatty(STDERR_FILENO) == 1;
  state->verbose = verbose;
  return [state](const BuildProgress& p) {
    PrinterState& s = *state;
    // On a terminal every other line first clears the status line, then redraws it.
    auto print_line = [&s](const std::string& line) {
      std::fprintf(stderr, "%s%s\n", s.line_open ? "\r\033[K" : "", line.c_str());
      s.line_open = false;
    };
    auto redraw = [&s, &p] {
      std::fprintf(stderr, "\r\033[K%s", status_line(p).c_str());
      std::fflush(stderr);
      s.line_open = true;
    };
    switch (p.event) {
      case BuildProgress::Event::kWarning:
        print_line("kiln: warning: " + p.message);
        break;
      case BuildProgress::Event::kTacticsStart:
        if (p.layers_total == 0) break;
        if (s.terminal) redraw();
        else print_line("Building: timing tactics for " + std::to_string(p.layers_total) + " layers");
        break;
      case BuildProgress::Event::kLayerDone: {
        if (s.verbose) print_line(layer_line(p));
        if (s.terminal) {
          redraw();
        } else if (p.layers_total > 0) {
          const size_t decile = p.layers_done * 10 / p.layers_total;
          if (decile > s.last_decile && p.layers_done < p.layers_total) print_line(status_line(p));
          s.last_decile = decile;
        }
        break;
      }
      case BuildProgress::Event::kTacticsDone:
        if (p.layers_total > 0) print_line(totals_line(p));
        break;
    }
  };
}

}  // namespace kiln::cli
