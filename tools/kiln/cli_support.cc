#include "cli_support.h"

#include <cstdio>
#include <iostream>
#include <map>
#include <sstream>

#include "build_progress.h"
#include "core/dispatch.h"
#include "kiln/bench.h"
#include "kiln/builder.h"
#include "kiln/npy.h"
#include "kiln/onnx.h"

namespace kiln::cli {

int report_error(const std::string& command, const Status& status) {
  std::cerr << "kiln " << command << ": error: " << status.to_string() << "\n";
  return kExitFailure;
}

Expected<DataType> precision_from_flags(bool fp16, bool bf16) {
  if (fp16 && bf16) return invalid_argument("--fp16 and --bf16 exclude each other");
  return fp16 ? DataType::kFloat16 : bf16 ? DataType::kBFloat16 : DataType::kFloat32;
}

Expected<std::vector<LayerPrecision>> parse_layer_precisions(const std::string& spec) {
  std::vector<LayerPrecision> layers;
  size_t begin = 0;
  while (begin <= spec.size() && !spec.empty()) {
    size_t end = spec.find(',', begin);
    if (end == std::string::npos) end = spec.size();
    const std::string entry = spec.substr(begin, end - begin);
    const size_t colon = entry.rfind(':');
    if (colon == std::string::npos || colon == 0) {
      return invalid_argument("--layer-precisions: '" + entry + "' is not PATTERN:PRECISION (e.g. '*Softmax*:fp32')");
    }
    const std::string name = entry.substr(colon + 1);
    DataType precision = DataType::kUndefined;
    if (name == "fp32" || name == "float32") precision = DataType::kFloat32;
    if (name == "fp16" || name == "float16") precision = DataType::kFloat16;
    if (name == "bf16" || name == "bfloat16") precision = DataType::kBFloat16;
    if (precision == DataType::kUndefined) {
      return invalid_argument("--layer-precisions: '" + entry + "': precision '" + name +
                              "' is not one of fp32, fp16, bf16");
    }
    layers.push_back({entry.substr(0, colon), precision});
    begin = end + 1;
  }
  if (layers.empty()) return invalid_argument("--layer-precisions is empty");
  return layers;
}

std::string describe_layer_precisions(const Graph& graph) {
  std::map<std::string, int> by_precision;
  int casts = 0;
  for (const auto& node : graph.nodes()) {
    if (node->op_type == "Cast") {
      ++casts;
      continue;
    }
    if (node->outputs.empty() || !node->outputs[0]) continue;
    const DataType t = node->outputs[0]->dtype;
    if (t == DataType::kFloat32 || t == DataType::kFloat16 || t == DataType::kBFloat16) ++by_precision[dtype_name(t)];
  }
  std::string text;
  for (const auto& [name, count] : by_precision) text += std::to_string(count) + " " + name + ", ";
  return text + std::to_string(casts) + " casts";
}

Expected<std::shared_ptr<Engine>> open_model(const std::string& path, const std::string& backend,
                                             DataType precision, const ModelBuildOptions& build) {
  KILN_ASSIGN_OR_RETURN(BackendKind kind, parse_backend_kind(backend));
  BuildConfig config;
  config.backend = kind;
  config.precision = precision;
  config.timing_cache = build.timing_cache;
  config.allow_tf32 = build.allow_tf32;
  config.optimize = build.optimize;
  if (!build.layer_precisions.empty()) {
    KILN_ASSIGN_OR_RETURN(config.layer_precisions, parse_layer_precisions(build.layer_precisions));
  }
  if (build.show_progress) config.progress = make_build_progress_printer(false);
  // A plan file loads as built; an ONNX model is imported and built here.
  auto engine = load_or_build(path, config);
  if (!engine.ok()) return engine.status().with_context("cannot build '" + path + "' for the " + backend + " backend");
  return engine;
}

Expected<TensorMap> prepare_inputs(const Engine& engine, const InputRequest& request) {
  TensorMap inputs;
  for (const std::string& spec : request.files) {
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
  std::vector<IoDesc> missing;
  for (const IoDesc& d : engine.inputs()) {
    if (!inputs.count(d.name)) missing.push_back(d);
  }
  ShapeRequest shapes;
  shapes.batch = request.batch;
  if (!request.shapes.empty()) {
    KILN_ASSIGN_OR_RETURN(shapes.shapes, parse_shape_list(request.shapes));
    for (const auto& [name, dims] : shapes.shapes) {
      if (inputs.count(name)) return invalid_argument("input '" + name + "' has both a file and a --shapes entry");
    }
  }
  // Symbolic axes of the inputs read from files fix the same axes of the random ones.
  for (const IoDesc& d : engine.inputs()) {
    auto it = inputs.find(d.name);
    if (it == inputs.end() || !d.shape.is_ranked() || d.shape.rank() != it->second.rank()) continue;
    for (size_t axis = 0; axis < d.shape.rank(); ++axis) {
      if (!d.shape[axis].symbol.empty()) shapes.symbols.emplace(d.shape[axis].symbol, it->second.dim(axis));
    }
  }
  KILN_ASSIGN_OR_RETURN(auto dims, resolve_input_dims(missing, shapes));
  KILN_ASSIGN_OR_RETURN(TensorMap random, make_random_inputs(missing, dims, request.seed));
  for (auto& [name, tensor] : random) inputs[name] = std::move(tensor);
  // Catch a --batch that contradicts an input file here, with the input's name.
  if (request.batch > 0) {
    for (const IoDesc& d : engine.inputs()) {
      const Tensor& t = inputs.at(d.name);
      if (t.rank() > 0 && d.shape.is_ranked() && d.shape.rank() > 0 && !d.shape[0].is_known() &&
          t.dim(0) != request.batch) {
        return invalid_argument("--batch " + std::to_string(request.batch) + " contradicts input '" + d.name +
                                "', whose file has shape " + dims_to_string(t.dims()));
      }
    }
  }
  return inputs;
}

int64_t batch_of(const Engine& engine, const TensorMap& inputs) {
  for (const IoDesc& d : engine.inputs()) {
    auto it = inputs.find(d.name);
    if (it != inputs.end() && it->second.rank() > 0) return it->second.dim(0);
  }
  return 1;
}

std::string describe_tensor(const std::string& name, const Tensor& tensor, int64_t max_values) {
  std::ostringstream out;
  out << name << ": " << dtype_name(tensor.dtype()) << "[" << dims_to_string(tensor.dims()) << "]";
  int64_t count = tensor.element_count();
  int64_t shown = std::min(count, max_values);
  out << " = [";
  if (tensor.dtype() == DataType::kString) {
    for (int64_t i = 0; i < shown; ++i) out << (i ? ", " : "") << '"' << tensor.string_data()[i] << '"';
  } else {
    dispatch_all_numeric(tensor.dtype(), [&]<typename T>() {
      for (int64_t i = 0; i < shown; ++i) {
        out << (i ? ", " : "");
        if constexpr (std::is_same_v<T, bool>) {
          out << (tensor.data<T>()[i] ? "true" : "false");
        } else if constexpr (std::is_unsigned_v<T>) {
          out << static_cast<unsigned long long>(tensor.data<T>()[i]);
        } else if constexpr (std::is_integral_v<T>) {
          out << static_cast<long long>(tensor.data<T>()[i]);
        } else {
          char buffer[32];
          std::snprintf(buffer, sizeof(buffer), "%.6g", to_double(tensor.data<T>()[i]));
          out << buffer;
        }
      }
    });
  }
  if (shown < count) out << ", ... (" << count << " values)";
  out << "]";
  return out.str();
}

std::string file_name_for(const std::string& name) {
  std::string out;
  for (char c : name) {
    bool keep =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    out += keep ? c : '_';
  }
  if (out.empty() || out == "." || out == "..") out = "output" + out;
  return out;
}

}  // namespace kiln::cli
