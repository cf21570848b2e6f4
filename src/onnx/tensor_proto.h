#pragma once

#include <onnx/onnx_pb.h>

#include <string>

#include "kiln/tensor.h"

namespace kiln {

// onnx.TensorProto -> host tensor, reading external data relative to base_dir.
// Errors name the tensor, its type and what is wrong (size mismatch, missing file).
Expected<Tensor> tensor_from_proto(const onnx::TensorProto& proto, const std::string& base_dir);

}  // namespace kiln
