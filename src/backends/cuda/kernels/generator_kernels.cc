// Range, ConstantOfShape, EyeLike and OneHot on the device. On shape paths
// these usually run on the host (their inputs are host-known); these kernels
// serve graphs where their inputs arrive from the caller.
#include <cstring>

#include "backends/cuda/kernels/data_movement_launch.h"
#include "backends/cuda/kernels/kernel_helpers.h"

namespace kiln::cuda {
namespace {

Expected<const Tensor*> required_host_value(const PrepareArgs& args, size_t i) {
  const Tensor* value = args.host_value(i);
  if (!value) {
    return unimplemented(args.node.describe() + ": input " + std::to_string(i) +
                         " must be a constant, computed from shapes or a small graph input on the CUDA backend");
  }
  return value;
}

// The bit pattern of `value` converted to `dtype`.
Expected<uint64_t> value_bits(double value, DataType dtype) {
  KILN_ASSIGN_OR_RETURN(Tensor typed, cast_tensor(Tensor::from_vector<double>(DataType::kFloat64, {}, {value}), dtype));
  uint64_t bits = 0;
  std::memcpy(&bits, typed.raw_data(), dtype_size(dtype));
  return bits;
}

Status fixed_size_output(const Node& node, DataType dtype) {
  size_t bytes = dtype_size(dtype);
  if (bytes != 1 && bytes != 2 && bytes != 4 && bytes != 8) return unsupported_cuda_dtype(node, dtype, "output");
  return ok_status();
}

CudaKernel range_kernel() {
  CudaKernel k;
  k.supports = [](const Node& node, const std::vector<TensorInfo>& inputs) -> Status {
    return require_dtype(node, inputs.empty() ? DataType::kUndefined : inputs[0].dtype,
                         {DataType::kFloat32, DataType::kFloat64, DataType::kInt16, DataType::kInt32,
                          DataType::kInt64});
  };
  k.prepare = [](const PrepareArgs& args) -> Expected<PreparedKernel> {
    KILN_ASSIGN_OR_RETURN(const Tensor* start, required_host_value(args, 0));
    KILN_ASSIGN_OR_RETURN(const Tensor* delta, required_host_value(args, 2));
    const double first = start->scalar_as_double(), step = delta->scalar_as_double();
    PreparedKernel prepared;
    prepared.enqueue = [first, step](const LaunchArgs& launch) -> Status {
      const DeviceTensor& y = launch.outputs[0];
      KILN_CUDA_CHECK_LAUNCH(launch_range(y.dtype, first, step, y.data, y.element_count(), launch.libraries.stream));
      return ok_status();
    };
    return prepared;
  };
  return k;
}

CudaKernel constant_of_shape_kernel() {
  CudaKernel k;
  k.prepare = [](const PrepareArgs& args) -> Expected<PreparedKernel> {
    const DataType dtype = args.outputs[0].dtype;
    KILN_RETURN_IF_ERROR(fixed_size_output(args.node, dtype));
    uint64_t bits = 0;
    if (const Attribute* value = args.node.attr("value"); value && value->t.defined() && value->t.element_count() > 0) {
      std::memcpy(&bits, value->t.raw_data(), dtype_size(value->t.dtype()));
    }
    PreparedKernel prepared;
    prepared.enqueue = [bits](const LaunchArgs& launch) -> Status {
      const DeviceTensor& y = launch.outputs[0];
      KILN_CUDA_CHECK_LAUNCH(launch_fill(dtype_size(y.dtype), bits, y.data, y.element_count(), launch.libraries.stream));
      return ok_status();
    };
    return prepared;
  };
  return k;
}

CudaKernel eye_like_kernel() {
  CudaKernel k;
  k.prepare = [](const PrepareArgs& args) -> Expected<PreparedKernel> {
    const Dims& dims = args.outputs[0].dims;
    const DataType dtype = args.outputs[0].dtype;
    KILN_RETURN_IF_ERROR(fixed_size_output(args.node, dtype));
    if (dims.size() != 2) return invalid_argument(args.node.describe() + ": EyeLike needs a 2-D input");
    KILN_ASSIGN_OR_RETURN(uint64_t one, value_bits(1.0, dtype));
    const int64_t rows = dims[0], cols = dims[1], diagonal = args.node.attr_int("k", 0);
    PreparedKernel prepared;
    prepared.enqueue = [one, rows, cols, diagonal](const LaunchArgs& launch) -> Status {
      const DeviceTensor& y = launch.outputs[0];
      KILN_CUDA_CHECK_LAUNCH(launch_eye(dtype_size(y.dtype), one, y.data, rows, cols, diagonal,
                                        launch.libraries.stream));
      return ok_status();
    };
    return prepared;
  };
  return k;
}

CudaKernel one_hot_kernel() {
  CudaKernel k;
  k.supports = [](const Node& node, const std::vector<TensorInfo>& inputs) -> Status {
    if (inputs.size() < 3) return invalid_argument(node.describe() + ": OneHot needs indices, depth and values");
    KILN_RETURN_IF_ERROR(
        require_dtype(node, inputs[0].dtype, {DataType::kInt32, DataType::kInt64, DataType::kFloat32}, "indices"));
    return fixed_size_output(node, inputs[2].dtype);
  };
  k.prepare = [](const PrepareArgs& args) -> Expected<PreparedKernel> {
    const Dims& indices = args.inputs[0].dims;
    const Dims& out = args.outputs[0].dims;
    KILN_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(args.node.attr_int("axis", -1), out.size(), args.node));
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= indices[d];
    for (size_t d = axis; d < indices.size(); ++d) inner *= indices[d];
    const int64_t depth = out[axis];
    PreparedKernel prepared;
    prepared.enqueue = [outer, depth, inner](const LaunchArgs& launch) -> Status {
      const DeviceTensor& y = launch.outputs[0];
      KILN_CUDA_CHECK_LAUNCH(launch_one_hot(dtype_size(y.dtype), launch.inputs[0].dtype, launch.inputs[0].data,
                                            launch.inputs[2].data, y.data, outer, depth, inner,
                                            launch.libraries.stream));
      return ok_status();
    };
    return prepared;
  };
  return k;
}

}  // namespace

void register_cuda_generator_kernels(CudaKernelTable& table) {
  table.add("Range", range_kernel());
  table.add("ConstantOfShape", constant_of_shape_kernel());
  table.add("EyeLike", eye_like_kernel());
  table.add("OneHot", one_hot_kernel());
}

}  // namespace kiln::cuda
