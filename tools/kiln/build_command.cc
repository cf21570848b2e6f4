// kiln build: import an ONNX model, build an engine for the profiles asked
// for, and write it as a plan file that run, bench and inspect load directly.
#include <chrono>
#include <iostream>
#include <memory>
#include <sstream>

#include "build_progress.h"
#include "cli_support.h"
#include "commands.h"
#include "ir/channels_last.h"
#include "kiln/builder.h"
#include "kiln/onnx.h"

namespace kiln::cli {
namespace {

struct BuildCommandOptions {
  std::string model;
  std::string output;
  std::vector<std::string> profiles;  // 'NAME:MIN,OPT,MAX;NAME2:...' each
  std::string batch_buckets;          // "1,8,32,128"
  std::string min_shapes, opt_shapes, max_shapes;
  std::string backend = "cpu";
  bool no_optimize = false;
  bool fp16 = false;
  bool bf16 = false;
  std::string timing_cache;
  bool verbose = false;
  bool no_tactic_timing = false;
  bool nchw = false;
  std::string layer_precisions;
};

Expected<std::vector<int64_t>> parse_buckets(const std::string& text) {
  std::vector<int64_t> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (item.empty() || item.find_first_not_of("0123456789") != std::string::npos || item.size() > 9) {
      return invalid_argument("--batch-buckets '" + text + "': '" + item + "' is not a positive integer");
    }
    out.push_back(std::stoll(item));
  }
  if (out.empty()) return invalid_argument("--batch-buckets is empty");
  return out;
}

std::string mib(size_t bytes) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.2f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return buffer;
}

int build_model(const BuildCommandOptions& options) {
  auto kind = parse_backend_kind(options.backend);
  if (!kind.ok()) return report_error("build", kind.status());
  BuildConfig config;
  config.backend = *kind;
  config.optimize = !options.no_optimize;
  auto precision = precision_from_flags(options.fp16, options.bf16);
  if (!precision.ok()) return report_error("build", precision.status());
  config.precision = *precision;
  if (!options.layer_precisions.empty()) {
    auto layers = parse_layer_precisions(options.layer_precisions);
    if (!layers.ok()) return report_error("build", layers.status());
    config.layer_precisions = *layers;
  }
  config.timing_cache = options.timing_cache;
  config.time_tactics = !options.no_tactic_timing;
  config.progress = make_build_progress_printer(options.verbose);
  config.channels_last = !options.nchw;
  for (const std::string& spec : options.profiles) {
    auto profile = parse_profile_spec(spec);
    if (!profile.ok()) return report_error("build", profile.status().with_context("--profile"));
    config.profiles.push_back(*profile);
  }
  const int trtexec_given = !options.min_shapes.empty() + !options.opt_shapes.empty() + !options.max_shapes.empty();
  if (trtexec_given > 0) {
    if (trtexec_given != 3) {
      return report_error("build", invalid_argument("--minShapes, --optShapes and --maxShapes go together"));
    }
    auto profile = parse_trtexec_shapes(options.min_shapes, options.opt_shapes, options.max_shapes);
    if (!profile.ok()) return report_error("build", profile.status());
    config.profiles.push_back(*profile);
  }
  if (!options.batch_buckets.empty()) {
    auto buckets = parse_buckets(options.batch_buckets);
    if (!buckets.ok()) return report_error("build", buckets.status());
    config.batch_buckets = *buckets;
  }
  const auto start = std::chrono::steady_clock::now();
  auto graph = import_onnx_file(options.model);
  if (!graph.ok()) return report_error("build", graph.status());
  const size_t nodes_before = (*graph)->nodes().size();
  auto engine = Builder::build(std::move(graph).value(), config);
  if (!engine.ok()) return report_error("build", engine.status().with_context("'" + options.model + "'"));
  Status saved = save_engine(**engine, options.output);
  if (!saved.ok()) return report_error("build", saved);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  const Engine& e = **engine;
  std::cout << "Built " << options.model << " for the " << options.backend << " backend in " << seconds << " s\n";
  std::cout << "Nodes: " << nodes_before << " imported, " << e.graph().nodes().size() << " after optimisation\n";
  int channels_last_nodes = 0;
  for (const auto& node : e.graph().nodes()) {
    channels_last_nodes += find_channels_last_op(node->op_type, node->domain) != nullptr;
  }
  if (channels_last_nodes > 0) std::cout << "Channels-last (NHWC) conv and pool nodes: " << channels_last_nodes << "\n";
  if (config.precision != DataType::kFloat32 || !config.layer_precisions.empty()) {
    std::cout << "Layer precisions: " << describe_layer_precisions(e.graph()) << "\n";
  }
  for (size_t i = 0; i < e.profiles().size(); ++i) {
    std::cout << "Profile " << i << ": " << profile_to_string(e.profiles()[i]) << "\n";
  }
  for (size_t i = 0; i < e.profile_memory().size(); ++i) {
    const ProfileMemory& m = e.profile_memory()[i];
    std::cout << "Activation memory" << (e.profiles().empty() ? "" : " (profile " + std::to_string(i) + ", max shapes)")
              << ": arena " << mib(m.arena_bytes) << ", sum of activations " << mib(m.total_bytes) << "\n";
  }
  std::cout << "Plan written to " << options.output << "\n";
  return 0;
}

}  // namespace

void add_build_command(CLI::App& app, CommandAction& action) {
  auto options = std::make_shared<BuildCommandOptions>();
  CLI::App* sub = app.add_subcommand("build", "Build an engine from an ONNX model and write it as a plan file");
  sub->add_option("model", options->model, "ONNX model file")->required();
  sub->add_option("-o,--output", options->output, "Plan file to write (.kiln)")->required();
  sub->add_option("--profile", options->profiles,
                  "Optimization profile 'NAME:MIN,OPT,MAX;NAME2:...' with shapes like 1x3x224x224 (repeatable)");
  sub->add_option("--batch-buckets", options->batch_buckets, "One profile per batch size, e.g. 1,8,32,128");
  sub->add_option("--minShapes", options->min_shapes, "trtexec style: NAME:1x3x224x224,...");
  sub->add_option("--optShapes", options->opt_shapes, "trtexec style: NAME:8x3x224x224,...");
  sub->add_option("--maxShapes", options->max_shapes, "trtexec style: NAME:32x3x224x224,...");
  sub->add_option("--backend,-b", options->backend, "cpu or cuda")->capture_default_str();
  sub->add_flag("--no-optimize", options->no_optimize, "Skip the graph passes");
  sub->add_flag("--fp16", options->fp16, "Compute float32 layers in float16 (inputs and outputs stay float32)");
  sub->add_flag("--bf16", options->bf16, "Compute float32 layers in bfloat16 (inputs and outputs stay float32)");
  sub->add_option("--layer-precisions", options->layer_precisions,
                  "Per-layer precisions 'PATTERN:fp32|fp16|bf16,...' (node-name globs; later entries win)");
  sub->add_option("--timing-cache", options->timing_cache,
                  "Timing cache file: tactic timings are read from it and new ones written back");
  sub->add_flag("--no-tactic-timing", options->no_tactic_timing,
                "CUDA: skip timing convolution and matmul candidates; kernels choose by heuristic");
  sub->add_flag("--verbose,-v", options->verbose, "Print each layer's chosen tactic and its time");
  sub->add_flag("--nchw", options->nchw,
                "Keep every activation NCHW (by default the CUDA backend stores convolution regions NHWC in "
                "float16 and bfloat16)");
  sub->callback([&action, options] { action = [options] { return build_model(*options); }; });
}

}  // namespace kiln::cli
