#include "bench/bench_loop_support.h"

namespace kiln {

Status check_bench_options(const BenchOptions& options) {
  if (options.min_iterations < 1 && options.min_duration_s <= 0) {
    return invalid_argument("the benchmark needs at least one iteration or a positive duration");
  }
  return ok_status();
}

Status summarize_run(BenchResult& result) {
  KILN_ASSIGN_OR_RETURN(result.latency, compute_latency_stats(result.latencies_ms));
  KILN_RETURN_IF_ERROR(summarize_phases(result));
  if (result.wall_s > 0) {
    result.throughput_qps = static_cast<double>(result.iterations) / result.wall_s;
    result.throughput_items_per_s = result.throughput_qps * static_cast<double>(result.batch);
  }
  return ok_status();
}

}  // namespace kiln
