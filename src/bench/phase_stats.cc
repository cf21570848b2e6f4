// Per-phase statistics of a run from the timings each query reported.
#include "bench/phase_stats.h"

namespace kiln {

double phase_ms(const QueryTimings& timings, BenchPhase phase) {
  switch (phase) {
    case BenchPhase::kEnqueue:
      return timings.enqueue_ms;
    case BenchPhase::kH2d:
      return timings.h2d_ms;
    case BenchPhase::kCompute:
      return timings.compute_ms;
    case BenchPhase::kD2h:
      return timings.d2h_ms;
  }
  return 0;
}

const char* phase_name(BenchPhase phase) {
  switch (phase) {
    case BenchPhase::kEnqueue:
      return "enqueue";
    case BenchPhase::kH2d:
      return "h2d";
    case BenchPhase::kCompute:
      return "compute";
    case BenchPhase::kD2h:
      return "d2h";
  }
  return "?";
}

LatencyStats& phase_stats(BenchResult& result, BenchPhase phase) {
  switch (phase) {
    case BenchPhase::kEnqueue:
      return result.enqueue;
    case BenchPhase::kH2d:
      return result.h2d;
    case BenchPhase::kCompute:
      return result.compute;
    case BenchPhase::kD2h:
      return result.d2h;
  }
  return result.compute;
}

const LatencyStats& phase_stats(const BenchResult& result, BenchPhase phase) {
  return phase_stats(const_cast<BenchResult&>(result), phase);
}

std::vector<double> phase_values(const BenchResult& result, BenchPhase phase) {
  std::vector<double> values;
  values.reserve(result.query_timings.size());
  for (const QueryTimings& t : result.query_timings) values.push_back(phase_ms(t, phase));
  return values;
}

Status summarize_phases(BenchResult& result) {
  result.total_host_wall_s = result.wall_s;
  result.phases_measured = !result.query_timings.empty();
  for (const QueryTimings& t : result.query_timings) result.phases_measured &= t.valid;
  if (!result.phases_measured) {
    result.enqueue = result.h2d = result.compute = result.d2h = LatencyStats{};
    result.total_compute_ms = 0;
    return ok_status();
  }
  for (BenchPhase phase : kBenchPhases) {
    KILN_ASSIGN_OR_RETURN(phase_stats(result, phase), compute_latency_stats(phase_values(result, phase)));
  }
  result.total_compute_ms = 0;
  for (const QueryTimings& t : result.query_timings) result.total_compute_ms += t.compute_ms;
  return ok_status();
}

}  // namespace kiln
