// What every benchmark loop (one context, several streams, chunked) shares:
// the check of its options and the summary it ends with.
#pragma once

#include "kiln/bench.h"

namespace kiln {

// Error when the options ask for neither an iteration nor a duration.
Status check_bench_options(const BenchOptions& options);

// From the recorded queries (latencies_ms, query_timings, iterations, wall_s,
// batch): the latency and phase statistics and the throughput.
Status summarize_run(BenchResult& result);

}  // namespace kiln
