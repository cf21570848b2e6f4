// The four phases of a query (enqueue, H2D, compute, D2H) as one enumeration,
// so that statistics, reports and warnings walk them in one loop.
#pragma once

#include <array>
#include <vector>

#include "kiln/bench.h"

namespace kiln {

enum class BenchPhase { kEnqueue, kH2d, kCompute, kD2h };
inline constexpr std::array<BenchPhase, 4> kBenchPhases = {BenchPhase::kEnqueue, BenchPhase::kH2d, BenchPhase::kCompute,
                                                           BenchPhase::kD2h};

double phase_ms(const QueryTimings& timings, BenchPhase phase);
// "enqueue", "h2d", "compute", "d2h": JSON keys get "_ms" appended.
const char* phase_name(BenchPhase phase);
const LatencyStats& phase_stats(const BenchResult& result, BenchPhase phase);
LatencyStats& phase_stats(BenchResult& result, BenchPhase phase);
// The phase of every timed query, in run order.
std::vector<double> phase_values(const BenchResult& result, BenchPhase phase);

}  // namespace kiln
