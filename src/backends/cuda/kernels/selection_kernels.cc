// GatherND, ScatterND (reduction none) and TopK.
#include "backends/cuda/kernels/data_movement_launch.h"
#include "backends/cuda/kernels/kernel_helpers.h"

namespace kiln::cuda {
namespace {

Status fixed_size_data(const Node& node, DataType dtype) {
  size_t bytes = dtype_size(dtype);
  if (bytes != 1 && bytes != 2 && bytes != 4 && bytes != 8) return unsupported_cuda_dtype(node, dtype);
  return ok_status();
}

Expected<NdIndexParams> nd_params(const Node& node, const Dims& data, const Dims& indices) {
  if (indices.empty()) return invalid_argument(node.describe() + ": indices must have rank >= 1");
  NdIndexParams p;
  p.q = static_cast<int>(indices.back());
  if (p.q < 1 || p.q > static_cast<int>(data.size()) || p.q > kMaxRank) {
    return invalid_argument(node.describe() + ": index tuples of length " + std::to_string(p.q) + " for data " +
                            dims_to_string(data));
  }
  Dims strides = contiguous_strides(data);
  for (int j = 0; j < p.q; ++j) {
    p.dims[j] = data[j];
    p.row_strides[j] = strides[j];
  }
  p.rows = element_count(Dims(indices.begin(), indices.end() - 1));
  p.slice = element_count(Dims(data.begin() + p.q, data.end()));
  return p;
}

CudaKernel gather_nd_kernel() {
  CudaKernel k;
  k.supports = [](const Node& node, const std::vector<TensorInfo>& inputs) -> Status {
    if (inputs.size() < 2) return invalid_argument(node.describe() + ": GatherND needs data and indices");
    KILN_RETURN_IF_ERROR(fixed_size_data(node, inputs[0].dtype));
    KILN_RETURN_IF_ERROR(require_dtype(node, inputs[1].dtype, {DataType::kInt64}, "indices"));
    if (node.attr_int("batch_dims", 0) != 0) {
      return unimplemented(node.describe() + ": GatherND with batch_dims is not supported by the CUDA backend");
    }
    return ok_status();
  };
  k.prepare = [](const PrepareArgs& args) -> Expected<PreparedKernel> {
    KILN_ASSIGN_OR_RETURN(NdIndexParams p, nd_params(args.node, args.inputs[0].dims, args.inputs[1].dims));
    PreparedKernel prepared;
    prepared.enqueue = [p](const LaunchArgs& launch) -> Status {
      KILN_CUDA_CHECK_LAUNCH(launch_gather_nd(dtype_size(launch.inputs[0].dtype), launch.inputs[0].data,
                                              launch.inputs[1].as<const int64_t>(), launch.outputs[0].data, p,
                                              launch.libraries.stream));
      return ok_status();
    };
    return prepared;
  };
  return k;
}

CudaKernel scatter_nd_kernel() {
  CudaKernel k;
  k.supports = [](const Node& node, const std::vector<TensorInfo>& inputs) -> Status {
    if (inputs.size() < 3) return invalid_argument(node.describe() + ": ScatterND needs data, indices and updates");
    KILN_RETURN_IF_ERROR(fixed_size_data(node, inputs[0].dtype));
    KILN_RETURN_IF_ERROR(require_dtype(node, inputs[1].dtype, {DataType::kInt64}, "indices"));
    if (node.attr_string("reduction", "none") != "none") {
      return unimplemented(node.describe() + ": ScatterND with a reduction is not supported by the CUDA backend");
    }
    return ok_status();
  };
  k.prepare = [](const PrepareArgs& args) -> Expected<PreparedKernel> {
    KILN_ASSIGN_OR_RETURN(NdIndexParams p, nd_params(args.node, args.inputs[0].dims, args.inputs[1].dims));
    PreparedKernel prepared;
    prepared.enqueue = [p](const LaunchArgs& launch) -> Status {
      const DeviceTensor& out = launch.outputs[0];
      if (out.byte_size() > 0) {
        KILN_CUDA_CHECK(cudaMemcpyAsync(out.data, launch.inputs[0].data, out.byte_size(), cudaMemcpyDeviceToDevice,
                                        launch.libraries.stream));
      }
      KILN_CUDA_CHECK_LAUNCH(launch_scatter_nd(dtype_size(out.dtype), launch.inputs[2].data,
                                               launch.inputs[1].as<const int64_t>(), out.data, p,
                                               launch.libraries.stream));
      return ok_status();
    };
    return prepared;
  };
  return k;
}

CudaKernel top_k_kernel() {
  CudaKernel k;
  k.supports = [](const Node& node, const std::vector<TensorInfo>& inputs) -> Status {
    return require_dtype(node, inputs.empty() ? DataType::kUndefined : inputs[0].dtype,
                         {DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16, DataType::kInt32,
                          DataType::kInt64});
  };
  k.prepare = [](const PrepareArgs& args) -> Expected<PreparedKernel> {
    const Dims& dims = args.inputs[0].dims;
    if (!args.node.has_output(0) || !args.node.has_output(1)) {
      return unimplemented(args.node.describe() + ": TopK needs both its Values and Indices outputs on CUDA");
    }
    KILN_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(args.node.attr_int("axis", -1), dims.size(), args.node));
    int64_t count = args.node.attr_int("k", -1);  // opset 1 carries k as an attribute
    if (args.has_input(1)) {
      const Tensor* k_value = args.host_value(1);
      if (!k_value) return unimplemented(args.node.describe() + ": K must be a constant on the CUDA backend");
      count = k_value->scalar_as_int64();
    }
    if (count < 0 || count > dims[axis]) {
      return invalid_argument(args.node.describe() + ": k = " + std::to_string(count) + " for an axis of " +
                              std::to_string(dims[axis]));
    }
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= dims[d];
    for (size_t d = axis + 1; d < dims.size(); ++d) inner *= dims[d];
    const int64_t extent = dims[axis];
    const bool largest = args.node.attr_int("largest", 1) != 0;
    PreparedKernel prepared;
    prepared.enqueue = [outer, extent, inner, count, largest](const LaunchArgs& launch) -> Status {
      KILN_CUDA_CHECK_LAUNCH(launch_top_k(launch.inputs[0].dtype, launch.inputs[0].data, launch.outputs[0].data,
                                          launch.outputs[1].as<int64_t>(), outer, extent, inner, count, largest,
                                          launch.libraries.stream));
      return ok_status();
    };
    return prepared;
  };
  return k;
}

}  // namespace

void register_cuda_selection_kernels(CudaKernelTable& table) {
  table.add("GatherND", gather_nd_kernel());
  table.add("ScatterND", scatter_nd_kernel());
  table.add("TopK", top_k_kernel());
}

}  // namespace kiln::cuda
