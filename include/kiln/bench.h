// Benchmark harness: the measurements behind `kiln bench`, kept in the library
// so that other front ends (tests, scripts, the server) measure the same way.
//
// A query is one Context::execute call. Its latency runs from "inputs in host
// memory" to "outputs in host memory", measured with std::chrono::steady_clock.
// Beside it, each query's phases (enqueue, H2D, compute, D2H) come from the
// backend through Context::last_timings.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "kiln/engine.h"
#include "kiln/status.h"
#include "kiln/tensor.h"

namespace kiln {

// ---- statistics -------------------------------------------------------------

struct LatencyStats {
  size_t count = 0;
  double min_ms = 0;
  double max_ms = 0;
  double mean_ms = 0;
  double median_ms = 0;
  double p90_ms = 0;
  double p95_ms = 0;
  double p99_ms = 0;
  double stddev_ms = 0;  // population standard deviation
};

// The `percent`-th percentile of ascending `sorted` values, interpolating
// linearly between the two closest ranks (numpy.percentile's default):
// rank = percent / 100 * (n - 1). `sorted` must not be empty; percent in [0, 100].
double percentile_of_sorted(std::span<const double> sorted, double percent);

// Summary of per-query latencies (any order). Error when there are none.
Expected<LatencyStats> compute_latency_stats(std::vector<double> latencies_ms);

// ---- input shapes and data --------------------------------------------------

// What the user asked for: a batch size for every input whose first axis is not
// fixed, and/or full shapes for named inputs (which win over `batch`), and/or
// values of named symbolic axes ("batch" = 2, e.g. learnt from an input file).
struct ShapeRequest {
  int64_t batch = 0;  // 0: not given
  std::map<std::string, Dims> shapes;
  std::map<std::string, int64_t> symbols;
};

// Parses "input:1x3x224x224,mask:1x128" (a name may itself contain ':'; the
// last one separates the shape).
Expected<std::map<std::string, Dims>> parse_shape_list(const std::string& text);

// Concrete dims for every model input. A named symbolic axis takes one value
// across all inputs: from `symbols`, else from a shape given for an input that
// declares it, else `batch` on a first axis, else 1. Unnamed unknown axes become
// `batch` on a first axis, else 1. Errors name the input: a --batch that contradicts a
// fixed first axis, a shape of the wrong rank or a fixed extent, a shape for an
// input the model does not have.
Expected<std::map<std::string, Dims>> resolve_input_dims(const std::vector<IoDesc>& inputs,
                                                         const ShapeRequest& request);

// Random (never all-zero) data: floats uniform in [-1, 1), integers in [0, 4)
// (small, so that they are valid indices or counts in most models), booleans
// half true. Deterministic for a given seed.
Expected<Tensor> random_tensor(DataType dtype, const Dims& dims, uint64_t seed);
Expected<TensorMap> make_random_inputs(const std::vector<IoDesc>& inputs, const std::map<std::string, Dims>& dims,
                                       uint64_t seed);

// The batch size of a request: the first extent of the first input of rank >= 1 (1 when none).
int64_t batch_size_of(const std::vector<IoDesc>& inputs, const std::map<std::string, Dims>& dims);

// ---- the measurement loop ---------------------------------------------------

// Like trtexec: after `warmup_s` seconds of untimed queries, run at least
// `min_iterations` queries AND for at least `min_duration_s` seconds.
struct BenchOptions {
  int64_t min_iterations = 10;
  double min_duration_s = 3.0;
  double warmup_s = 0.2;
  int64_t batch = 1;  // items per query, for items/s
  // Extra latency percentiles to report (e.g. 50, 99.9), beside the fixed ones.
  std::vector<double> percentiles;
  // How the contexts were created: recorded in the result (the warnings read
  // it). With spin_wait the streams loop busy-polls for completions.
  ExecutionOptions execution;
};

// One timed query: seconds from the start of the timed run.
struct QuerySpan {
  double begin_s = 0;
  double end_s = 0;
  bool ok = true;
};

struct BenchResult {
  LatencyStats latency;
  // Phases of the timed queries, from Context::last_timings; filled when the
  // backend measured them (phases_measured), all-zero otherwise.
  bool phases_measured = false;
  LatencyStats enqueue, h2d, compute, d2h;
  double total_compute_ms = 0;              // sum of compute_ms over the timed queries
  double total_host_wall_s = 0;             // first timed query start to last timed query end (= wall_s)
  std::vector<QueryTimings> query_timings;  // per timed query, in completion order
  BackendKind backend = BackendKind::kCpu;
  ExecutionOptions execution;     // as BenchOptions gave it
  int64_t iterations = 0;         // timed queries
  int64_t warmup_iterations = 0;  // untimed queries before them
  double warmup_s = 0;            // time actually spent warming up
  double wall_s = 0;              // first timed query start to last timed query end
  double throughput_qps = 0;
  double throughput_items_per_s = 0;
  int64_t batch = 1;
  int64_t profile = -1;              // optimization profile that ran; -1 when the engine has none
  int streams = 1;                   // queries in flight at once
  std::vector<QuerySpan> spans;      // per query (stream runs), for traces
  // The percentiles BenchOptions asked for: (percent, ms), in the order asked.
  std::vector<std::pair<double, double>> extra_percentiles_ms;
  std::vector<double> latencies_ms;  // per query, in run order
  // Per-layer times (ExecutionOptions::profile_layers, single-context runs),
  // execution order; each layer's mean is total_ms / runs (warm-up included).
  std::vector<LayerTime> layers;
};

// Runs the loop on `context` with the same `inputs` every query. The first
// failed query stops the run and its error is returned.
Expected<BenchResult> run_benchmark(Context& context, const TensorMap& inputs, const BenchOptions& options);

// Fills the phase statistics and totals from result.query_timings (phases_measured
// = every query has valid timings). Called by the benchmark loops.
Status summarize_phases(BenchResult& result);

// Fills result.extra_percentiles_ms from result.latencies_ms (linear interpolation).
Status add_requested_percentiles(BenchResult& result, const std::vector<double>& percentiles);
// "90,95,99.9" -> {90, 95, 99.9}; each in [0, 100].
Expected<std::vector<double>> parse_percentiles(const std::string& text);
// "p99.9", "p50": the key a percentile gets in reports.
std::string percentile_key(double percent);

class Session;
// Keeps session.streams() queries in flight (one per context/stream) for at
// least min_iterations queries and min_duration_s seconds. Latency is from
// submission to outputs in host memory; throughput counts completions. Each
// query's phases come with its completion (Session's timed callback). With
// options.execution.spin_wait the calling thread busy-polls for the last
// completions instead of sleeping (pass the same ExecutionOptions to the Session).
Expected<BenchResult> run_benchmark_streams(Session& session, const TensorMap& inputs, const BenchOptions& options);
// The chunked pipeline: each query splits `inputs` (batch = options.batch)
// into pieces of `chunk` items spread over the session's streams
// (Session::run_chunks), so one piece's copies overlap another's compute; its
// latency runs until the last piece's outputs are in host memory.
Expected<BenchResult> run_benchmark_chunked(Session& session, const TensorMap& inputs, int64_t chunk,
                                            const BenchOptions& options);

// Chrome trace (Perfetto-viewable) of a run's query spans, one track per stream slot.
std::string bench_trace_json(const BenchResult& result);

// ---- warnings ---------------------------------------------------------------

// What makes a run's figures doubtful, and the flag that helps, like trtexec's
// hints. A pure function of the result.
enum class BenchWarningKind {
  kEnqueueBound,   // CUDA: issuing work takes about as long as running it
  kTransferBound,  // H2D + D2H take longer than compute
  kUnstable,       // latency varies: coefficient of variation > 10% or p99 > 2x median
  kFewIterations,  // too few queries for the percentiles reported
};
struct BenchWarning {
  BenchWarningKind kind;
  std::string message;  // one sentence or two: the numbers, then what to try
};
const char* bench_warning_name(BenchWarningKind kind);  // "enqueue_bound", ...
std::vector<BenchWarning> bench_warnings(const BenchResult& result);

// ---- reports ----------------------------------------------------------------

// The JSON report of `kiln bench --json`. Keys: model, backend, batch,
// iterations, warmup_s, wall_s, profile (when the engine has profiles),
// streams, throughput_qps, throughput_items_per_s, total_host_wall_s,
// latency_ms {min, max, mean, median, p90, p95, p99, stddev, requested pNN};
// when phases were measured: enqueue_ms, h2d_ms, compute_ms, d2h_ms (the same
// keys, requested percentiles taken from query_timings) and total_compute_ms;
// cuda_graph, no_data_transfers, spin_wait; warnings [{kind, message}].
std::string bench_result_to_json(const BenchResult& result, const std::string& model, const std::string& backend);

// The per-layer table of `kiln bench --dump-profile`: the `top` slowest layers
// (mean ms per query, share of the sum) and the time per op type.
std::string layer_profile_to_text(const std::vector<LayerTime>& layers, size_t top = 25);

// The human-readable summary printed by `kiln bench`: throughput, latency, a
// phase table (min/mean/median/max/p99 of each phase that is not all zero) and
// the warnings.
std::string bench_result_to_text(const BenchResult& result);

}  // namespace kiln
