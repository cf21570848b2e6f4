// kiln run: one inference with inputs from .npy files (or random data), outputs
// printed and optionally written as .npy files.
#include <filesystem>
#include <iostream>
#include <memory>

#include "cli_support.h"
#include "commands.h"
#include "kiln/bench.h"
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
};

Expected<TensorMap> load_inputs(const Engine& engine, const RunOptions& options) {
  TensorMap inputs;
  for (const std::string& spec : options.inputs) {
    size_t eq = spec.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size()) {
      return invalid_argument("--input '" + spec + "' is not NAME=FILE.npy");
    }
    std::string name = spec.substr(0, eq);
    std::string file = spec.substr(eq + 1);
    if (!engine.find_input(name)) {
      std::string known;
      for (const IoDesc& d : engine.inputs()) known += (known.empty() ? "" : ", ") + d.name;
      return not_found("--input names '" + name + "', but the model has no such input (inputs: " + known + ")");
    }
    if (inputs.count(name)) return invalid_argument("input '" + name + "' is given twice");
    KILN_ASSIGN_OR_RETURN(Tensor tensor, read_npy_file(file));
    inputs[name] = std::move(tensor);
  }
  // Inputs without a file get random data of the declared type.
  std::vector<IoDesc> missing;
  for (const IoDesc& d : engine.inputs()) {
    if (!inputs.count(d.name)) missing.push_back(d);
  }
  ShapeRequest request;
  if (!options.shapes.empty()) {
    KILN_ASSIGN_OR_RETURN(request.shapes, parse_shape_list(options.shapes));
    for (auto it = request.shapes.begin(); it != request.shapes.end();) {
      if (inputs.count(it->first)) {
        it = request.shapes.erase(it);  // the file decides the shape
      } else {
        ++it;
      }
    }
  }
  // Symbolic axes of the inputs read from files fix the same axes of the random ones.
  for (const IoDesc& d : engine.inputs()) {
    auto it = inputs.find(d.name);
    if (it == inputs.end() || !d.shape.is_ranked() || d.shape.rank() != it->second.rank()) continue;
    for (size_t axis = 0; axis < d.shape.rank(); ++axis) {
      if (!d.shape[axis].symbol.empty()) request.symbols.emplace(d.shape[axis].symbol, it->second.dim(axis));
    }
  }
  KILN_ASSIGN_OR_RETURN(auto dims, resolve_input_dims(missing, request));
  KILN_ASSIGN_OR_RETURN(TensorMap random, make_random_inputs(missing, dims, options.seed));
  for (auto& [name, tensor] : random) inputs[name] = std::move(tensor);
  return inputs;
}

int run_model(const RunOptions& options) {
  auto engine = load_engine(options.model, options.backend);
  if (!engine.ok()) return report_error("run", engine.status());
  auto inputs = load_inputs(**engine, options);
  if (!inputs.ok()) return report_error("run", inputs.status());
  for (const IoDesc& d : (*engine)->inputs()) {
    bool from_file = false;
    for (const std::string& spec : options.inputs) from_file |= spec.rfind(d.name + "=", 0) == 0;
    std::cout << "input  " << describe_tensor(d.name, inputs->at(d.name), 4)
              << (from_file ? "" : " (random, seed " + std::to_string(options.seed) + ")") << "\n";
  }
  auto context = (*engine)->create_context();
  if (!context.ok()) return report_error("run", context.status());
  auto outputs = (*context)->execute(*inputs);
  if (!outputs.ok()) return report_error("run", outputs.status().with_context("'" + options.model + "'"));
  const auto& descs = (*engine)->outputs();
  if (!options.output_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(options.output_dir, ec);
    if (ec) return report_error("run", io_error("cannot create '" + options.output_dir + "': " + ec.message()));
  }
  for (size_t i = 0; i < outputs->size(); ++i) {
    const std::string& name = descs[i].name;
    std::cout << "output " << describe_tensor(name, (*outputs)[i]) << "\n";
    if (!options.output_dir.empty()) {
      std::string path = (std::filesystem::path(options.output_dir) / (file_name_for(name) + ".npy")).string();
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
  sub->add_option("model", options->model, "ONNX model file")->required();
  sub->add_option("--input,-i", options->inputs,
                  "NAME=FILE.npy for an input (repeatable); inputs without one get random data");
  sub->add_option("--output-dir,-o", options->output_dir, "Write each output to DIR/<name>.npy");
  sub->add_option("--backend,-b", options->backend, "cpu or cuda")->capture_default_str();
  sub->add_option("--shapes", options->shapes,
                  "Shapes of random inputs, NAME:1x3x224x224,...; other symbolic axes are 1");
  sub->add_option("--seed", options->seed, "Seed of the random inputs")->capture_default_str();
  sub->callback([&action, options] { action = [options] { return run_model(*options); }; });
}

}  // namespace kiln::cli
