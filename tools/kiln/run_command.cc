// kiln run: one inference with inputs from .npy files (or random data), outputs
// printed and optionally written as .npy files.
#include <filesystem>
#include <iostream>
#include <memory>
#include <set>

#include "cli_support.h"
#include "commands.h"
#include "kiln/npy.h"

namespace kiln::cli {
namespace {

struct RunOptions {
  std::string model;
  std::vector<std::string> inputs;  // NAME=FILE.npy
  std::string output_dir;
  std::string backend = "cpu";
  std::string shapes;
  uint64_t seed = 1;
  bool no_tf32 = false;
  bool fp16 = false;
  bool bf16 = false;
  std::string timing_cache;
  std::string layer_precisions;
  bool no_optimize = false;
};

int run_model(const RunOptions& options) {
  auto precision = precision_from_flags(options.fp16, options.bf16);
  if (!precision.ok()) return report_error("run", precision.status());
  ModelBuildOptions build;
  build.timing_cache = options.timing_cache;
  build.allow_tf32 = !options.no_tf32;
  build.layer_precisions = options.layer_precisions;
  build.optimize = !options.no_optimize;
  auto engine = open_model(options.model, options.backend, *precision, build);
  if (!engine.ok()) return report_error("run", engine.status());
  InputRequest request{options.inputs, options.shapes, 0, options.seed};
  auto inputs = prepare_inputs(**engine, request);
  if (!inputs.ok()) return report_error("run", inputs.status());
  for (const IoDesc& d : (*engine)->inputs()) {
    bool from_file = false;
    for (const std::string& spec : options.inputs) from_file |= spec.rfind(d.name + "=", 0) == 0;
    std::cout << "input  " << describe_tensor(d.name, inputs->at(d.name), 4)
              << (from_file ? "" : " (random, seed " + std::to_string(options.seed) + ")") << "\n";
  }
  ExecutionOptions execution;
  execution.allow_tf32 = !options.no_tf32;
  auto context = (*engine)->create_context(execution);
  if (!context.ok()) return report_error("run", context.status());
  auto outputs = (*context)->execute(*inputs);
  if (!outputs.ok()) return report_error("run", outputs.status().with_context("'" + options.model + "'"));
  const auto& descs = (*engine)->outputs();
  if (!options.output_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(options.output_dir, ec);
    if (ec) return report_error("run", io_error("cannot create '" + options.output_dir + "': " + ec.message()));
  }
  std::set<std::string> used_file_names;
  for (size_t i = 0; i < outputs->size(); ++i) {
    const std::string& name = descs[i].name;
    std::cout << "output " << describe_tensor(name, (*outputs)[i]) << "\n";
    if (!options.output_dir.empty()) {
      // Two output names can map to one file name ("a/b", "a_b"); the later one gets a suffix.
      std::string file_name = file_name_for(name);
      for (int suffix = 1; !used_file_names.insert(file_name).second; ++suffix) {
        file_name = file_name_for(name) + "_" + std::to_string(suffix);
      }
      std::string path = (std::filesystem::path(options.output_dir) / (file_name + ".npy")).string();
      Status written = write_npy_file(path, (*outputs)[i]);
      if (!written.ok()) return report_error("run", written.with_context("output '" + name + "'"));
      std::cout << "       written to " << path << "\n";
    }
  }
  return 0;
}

}  // namespace

void add_run_command(CLI::App& app, CommandAction& action) {
  auto options = std::make_shared<RunOptions>();
  CLI::App* sub = app.add_subcommand("run", "Run a model once and print (or save) its outputs");
  sub->add_option("model", options->model, "ONNX model or plan file (.kiln)")->required();
  sub->add_option("--input,-i", options->inputs,
                  "NAME=FILE.npy for an input (repeatable); inputs without one get random data");
  sub->add_option("--output-dir,-o", options->output_dir, "Write each output to DIR/<name>.npy");
  sub->add_option("--backend,-b", options->backend, "cpu or cuda")->capture_default_str();
  sub->add_flag("--no-tf32", options->no_tf32, "CUDA: keep float32 convolutions and matmuls out of TF32");
  sub->add_flag("--fp16", options->fp16, "Build an ONNX model to compute in float16 (inputs and outputs stay float32)");
  sub->add_flag("--bf16", options->bf16, "Build an ONNX model to compute in bfloat16 (inputs and outputs stay float32)");
  sub->add_option("--layer-precisions", options->layer_precisions,
                  "Per-layer precisions 'PATTERN:fp32|fp16|bf16,...' (node-name globs; later entries win)");
  sub->add_flag("--no-optimize", options->no_optimize, "Skip the graph passes when building an ONNX model");
  sub->add_option("--timing-cache", options->timing_cache,
                  "When building an ONNX model: timing cache file to read tactic timings from and write back to");
  sub->add_option("--shapes", options->shapes,
                  "Shapes of random inputs, NAME:1x3x224x224,...; other symbolic axes are 1");
  sub->add_option("--seed", options->seed, "Seed of the random inputs")->capture_default_str();
  sub->callback([&action, options] { action = [options] { return run_model(*options); }; });
}

}  // namespace kiln::cli
