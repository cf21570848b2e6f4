// QuantizeLinear and DequantizeLinear, per tensor or per axis (no blocks).
#include "backends/cuda/kernels/kernel_helpers.h"

namespace kiln::cuda {
namespace {

constexpr std::initializer_list<DataType> kQuantizedTypes = {DataType::kInt8, DataType::kUint8, DataType::kInt16,
                                                             DataType::kUint16};

Status no_blocks(const Node& node) {
  if (node.attr_int("block_size", 0) != 0) {
    return unimplemented(node.describe() + ": blocked quantization is not supported by the CUDA backend");
  }
  return ok_status();
}

// Per-tensor (channels = 1) or per-axis layout of the scale.
struct QuantLayout {
  int64_t inner = 1, channels = 1;
};

Expected<QuantLayout> layout(const PrepareArgs& args) {
  QuantLayout l;
  const Dims& x = args.inputs[0].dims;
  const int64_t scales = element_count(args.inputs[1].dims);
  if (scales == 1) return l;
  KILN_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(args.node.attr_int("axis", 1), x.size(), args.node));
  if (x[axis] != scales) {
    return invalid_argument(args.node.describe() + ": " + std::to_string(scales) + " scales for axis " +
                            std::to_string(axis) + " of " + dims_to_string(x));
  }
  l.channels = scales;
  for (size_t d = axis + 1; d < x.size(); ++d) l.inner *= x[d];
  return l;
}

CudaKernel quantize_kernel(bool dequantize) {
  CudaKernel k;
  k.supports = [dequantize](const Node& node, const std::vector<TensorInfo>& inputs) -> Status {
    KILN_RETURN_IF_ERROR(no_blocks(node));
    if (inputs.size() < 2) return invalid_argument(node.describe() + ": needs an input and a scale");
    if (dequantize) {
      KILN_RETURN_IF_ERROR(require_dtype(node, inputs[0].dtype,
                                         {DataType::kInt8, DataType::kUint8, DataType::kInt16, DataType::kUint16,
                                          DataType::kInt32}));
      KILN_RETURN_IF_ERROR(require_dtype(node, inputs[1].dtype, kFloatTypes, "scale"));
    } else {
      KILN_RETURN_IF_ERROR(require_dtype(node, inputs[0].dtype, kFloatTypes));
      if (inputs[1].dtype != inputs[0].dtype) return unsupported_cuda_dtype(node, inputs[1].dtype, "scale");
      if (inputs.size() > 2 && inputs[2].dtype != DataType::kUndefined) {
        KILN_RETURN_IF_ERROR(require_dtype(node, inputs[2].dtype, kQuantizedTypes, "zero point"));
      }
    }
    return ok_status();
  };
  k.prepare = [dequantize](const PrepareArgs& args) -> Expected<PreparedKernel> {
    KILN_ASSIGN_OR_RETURN(QuantLayout l, layout(args));
    if (!dequantize) {
      KILN_RETURN_IF_ERROR(require_dtype(args.node, args.outputs[0].dtype, kQuantizedTypes, "output"));
    }
    PreparedKernel prepared;
    prepared.enqueue = [dequantize, l](const LaunchArgs& launch) -> Status {
      const DeviceTensor& x = launch.inputs[0];
      const DeviceTensor& y = launch.outputs[0];
      const void* zero_point = launch.has_input(2) ? launch.inputs[2].data : nullptr;
      if (dequantize) {
        KILN_CUDA_CHECK_LAUNCH(launch_dequantize(x.dtype, y.dtype, x.data, launch.inputs[1].data, zero_point, y.data,
                                                 y.element_count(), l.inner, l.channels, launch.libraries.stream));
      } else {
        KILN_CUDA_CHECK_LAUNCH(launch_quantize(x.dtype, y.dtype, x.data, launch.inputs[1].data, zero_point, y.data,
                                               y.element_count(), l.inner, l.channels, launch.libraries.stream));
      }
      return ok_status();
    };
    return prepared;
  };
  return k;
}

}  // namespace

void register_cuda_quantize_kernels(CudaKernelTable& table) {
  table.add("QuantizeLinear", quantize_kernel(false));
  table.add("DequantizeLinear", quantize_kernel(true));
}

}  // namespace kiln::cuda
