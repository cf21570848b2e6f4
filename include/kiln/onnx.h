// ONNX import: model files (with external data) to the Kiln IR.
#pragma once

#include <memory>
#include <string>

#include "kiln/graph.h"
#include "kiln/status.h"
#include "kiln/tensor.h"

namespace kiln {

// Newest default-domain opset the importer accepts.
constexpr int kMaxOnnxOpset = 22;

// Reads an ONNX model. External data files are resolved relative to the
// model's directory. Errors name the file and what is wrong with it (empty,
// truncated, not protobuf, unsupported opset, unsupported input type, ...).
Expected<std::unique_ptr<Graph>> import_onnx_file(const std::string& path);

// Same, from bytes already in memory; `display_name` is used in errors and
// `base_dir` to resolve external data.
Expected<std::unique_ptr<Graph>> import_onnx_bytes(const void* data, size_t size, const std::string& display_name,
                                                   const std::string& base_dir);

// Reads a serialized onnx.TensorProto (the .pb files of the ONNX test suite).
// `name` receives the tensor's name when not null.
Expected<Tensor> load_onnx_tensor_file(const std::string& path, std::string* name = nullptr);

// True when the file looks like an ONNX model by extension or content, as opposed to a Kiln plan.
bool looks_like_onnx(const std::string& path);

}  // namespace kiln
