// Trilu, GatherElements, ScatterElements and CumSum.
#include "backends/cuda/kernels/data_movement_launch.h"
#include "backends/cuda/kernels/kernel_helpers.h"

namespace kiln::cuda {
namespace {

Status fixed_size_input(const Node& node, const std::vector<TensorInfo>& inputs) {
  size_t bytes = inputs.empty() ? 0 : dtype_size(inputs[0].dtype);
  if (bytes != 1 && bytes != 2 && bytes != 4 && bytes != 8) {
    return unsupported_cuda_dtype(node, inputs.empty() ? DataType::kUndefined : inputs[0].dtype);
  }
  return ok_status();
}

Expected<int64_t> host_scalar(const PrepareArgs& args, size_t i, int64_t fallback) {
  if (!args.has_input(i)) return fallback;
  const Tensor* value = args.host_value(i);
  if (!value) {
    return unimplemented(args.node.describe() + ": input " + std::to_string(i) +
                         " must be a constant (or computed from shapes) on the CUDA backend");
  }
  return value->scalar_as_int64();
}

CudaKernel trilu_kernel() {
  CudaKernel k;
  k.supports = fixed_size_input;
  k.prepare = [](const PrepareArgs& args) -> Expected<PreparedKernel> {
    const Dims& dims = args.inputs[0].dims;
    if (dims.size() < 2) return invalid_argument(args.node.describe() + ": Trilu needs rank >= 2");
    KILN_ASSIGN_OR_RETURN(int64_t diagonal, host_scalar(args, 1, 0));
    const bool upper = args.node.attr_int("upper", 1) != 0;
    const int64_t rows = dims[dims.size() - 2], cols = dims.back();
    PreparedKernel prepared;
    prepared.enqueue = [diagonal, upper, rows, cols](const LaunchArgs& launch) -> Status {
      const DeviceTensor& y = launch.outputs[0];
      KILN_CUDA_CHECK_LAUNCH(launch_trilu(dtype_size(y.dtype), launch.inputs[0].data, y.data, y.element_count(),
                                          rows, cols, diagonal, upper, launch.libraries.stream));
      return ok_status();
    };
    return prepared;
  };
  return k;
}

CudaKernel gather_elements_kernel() {
  CudaKernel k;
  k.supports = [](const Node& node, const std::vector<TensorInfo>& inputs) -> Status {
    KILN_RETURN_IF_ERROR(fixed_size_input(node, inputs));
    if (inputs.size() < 2) return invalid_argument(node.describe() + ": GatherElements needs indices");
    return require_dtype(node, inputs[1].dtype, {DataType::kInt32, DataType::kInt64}, "indices");
  };
  k.prepare = [](const PrepareArgs& args) -> Expected<PreparedKernel> {
    const Dims& data = args.inputs[0].dims;
    const Dims& indices = args.inputs[1].dims;
    if (data.size() != indices.size() || data.empty() || data.size() > static_cast<size_t>(kMaxRank)) {
      return invalid_argument(args.node.describe() + ": data " + dims_to_string(data) + " and indices " +
                              dims_to_string(indices) + " must have the same rank (at most 8)");
    }
    KILN_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(args.node.attr_int("axis", 0), data.size(), args.node));
    StridedIndex index;
    index.rank = static_cast<int>(data.size());
    Dims strides = contiguous_strides(data);
    for (size_t d = 0; d < data.size(); ++d) {
      index.dims[d] = indices[d];
      index.strides[0][d] = strides[d];
    }
    const int64_t extent = data[axis];
    PreparedKernel prepared;
    prepared.enqueue = [index, axis, extent](const LaunchArgs& launch) -> Status {
      const DeviceTensor& y = launch.outputs[0];
      KILN_CUDA_CHECK_LAUNCH(launch_gather_elements(dtype_size(y.dtype), launch.inputs[0].data, launch.inputs[1].data,
                                                    dtype_size(launch.inputs[1].dtype), y.data, y.element_count(),
                                                    static_cast<int>(axis), extent, index, launch.libraries.stream));
      return ok_status();
    };
    return prepared;
  };
  return k;
}

CudaKernel scatter_elements_kernel() {
  CudaKernel k;
  k.supports = [](const Node& node, const std::vector<TensorInfo>& inputs) -> Status {
    KILN_RETURN_IF_ERROR(fixed_size_input(node, inputs));
    if (inputs.size() < 3) return invalid_argument(node.describe() + ": needs data, indices and updates");
    KILN_RETURN_IF_ERROR(require_dtype(node, inputs[1].dtype, {DataType::kInt32, DataType::kInt64}, "indices"));
    const std::string reduction = node.attr_string("reduction", "none");
    if (reduction != "none" && !(reduction == "add" && inputs[0].dtype == DataType::kFloat32)) {
      return unimplemented(node.describe() + ": reduction '" + reduction + "' on " + dtype_name(inputs[0].dtype) +
                           " is not supported by the CUDA backend");
    }
    return ok_status();
  };
  k.prepare = [](const PrepareArgs& args) -> Expected<PreparedKernel> {
    const Dims& data = args.inputs[0].dims;
    const Dims& indices = args.inputs[1].dims;
    if (data.size() != indices.size() || data.empty() || data.size() > static_cast<size_t>(kMaxRank) ||
        args.inputs[2].dims != indices) {
      return invalid_argument(args.node.describe() + ": data, indices and updates must share a rank (at most 8), "
                                                     "indices and updates their shape");
    }
    KILN_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(args.node.attr_int("axis", 0), data.size(), args.node));
    StridedIndex index;
    index.rank = static_cast<int>(data.size());
    Dims strides = contiguous_strides(data);
    for (size_t d = 0; d < data.size(); ++d) {
      index.dims[d] = indices[d];
      index.strides[0][d] = strides[d];
    }
    const int64_t extent = data[axis];
    const bool add = args.node.attr_string("reduction", "none") == "add";
    PreparedKernel prepared;
    prepared.enqueue = [index, axis, extent, add](const LaunchArgs& launch) -> Status {
      const DeviceTensor& y = launch.outputs[0];
      if (y.byte_size() > 0) {
        KILN_CUDA_CHECK(cudaMemcpyAsync(y.data, launch.inputs[0].data, y.byte_size(), cudaMemcpyDeviceToDevice,
                                        launch.libraries.stream));
      }
      KILN_CUDA_CHECK_LAUNCH(launch_scatter_elements(dtype_size(y.dtype), add, launch.inputs[2].data,
                                                     launch.inputs[1].data, dtype_size(launch.inputs[1].dtype),
                                                     y.data, launch.inputs[2].element_count(), static_cast<int>(axis),
                                                     extent, index, launch.libraries.stream));
      return ok_status();
    };
    return prepared;
  };
  return k;
}

CudaKernel cumsum_kernel() {
  CudaKernel k;
  k.supports = [](const Node& node, const std::vector<TensorInfo>& inputs) -> Status {
    return require_dtype(node, inputs.empty() ? DataType::kUndefined : inputs[0].dtype,
                         {DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16, DataType::kFloat64,
                          DataType::kInt32, DataType::kInt64});
  };
  k.prepare = [](const PrepareArgs& args) -> Expected<PreparedKernel> {
    const Dims& dims = args.inputs[0].dims;
    KILN_ASSIGN_OR_RETURN(int64_t raw_axis, host_scalar(args, 1, 0));
    KILN_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(raw_axis, std::max<size_t>(dims.size(), 1), args.node));
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= dims[d];
    for (size_t d = axis + 1; d < dims.size(); ++d) inner *= dims[d];
    const int64_t extent = dims.empty() ? 1 : dims[axis];
    const bool exclusive = args.node.attr_int("exclusive", 0) != 0;
    const bool reverse = args.node.attr_int("reverse", 0) != 0;
    PreparedKernel prepared;
    prepared.enqueue = [outer, extent, inner, exclusive, reverse](const LaunchArgs& launch) -> Status {
      KILN_CUDA_CHECK_LAUNCH(launch_cumsum(launch.inputs[0].dtype, launch.inputs[0].data, launch.outputs[0].data,
                                           outer, extent, inner, exclusive, reverse, launch.libraries.stream));
      return ok_status();
    };
    return prepared;
  };
  return k;
}

}  // namespace

void register_cuda_indexing_kernels(CudaKernelTable& table) {
  table.add("Trilu", trilu_kernel());
  table.add("GatherElements", gather_elements_kernel());
  table.add("ScatterElements", scatter_elements_kernel());
  table.add("Scatter", scatter_elements_kernel());  // the deprecated name (opset 9-10)
  table.add("CumSum", cumsum_kernel());
}

}  // namespace kiln::cuda
