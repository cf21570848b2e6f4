// Reduce* ops, ArgMax/ArgMin and GlobalAveragePool/GlobalMaxPool. Reduced
// axes that are not adjacent are first gathered to the end by a transpose into
// the workspace, so every reduction runs on an [outer, extent, inner] view.
#include <algorithm>
#include <set>

#include "backends/cuda/device_memory_pool.h"
#include "backends/cuda/kernels/kernel_helpers.h"
#include "backends/cuda/kernels/reduction_launch.h"
#include "ir/channels_last.h"

namespace kiln::cuda {
namespace {

Status float_input(const Node& node, const std::vector<TensorInfo>& inputs) {
  return require_dtype(node, inputs.empty() ? DataType::kUndefined : inputs[0].dtype,
                       {DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16, DataType::kFloat64});
}

CudaKernel reduce_kernel(ReduceOp op) {
  CudaKernel k;
  k.supports = float_input;
  k.prepare = [op](const PrepareArgs& args) -> Expected<PreparedKernel> {
    const Node& node = args.node;
    const Dims& dims = args.inputs[0].dims;
    const int64_t rank = static_cast<int64_t>(dims.size());
    std::vector<int64_t> axes;
    if (args.has_input(1)) {
      const Tensor* value = args.host_value(1);
      if (!value) return unimplemented(node.describe() + ": axes must be a constant (or computed from shapes) on CUDA");
      axes = value->to_int64_vector();
    } else {
      axes = node.attr_ints("axes");
    }
    if (axes.empty()) {
      if (node.attr_int("noop_with_empty_axes", 0) != 0) return device_copy_kernel();
      for (int64_t d = 0; d < rank; ++d) axes.push_back(d);
    }
    std::set<int64_t> reduced;
    for (int64_t a : axes) {
      KILN_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(a, rank, node));
      reduced.insert(axis);
    }
    const int64_t lo = reduced.empty() ? 0 : *reduced.begin();
    const int64_t hi = reduced.empty() ? -1 : *reduced.rbegin();
    const bool adjacent = static_cast<int64_t>(reduced.size()) == hi - lo + 1;
    int64_t outer, extent, inner;
    bool gather = false;
    StridedIndex index;
    size_t workspace = 0;
    if (adjacent) {
      outer = element_count(dims, 0, lo);
      extent = element_count(dims, lo, hi + 1);
      inner = element_count(dims, hi + 1, rank);
    } else {
      if (rank > kMaxRank) return unimplemented(node.describe() + ": rank too large for the CUDA backend");
      gather = true;
      Dims strides = contiguous_strides(dims);
      index.rank = static_cast<int>(rank);
      int slot = 0;
      outer = 1;
      extent = 1;
      inner = 1;
      for (int64_t d = 0; d < rank; ++d) {
        if (reduced.count(d)) continue;
        index.dims[slot] = dims[d];
        index.strides[0][slot++] = strides[d];
        outer *= dims[d];
      }
      for (int64_t d : reduced) {
        index.dims[slot] = dims[d];
        index.strides[0][slot++] = strides[d];
        extent *= dims[d];
      }
      workspace = align_up(static_cast<size_t>(element_count(dims)) * dtype_size(args.inputs[0].dtype));
    }
    PreparedKernel prepared;
    prepared.workspace_bytes = workspace;
    prepared.enqueue = [op, outer, extent, inner, gather, index](const LaunchArgs& launch) -> Status {
      const DeviceTensor& in = launch.inputs[0];
      const void* source = in.data;
      if (gather) {
        KILN_CUDA_CHECK_LAUNCH(launch_strided_copy(dtype_size(in.dtype), in.data, launch.workspace,
                                                   in.element_count(), index, launch.libraries.stream));
        source = launch.workspace;
      }
      KILN_CUDA_CHECK_LAUNCH(launch_reduce(in.dtype, op, source, launch.outputs[0].data, outer, extent, inner,
                                           launch.libraries.stream));
      return ok_status();
    };
    return prepared;
  };
  return k;
}

CudaKernel arg_reduce_kernel(bool is_max) {
  CudaKernel k;
  k.supports = float_input;
  k.prepare = [is_max](const PrepareArgs& args) -> Expected<PreparedKernel> {
    const Dims& dims = args.inputs[0].dims;
    const int64_t rank = static_cast<int64_t>(dims.size());
    KILN_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(args.node.attr_int("axis", 0), rank, args.node));
    const int64_t outer = element_count(dims, 0, axis), extent = dims[axis], inner = element_count(dims, axis + 1, rank);
    if (extent == 0) return invalid_argument(args.node.describe() + ": arg-reduction over an empty axis");
    const bool select_last = args.node.attr_int("select_last_index", 0) != 0;
    PreparedKernel prepared;
    prepared.enqueue = [is_max, select_last, outer, extent, inner](const LaunchArgs& launch) -> Status {
      KILN_CUDA_CHECK_LAUNCH(launch_arg_reduce(launch.inputs[0].dtype, is_max, select_last, launch.inputs[0].data,
                                               launch.outputs[0].as<int64_t>(), outer, extent, inner,
                                               launch.libraries.stream));
      return ok_status();
    };
    return prepared;
  };
  return k;
}

// NCHW reduces [N * C, spatial, 1]; channels-last (kiln.NhwcGlobal*Pool) reduces
// [N, spatial, C], one thread per (n, c) reading consecutive channels.
CudaKernel global_pool_kernel(ReduceOp op, bool channels_last = false) {
  CudaKernel k;
  k.supports = float_input;
  k.prepare = [op, channels_last](const PrepareArgs& args) -> Expected<PreparedKernel> {
    const Dims& dims = args.inputs[0].dims;
    if (dims.size() < 2) return invalid_argument(args.node.describe() + ": input must be N x C x ...");
    if (channels_last && dims.size() != 4) {
      return unimplemented(args.node.describe() + ": channels-last pooling must be 2-D (input " +
                           dims_to_string(dims) + ")");
    }
    const int64_t outer = channels_last ? dims[0] : dims[0] * dims[1];
    const int64_t extent = channels_last ? dims[1] * dims[2] : element_count(dims, 2, dims.size());
    const int64_t inner = channels_last ? dims[3] : 1;
    PreparedKernel prepared;
    prepared.enqueue = [op, outer, extent, inner](const LaunchArgs& launch) -> Status {
      KILN_CUDA_CHECK_LAUNCH(launch_reduce(launch.inputs[0].dtype, op, launch.inputs[0].data, launch.outputs[0].data,
                                           outer, extent, inner, launch.libraries.stream));
      return ok_status();
    };
    return prepared;
  };
  return k;
}

}  // namespace

void register_cuda_reduction_kernels(CudaKernelTable& table) {
  table.add("ReduceSum", reduce_kernel(ReduceOp::kSum));
  table.add("ReduceMean", reduce_kernel(ReduceOp::kMean));
  table.add("ReduceMax", reduce_kernel(ReduceOp::kMax));
  table.add("ReduceMin", reduce_kernel(ReduceOp::kMin));
  table.add("ReduceProd", reduce_kernel(ReduceOp::kProd));
  table.add("ReduceSumSquare", reduce_kernel(ReduceOp::kSumSquare));
  table.add("ReduceL1", reduce_kernel(ReduceOp::kL1));
  table.add("ReduceL2", reduce_kernel(ReduceOp::kL2));
  table.add("ReduceLogSum", reduce_kernel(ReduceOp::kLogSum));
  table.add("ReduceLogSumExp", reduce_kernel(ReduceOp::kLogSumExp));
  table.add("ArgMax", arg_reduce_kernel(true));
  table.add("ArgMin", arg_reduce_kernel(false));
  table.add("GlobalAveragePool", global_pool_kernel(ReduceOp::kMean));
  table.add("GlobalMaxPool", global_pool_kernel(ReduceOp::kMax));
  table.add(channels_last_variant_of("GlobalAveragePool", "")->op, global_pool_kernel(ReduceOp::kMean, true), "kiln");
  table.add(channels_last_variant_of("GlobalMaxPool", "")->op, global_pool_kernel(ReduceOp::kMax, true), "kiln");
}

}  // namespace kiln::cuda
