#include <chrono>
#include <functional>

#include "bench/bench_loop_support.h"
#include "kiln/bench.h"
#include "kiln/session.h"

namespace kiln {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_between(Clock::time_point start, Clock::time_point end) {
  return std::chrono::duration<double>(end - start).count();
}

// The loop behind every single-thread mode: `query` runs one query to
// completion (outputs in host memory) and returns its phase timings
// (valid = false where it has none).
using QueryFn = std::function<Expected<QueryTimings>()>;

Expected<BenchResult> run_query_loop(const QueryFn& query, const BenchOptions& options, BenchResult result) {
  KILN_RETURN_IF_ERROR(check_bench_options(options));
  result.batch = options.batch;
  result.execution = options.execution;

  // Warm-up: with any positive duration at least one query runs, so that lazy
  // set-up (first-touch allocation, oneDNN primitive creation) stays out of the timings.
  Clock::time_point warmup_start = Clock::now();
  if (options.warmup_s > 0) {
    do {
      auto timings = query();
      if (!timings.ok()) return timings.status().with_context("warm-up query");
      ++result.warmup_iterations;
    } while (seconds_between(warmup_start, Clock::now()) < options.warmup_s);
  }
  result.warmup_s = seconds_between(warmup_start, Clock::now());

  // Timed queries. Each returns only once the outputs are in host memory, so
  // each interval is input-in-host-memory to output-in-host-memory.
  Clock::time_point run_start = Clock::now();
  Clock::time_point last_end = run_start;
  while (result.iterations < options.min_iterations || seconds_between(run_start, last_end) < options.min_duration_s) {
    Clock::time_point query_start = Clock::now();
    auto timings = query();
    last_end = Clock::now();
    if (!timings.ok()) return timings.status().with_context("query " + std::to_string(result.iterations));
    result.latencies_ms.push_back(seconds_between(query_start, last_end) * 1e3);
    result.query_timings.push_back(*timings);
    result.spans.push_back({seconds_between(run_start, query_start), seconds_between(run_start, last_end), true});
    ++result.iterations;
  }
  result.wall_s = seconds_between(run_start, last_end);
  KILN_RETURN_IF_ERROR(summarize_run(result));
  return result;
}

}  // namespace

Expected<BenchResult> run_benchmark(Context& context, const TensorMap& inputs, const BenchOptions& options) {
  BenchResult result;
  result.backend = context.engine().backend_kind();
  auto query = [&]() -> Expected<QueryTimings> {
    KILN_RETURN_IF_ERROR(context.execute(inputs).status());
    return context.last_timings();
  };
  KILN_ASSIGN_OR_RETURN(result, run_query_loop(query, options, std::move(result)));
  if (!context.engine().profiles().empty()) result.profile = static_cast<int64_t>(context.active_profile());
  result.layers = context.layer_profile();
  return result;
}

Expected<BenchResult> run_benchmark_chunked(Session& session, const TensorMap& inputs, int64_t chunk,
                                            const BenchOptions& options) {
  BenchResult result;
  result.backend = session.engine().backend_kind();
  result.streams = session.streams();
  // The pieces are cut once, outside the timed loop, as a caller holding its
  // data in chunks would; each query then pipelines all of them.
  KILN_ASSIGN_OR_RETURN(auto pieces, split_batch(inputs, chunk, session.engine().backend_kind() == BackendKind::kCuda));
  auto query = [&]() -> Expected<QueryTimings> {
    KILN_RETURN_IF_ERROR(session.run_chunks(pieces).status());
    return QueryTimings{};  // a query spans several contexts: no single phase breakdown
  };
  return run_query_loop(query, options, std::move(result));
}

}  // namespace kiln
