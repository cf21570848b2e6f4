// kiln bench: latency and throughput of a model, measured like trtexec.
#include <fstream>
#include <iostream>
#include <memory>

#include "cli_support.h"
#include "commands.h"
#include "kiln/bench.h"
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
  std::string percentiles;
  bool no_data_transfers = false;
};

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
  auto engine = open_model(options.model, options.backend, *precision, build);
  if (!engine.ok()) return report_error("bench", engine.status());
  InputRequest request{options.inputs, options.shapes, options.batch, options.seed};
  auto inputs = prepare_inputs(**engine, request);
  if (!inputs.ok()) return report_error("bench", inputs.status());
  ExecutionOptions execution;
  execution.cuda_graphs = options.cuda_graph;
  execution.allow_tf32 = !options.no_tf32;
  execution.no_data_transfers = options.no_data_transfers;
  if (options.no_data_transfers && options.backend != "cuda") {
    return report_error("bench", invalid_argument("--no-data-transfers applies to the cuda backend only"));
  }
  auto context = (*engine)->create_context(execution);
  if (!context.ok()) return report_error("bench", context.status());

  BenchOptions bench;
  bench.min_iterations = options.iterations;
  bench.min_duration_s = options.duration_s;
  bench.warmup_s = options.warmup_s;
  bench.batch = batch_of(**engine, *inputs);
  if (!options.percentiles.empty()) {
    auto parsed = parse_percentiles(options.percentiles);
    if (!parsed.ok()) return report_error("bench", parsed.status());
    bench.percentiles = *parsed;
  }

  std::cout << "Model: " << options.model << "\nBackend: " << options.backend << "\n";
  for (const IoDesc& d : (*engine)->inputs()) {
    const Tensor& t = inputs->at(d.name);
    std::cout << "Input " << d.name << ": " << dtype_name(t.dtype()) << "[" << dims_to_string(t.dims())
              << "] (declared " << d.shape.to_string() << ")\n";
  }
  std::cout << "Running at least " << bench.min_iterations << " queries and at least " << bench.min_duration_s
            << " s after " << bench.warmup_s << " s of warm-up\n"
            << std::flush;
  Expected<BenchResult> result = invalid_argument("no benchmark ran");
  if (options.streams > 1) {
    SessionOptions session_options;
    session_options.streams = options.streams;
    session_options.execution = execution;
    auto session = Session::create(*engine, session_options);
    if (!session.ok()) return report_error("bench", session.status());
    std::cout << "Streams: " << options.streams << " (queries in flight, one context each)\n";
    result = run_benchmark_streams(**session, *inputs, bench);
  } else {
    result = run_benchmark(**context, *inputs, bench);
  }
  if (!result.ok()) return report_error("bench", result.status().with_context("'" + options.model + "'"));
  if (Status s = add_requested_percentiles(*result, bench.percentiles); !s.ok()) return report_error("bench", s);
  std::cout << bench_result_to_text(*result);
  const auto& profiles = (*engine)->profiles();
  if (!profiles.empty()) {
    size_t p = (*context)->active_profile();
    std::cout << "Profile: " << p << " of " << profiles.size() << " (" << profile_to_string(profiles[p]) << ")\n";
  }
  if (!options.json_path.empty()) {
    std::ofstream out(options.json_path, std::ios::trunc);
    out << bench_result_to_json(*result, options.model, options.backend);
    out.close();
    if (!out) return report_error("bench", io_error("cannot write '" + options.json_path + "'"));
    std::cout << "JSON report written to " << options.json_path << "\n";
  }
  if (!options.trace_path.empty()) {
    std::ofstream trace(options.trace_path, std::ios::trunc);
    trace << bench_trace_json(*result);
    trace.close();
    if (!trace) return report_error("bench", io_error("cannot write '" + options.trace_path + "'"));
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
  sub->add_flag("--fp16", options->fp16, "Build an ONNX model to compute in float16 (inputs and outputs stay float32)");
  sub->add_flag("--bf16", options->bf16, "Build an ONNX model to compute in bfloat16 (inputs and outputs stay float32)");
  sub->add_option("--timing-cache", options->timing_cache,
                  "When building an ONNX model: timing cache file to read tactic timings from and write back to");
  sub->callback([&action, options] { action = [options] { return bench_model(*options); }; });
}

}  // namespace kiln::cli
