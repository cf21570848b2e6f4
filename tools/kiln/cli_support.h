// Helpers shared by the subcommands: loading and building a model with errors
// that name the file, and printing tensors.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kiln/builder.h"
#include "kiln/engine.h"
#include "kiln/graph.h"
#include "kiln/status.h"
#include "kiln/tensor.h"

namespace kiln::cli {

// Exit codes: 0 success, 1 the model or its inputs could not be used, 2 bad command line (CLI11).
constexpr int kExitFailure = 1;

// Prints "kiln <command>: error: <status>" to stderr and returns kExitFailure.
int report_error(const std::string& command, const Status& status);

// Build settings that apply when open_model builds an ONNX model.
struct ModelBuildOptions {
  std::string timing_cache;  // --timing-cache FILE
  bool allow_tf32 = true;    // time float32 layers as the contexts will run them
  bool show_progress = true; // tactic timing progress on stderr
  std::string layer_precisions;  // --layer-precisions spec (parse_layer_precisions); empty: none
  bool optimize = true;          // false: --no-optimize, the graph passes are skipped
};

// Loads a plan file, or imports an ONNX model and builds it for `backend`; every error names the file.
// `precision` (float32, float16, bfloat16) applies when an ONNX model is built.
Expected<std::shared_ptr<Engine>> open_model(const std::string& path, const std::string& backend,
                                             DataType precision = DataType::kFloat32,
                                             const ModelBuildOptions& build = {});

// --fp16 / --bf16 to the build precision; an error when both are given.
Expected<DataType> precision_from_flags(bool fp16, bool bf16);

// --layer-precisions 'PATTERN:PRECISION,...' (trtexec's --layerPrecisions):
// node-name globs and fp32 / fp16 / bf16 (or float32 / float16 / bfloat16).
Expected<std::vector<LayerPrecision>> parse_layer_precisions(const std::string& spec);

// "18 float16, 6 float32, 4 casts": the graph's layers by the float type they
// compute in (the builder's per-layer precision choice), Casts counted apart.
std::string describe_layer_precisions(const Graph& graph);

// How the inputs of one request are made: .npy files for some (NAME=FILE.npy),
// random data for the rest, shaped by --shapes / --batch; symbolic axes bound by
// a file's shape apply to the random inputs too.
struct InputRequest {
  std::vector<std::string> files;  // NAME=FILE.npy
  std::string shapes;              // NAME:1x3x224x224,...
  int64_t batch = 0;               // 0: not given
  uint64_t seed = 1;
};
Expected<TensorMap> prepare_inputs(const Engine& engine, const InputRequest& request);

// The first extent of the first input of rank >= 1 (1 when none): items per query.
int64_t batch_of(const Engine& engine, const TensorMap& inputs);

// "name: float32[1x1000] = [0.1, -0.2, ...]" with at most `max_values` values.
std::string describe_tensor(const std::string& name, const Tensor& tensor, int64_t max_values = 8);

// A file name for a tensor called `name`: characters outside [A-Za-z0-9._-] become '_'.
std::string file_name_for(const std::string& name);

}  // namespace kiln::cli
