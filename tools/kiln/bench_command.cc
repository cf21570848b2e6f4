// kiln bench: latency and throughput of a model, measured like trtexec.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

#include "cli_support.h"
#include "commands.h"
#include "kiln/bench.h"
#include "kiln/bench_sweep.h"
#include "kiln/host_memory.h"
#include "kiln/session.h"

namespace kiln::cli {
namespace {

struct BenchCommandOptions {
  std::string model;
  int64_t batch = 0;
  std::string shapes;
  std::vector<std::string> inputs;  // NAME=FILE.npy
  int64_t iterations = 10;
  double duration_s = 3.0;
  double warmup_s = 0.2;
  std::string json_path;
  std::string backend = "cpu";
  uint64_t seed = 1;
  int streams = 1;
  std::string trace_path;
  bool cuda_graph = false;
  bool no_tf32 = false;
  bool fp16 = false;
  bool bf16 = false;
  std::string timing_cache;
  std::string layer_precisions;
  bool no_optimize = false;
  std::string percentiles;
  bool no_data_transfers = false;
  bool spin_wait = false;
  bool dump_profile = false;
  int64_t chunk = 0;                // > 0: each query is the batch split into chunks over the streams
  std::string sweep;                // "batch=1,8 streams=1,2"
  std::string sweep_out = "sweep";  // PREFIX of PREFIX.csv, .json, .svg
};

// One measurement with the settings in `options` on an engine already built.
Expected<BenchResult> measure(const std::shared_ptr<Engine>& engine, const BenchCommandOptions& options,
                              bool describe) {
  InputRequest request{options.inputs, options.shapes, options.batch, options.seed};
  KILN_ASSIGN_OR_RETURN(TensorMap inputs, prepare_inputs(*engine, request));
  // Like trtexec, the host-side inputs of a GPU run sit in page-locked memory,
  // so the H2D copy starts from them directly.
  if (engine->backend_kind() == BackendKind::kCuda) {
    for (auto& [name, tensor] : inputs) tensor = PinnedMemoryPool::global().copy_of(tensor);
  }
  ExecutionOptions execution;
  execution.cuda_graphs = options.cuda_graph;
  execution.allow_tf32 = !options.no_tf32;
  execution.no_data_transfers = options.no_data_transfers;
  execution.spin_wait = options.spin_wait;
  execution.profile_layers = options.dump_profile;
  if (options.dump_profile && (options.streams > 1 || options.chunk > 0)) {
    return invalid_argument("--dump-profile times the layers of one context: use it without --streams and --chunk");
  }
  if (options.no_data_transfers && options.backend != "cuda") {
    return invalid_argument("--no-data-transfers applies to the cuda backend only");
  }

  BenchOptions bench;
  bench.min_iterations = options.iterations;
  bench.min_duration_s = options.duration_s;
  bench.warmup_s = options.warmup_s;
  bench.batch = batch_of(*engine, inputs);
  bench.execution = execution;
  if (!options.percentiles.empty()) {
    KILN_ASSIGN_OR_RETURN(bench.percentiles, parse_percentiles(options.percentiles));
  }

  if (describe) {
    for (const IoDesc& d : engine->inputs()) {
      const Tensor& t = inputs.at(d.name);
      std::cout << "Input " << d.name << ": " << dtype_name(t.dtype()) << "[" << dims_to_string(t.dims())
                << "] (declared " << d.shape.to_string() << ")\n";
    }
    std::cout << "Running at least " << bench.min_iterations << " queries and at least " << bench.min_duration_s
              << " s after " << bench.warmup_s << " s of warm-up\n"
              << std::flush;
  }
  Expected<BenchResult> result = invalid_argument("no benchmark ran");
  if (options.chunk > 0) {
    if (options.chunk >= bench.batch) {
      return invalid_argument("--chunk " + std::to_string(options.chunk) + " must be smaller than the batch (" +
                              std::to_string(bench.batch) + ") to split it");
    }
    SessionOptions session_options;
    session_options.streams = options.streams;
    session_options.execution = execution;
    KILN_ASSIGN_OR_RETURN(auto session, Session::create(engine, session_options));
    if (describe) {
      std::cout << "Chunked: batch " << bench.batch << " in chunks of " << options.chunk << " over "
                << options.streams << " stream(s)\n";
    }
    result = run_benchmark_chunked(*session, inputs, options.chunk, bench);
  } else if (options.streams > 1) {
    SessionOptions session_options;
    session_options.streams = options.streams;
    session_options.execution = execution;
    KILN_ASSIGN_OR_RETURN(auto session, Session::create(engine, session_options));
    if (describe) std::cout << "Streams: " << options.streams << " (queries in flight, one context each)\n";
    result = run_benchmark_streams(*session, inputs, bench);
  } else {
    KILN_ASSIGN_OR_RETURN(auto context, engine->create_context(execution));
    result = run_benchmark(*context, inputs, bench);
  }
  if (!result.ok()) return result.status().with_context("'" + options.model + "'");
  KILN_RETURN_IF_ERROR(add_requested_percentiles(*result, bench.percentiles));
  return result;
}

Status write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.close();
  if (!out) return io_error("cannot write '" + path + "'");
  return ok_status();
}

// The options of one grid point: the sweep's values over the command line's.
BenchCommandOptions apply_point(BenchCommandOptions options, const SweepPoint& point) {
  options.batch = sweep_value(point, "batch", options.batch);
  options.streams = static_cast<int>(sweep_value(point, "streams", options.streams));
  options.cuda_graph = sweep_value(point, "cuda_graph", options.cuda_graph) != 0;
  options.spin_wait = sweep_value(point, "spin_wait", options.spin_wait) != 0;
  options.no_data_transfers = sweep_value(point, "no_data_transfers", options.no_data_transfers) != 0;
  return options;
}

int sweep_model(const std::shared_ptr<Engine>& engine, const BenchCommandOptions& options) {
  auto spec = parse_sweep_spec(options.sweep);
  if (!spec.ok()) return report_error("bench", spec.status());
  for (const SweepAxis& axis : spec->axes) {
    if (axis.key == "batch" && (!options.shapes.empty() || !options.inputs.empty())) {
      return report_error("bench", invalid_argument("--sweep batch=... cannot be combined with --shapes or --input, "
                                                    "which fix the input shapes"));
    }
  }
  std::vector<SweepPoint> points = expand_sweep(*spec);
  std::cout << "Sweep: " << points.size() << " configurations, each at least " << options.iterations << " queries and "
            << options.duration_s << " s after " << options.warmup_s << " s of warm-up\n";
  std::vector<SweepRun> runs;
  for (size_t i = 0; i < points.size(); ++i) {
    auto result = measure(engine, apply_point(options, points[i]), /*describe=*/false);
    if (!result.ok()) {
      return report_error("bench", result.status().with_context("sweep point " + sweep_point_to_string(points[i])));
    }
    std::printf("[%zu/%zu] %s: %.1f items/s, p99 %.4f ms\n", i + 1, points.size(),
                sweep_point_to_string(points[i]).c_str(), result->throughput_items_per_s, result->latency.p99_ms);
    std::fflush(stdout);
    runs.push_back({points[i], std::move(result).value()});
  }
  std::cout << "\n" << sweep_to_table(runs) << "\n";
  for (const SweepRun& run : runs) {
    for (const BenchWarning& w : bench_warnings(run.result)) {
      std::cout << "Warning (" << sweep_point_to_string(run.point) << "): " << w.message << "\n";
    }
  }
  const std::string& prefix = options.sweep_out;
  std::string title = "kiln bench " + std::filesystem::path(options.model).filename().string() + " (" +
                      options.backend + ")";
  Status s = write_file(prefix + ".csv", sweep_to_csv(runs));
  if (s.ok()) s = write_file(prefix + ".json", sweep_to_json(runs, options.model, options.backend, options.sweep));
  if (s.ok()) s = write_file(prefix + ".svg", line_plot_svg(sweep_plot(runs, title)));
  if (!s.ok()) return report_error("bench", s);
  std::cout << "Sweep written to " << prefix << ".csv, " << prefix << ".json and " << prefix
            << ".svg (throughput against p99 latency)\n";
  return 0;
}

int bench_model(const BenchCommandOptions& options) {
  if (options.batch < 0 || options.iterations < 0 || options.duration_s < 0 || options.warmup_s < 0) {
    return report_error("bench",
                        invalid_argument("--batch, --iterations, --duration and --warmup must not be negative"));
  }
  auto precision = precision_from_flags(options.fp16, options.bf16);
  if (!precision.ok()) return report_error("bench", precision.status());
  ModelBuildOptions build;
  build.timing_cache = options.timing_cache;
  build.allow_tf32 = !options.no_tf32;
  build.layer_precisions = options.layer_precisions;
  build.optimize = !options.no_optimize;
  auto engine = open_model(options.model, options.backend, *precision, build);
  if (!engine.ok()) return report_error("bench", engine.status());
  std::cout << "Model: " << options.model << "\nBackend: " << options.backend << "\n";
  if (!options.sweep.empty()) return sweep_model(*engine, options);

  auto result = measure(*engine, options, /*describe=*/true);
  if (!result.ok()) return report_error("bench", result.status());
  std::cout << bench_result_to_text(*result);
  const auto& profiles = (*engine)->profiles();
  if (result->profile >= 0 && static_cast<size_t>(result->profile) < profiles.size()) {
    size_t p = static_cast<size_t>(result->profile);
    std::cout << "Profile: " << p << " of " << profiles.size() << " (" << profile_to_string(profiles[p]) << ")\n";
  }
  if (!options.json_path.empty()) {
    Status s = write_file(options.json_path, bench_result_to_json(*result, options.model, options.backend));
    if (!s.ok()) return report_error("bench", s);
    std::cout << "JSON report written to " << options.json_path << "\n";
  }
  if (!options.trace_path.empty()) {
    Status s = write_file(options.trace_path, bench_trace_json(*result));
    if (!s.ok()) return report_error("bench", s);
    std::cout << "Trace written to " << options.trace_path << " (open in Perfetto or chrome://tracing)\n";
  }
  return 0;
}

}  // namespace

void add_bench_command(CLI::App& app, CommandAction& action) {
  auto options = std::make_shared<BenchCommandOptions>();
  CLI::App* sub = app.add_subcommand("bench", "Measure latency and throughput with random inputs");
  sub->add_option("model", options->model, "ONNX model or plan file (.kiln)")->required();
  sub->add_option("--batch", options->batch, "Batch size: first axis of every input whose first axis is symbolic");
  sub->add_option("--shapes", options->shapes, "Input shapes, NAME:1x3x224x224,... (win over --batch)");
  sub->add_option("--input,-i", options->inputs,
                  "NAME=FILE.npy for an input (repeatable); inputs without one get random data");
  sub->add_option("--iterations", options->iterations, "Run at least this many timed queries")->capture_default_str();
  sub->add_option("--duration", options->duration_s, "Run for at least this many seconds")->capture_default_str();
  sub->add_option("--warmup", options->warmup_s, "Seconds of untimed queries first")->capture_default_str();
  sub->add_option("--json", options->json_path, "Write the results as JSON to FILE");
  sub->add_option("--backend,-b", options->backend, "cpu or cuda")->capture_default_str();
  sub->add_option("--seed", options->seed, "Seed of the random inputs")->capture_default_str();
  sub->add_option("--streams", options->streams, "Queries in flight at once, each on its own context and stream")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  sub->add_option("--export-trace", options->trace_path, "Write a Chrome trace (Perfetto) of the timed queries");
  sub->add_flag("--cuda-graph", options->cuda_graph,
                "CUDA: capture each context's kernels once per shape set and replay the graph");
  sub->add_flag("--no-tf32", options->no_tf32, "CUDA: keep float32 convolutions and matmuls out of TF32");
  sub->add_flag("--no-data-transfers", options->no_data_transfers,
                "CUDA: copy inputs to the device once and outputs never (compute-only timing, like trtexec)");
  sub->add_option("--percentiles", options->percentiles, "Extra latency percentiles to report, e.g. 50,99.9");
  sub->add_flag("--spin-wait", options->spin_wait,
                "Busy-poll for query completion instead of blocking (steadier latency, one core kept busy)");
  sub->add_flag("--dump-profile", options->dump_profile,
                "Time every layer and print the slowest ones and the time per op type (CUDA: events between "
                "kernels, no CUDA graph); the JSON report gets a \"layers\" list");
  sub->add_option("--chunk", options->chunk,
                  "Chunked pipeline: split each query's batch into chunks of N items spread over --streams, so "
                  "copies of one chunk overlap compute of another");
  sub->add_option("--sweep", options->sweep,
                  "Benchmark every combination, e.g. 'batch=1,8,32 streams=1,2,4' (keys: batch, streams, "
                  "cuda_graph, spin_wait, no_data_transfers)");
  sub->add_option("--sweep-out", options->sweep_out, "Sweep reports: PREFIX.csv, PREFIX.json, PREFIX.svg (plot)")
      ->capture_default_str();
  sub->add_flag("--fp16", options->fp16, "Build an ONNX model to compute in float16 (inputs and outputs stay float32)");
  sub->add_flag("--bf16", options->bf16, "Build an ONNX model to compute in bfloat16 (inputs and outputs stay float32)");
  sub->add_option("--layer-precisions", options->layer_precisions,
                  "Per-layer precisions 'PATTERN:fp32|fp16|bf16,...' (node-name globs; later entries win)");
  sub->add_flag("--no-optimize", options->no_optimize, "Skip the graph passes when building an ONNX model");
  sub->add_option("--timing-cache", options->timing_cache,
                  "When building an ONNX model: timing cache file to read tactic timings from and write back to");
  sub->callback([&action, options] { action = [options] { return bench_model(*options); }; });
}

}  // namespace kiln::cli
