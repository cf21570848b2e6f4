// Softmax, LogSoftmax, Hardmax, LayerNormalization, InstanceNormalization,
// inference BatchNormalization and LRN.
#include <optional>

#include "backends/cuda/kernels/kernel_helpers.h"
#include "backends/cuda/kernels/reduction_launch.h"

namespace kiln::cuda {
namespace {

Status float_inputs(const Node& node, const std::vector<TensorInfo>& inputs) {
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].dtype == DataType::kUndefined) continue;
    KILN_RETURN_IF_ERROR(require_dtype(node, inputs[i].dtype, kFloatTypes, "input " + std::to_string(i)));
    if (inputs[i].dtype != inputs[0].dtype) {
      return unimplemented(node.describe() + ": input " + std::to_string(i) + " has type " +
                           dtype_name(inputs[i].dtype) + ", input 0 has " + dtype_name(inputs[0].dtype));
    }
  }
  return ok_status();
}

// Softmax, LogSoftmax and Hardmax share the axis rules (2-D coercion before opset 13).
CudaKernel softmax_kernel(bool log, bool hard = false) {
  CudaKernel k;
  k.supports = float_inputs;
  k.prepare = [log, hard](const PrepareArgs& args) -> Expected<PreparedKernel> {
    const Dims& dims = args.inputs[0].dims;
    const int64_t rank = static_cast<int64_t>(dims.size());
    const bool coerce_2d = args.node.opset < 13;
    KILN_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(args.node.attr_int("axis", coerce_2d ? 1 : -1),
                                                       std::max<int64_t>(rank, 1), args.node));
    const int64_t outer = element_count(dims, 0, axis);
    const int64_t extent = coerce_2d ? element_count(dims, axis, rank) : (rank == 0 ? 1 : dims[axis]);
    const int64_t inner = coerce_2d ? 1 : element_count(dims, axis + 1, rank);
    PreparedKernel prepared;
    prepared.enqueue = [log, hard, outer, extent, inner](const LaunchArgs& launch) -> Status {
      if (hard) {
        KILN_CUDA_CHECK_LAUNCH(launch_hardmax(launch.inputs[0].dtype, launch.inputs[0].data, launch.outputs[0].data,
                                              outer, extent, inner, launch.libraries.stream));
        return ok_status();
      }
      KILN_CUDA_CHECK_LAUNCH(launch_softmax(launch.inputs[0].dtype, log, launch.inputs[0].data,
                                            launch.outputs[0].data, outer, extent, inner, launch.libraries.stream));
      return ok_status();
    };
    return prepared;
  };
  return k;
}

// kiln.MaskedSoftmax: softmax over the last axis of X + Mask (numpy
// broadcasting), NaN results replaced by 0 when nan_to_zero is set. The
// operand of the output's shape is read as the scores and the other as a
// broadcast mask; when neither has it, the sum is formed first in the output
// and the softmax runs there in place.
CudaKernel masked_softmax_kernel() {
  CudaKernel k;
  k.supports = float_inputs;
  k.prepare = [](const PrepareArgs& args) -> Expected<PreparedKernel> {
    const Dims& dims = args.outputs[0].dims;
    if (dims.empty()) return invalid_argument(args.node.describe() + ": MaskedSoftmax of a scalar");
    const int64_t rank = static_cast<int64_t>(dims.size());
    const int64_t extent = dims.back(), rows = element_count(dims, 0, rank - 1);
    StridedIndex mask_rows;
    mask_rows.rank = 1;
    mask_rows.dims[0] = 1;
    int64_t column_stride = 0;
    int scores_input = 0, mask_input = -1;
    std::optional<StridedIndex> sum_index;
    if (args.has_input(1)) {
      if (args.inputs[0].dims != dims && args.inputs[1].dims == dims) scores_input = 1;
      if (args.inputs[scores_input].dims == dims) {
        mask_input = 1 - scores_input;
        KILN_ASSIGN_OR_RETURN(StridedIndex full, broadcast_index(args.node, dims, {args.inputs[mask_input].dims}));
        column_stride = full.strides[0][rank - 1];
        if (rank > 1) {
          mask_rows.rank = static_cast<int>(rank - 1);
          for (int64_t d = 0; d < rank - 1; ++d) {
            mask_rows.dims[d] = full.dims[d];
            mask_rows.strides[0][d] = full.strides[0][d];
          }
        }
      } else {
        KILN_ASSIGN_OR_RETURN(sum_index,
                              broadcast_index(args.node, dims, {args.inputs[0].dims, args.inputs[1].dims}));
      }
    }
    const bool nan_to_zero = args.node.attr_int("nan_to_zero", 0) != 0;
    PreparedKernel prepared;
    prepared.enqueue = [rows, extent, mask_rows, column_stride, scores_input, mask_input, sum_index,
                        nan_to_zero](const LaunchArgs& launch) -> Status {
      const DeviceTensor& out = launch.outputs[0];
      cudaStream_t stream = launch.libraries.stream;
      const void* scores = launch.inputs[scores_input].data;
      if (sum_index) {
        KILN_CUDA_CHECK_LAUNCH(launch_binary(out.dtype, BinaryOp::kAdd, launch.inputs[0].data, launch.inputs[1].data,
                                             out.data, out.element_count(), *sum_index, stream));
        scores = out.data;
      }
      KILN_CUDA_CHECK_LAUNCH(launch_masked_softmax(out.dtype, scores,
                                                   mask_input >= 0 ? launch.inputs[mask_input].data : nullptr,
                                                   out.data, rows, extent, mask_rows, column_stride, nan_to_zero,
                                                   stream));
      return ok_status();
    };
    return prepared;
  };
  return k;
}

// Mean / InvStdDev outputs are float32 per row; anything else is not supported.
Status optional_stat_output(const PrepareArgs& args, size_t i, int64_t rows) {
  if (i >= args.outputs.size() || !args.node.has_output(i)) return ok_status();
  const TensorInfo& info = args.outputs[i];
  if (info.dtype != DataType::kFloat32) return unsupported_cuda_dtype(args.node, info.dtype, "output");
  if (element_count(info.dims) != rows) {
    return internal_error(args.node.describe() + ": statistics output has " + dims_to_string(info.dims));
  }
  return ok_status();
}

CudaKernel layer_norm_kernel() {
  CudaKernel k;
  k.supports = float_inputs;
  k.prepare = [](const PrepareArgs& args) -> Expected<PreparedKernel> {
    const Dims& dims = args.inputs[0].dims;
    const int64_t rank = static_cast<int64_t>(dims.size());
    KILN_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(args.node.attr_int("axis", -1), rank, args.node));
    const int64_t rows = element_count(dims, 0, axis), extent = element_count(dims, axis, rank);
    for (size_t i : {size_t{1}, size_t{2}}) {
      if (args.has_input(i) && element_count(args.inputs[i].dims) != extent) {
        return unimplemented(args.node.describe() + ": scale/bias of shape " + dims_to_string(args.inputs[i].dims) +
                             " must cover the normalised axes exactly (" + std::to_string(extent) + " elements)");
      }
    }
    KILN_RETURN_IF_ERROR(optional_stat_output(args, 1, rows));
    KILN_RETURN_IF_ERROR(optional_stat_output(args, 2, rows));
    const float epsilon = static_cast<float>(args.node.attr_float("epsilon", 1e-5));
    PreparedKernel prepared;
    prepared.enqueue = [rows, extent, epsilon](const LaunchArgs& launch) -> Status {
      const void* bias = launch.has_input(2) ? launch.inputs[2].data : nullptr;
      float* mean = launch.outputs.size() > 1 && launch.outputs[1].present() ? launch.outputs[1].as<float>() : nullptr;
      float* inv_std =
          launch.outputs.size() > 2 && launch.outputs[2].present() ? launch.outputs[2].as<float>() : nullptr;
      KILN_CUDA_CHECK_LAUNCH(launch_row_normalize(launch.inputs[0].dtype, launch.inputs[0].data,
                                                  launch.outputs[0].data, launch.inputs[1].data, bias, mean, inv_std,
                                                  rows, extent, 0, epsilon, launch.libraries.stream));
      return ok_status();
    };
    return prepared;
  };
  return k;
}

CudaKernel instance_norm_kernel() {
  CudaKernel k;
  k.supports = float_inputs;
  k.prepare = [](const PrepareArgs& args) -> Expected<PreparedKernel> {
    const Dims& dims = args.inputs[0].dims;
    if (dims.size() < 3) return invalid_argument(args.node.describe() + ": input must be N x C x D1...");
    const int64_t channels = dims[1];
    const int64_t rows = dims[0] * channels, extent = element_count(dims, 2, dims.size());
    const float epsilon = static_cast<float>(args.node.attr_float("epsilon", 1e-5));
    PreparedKernel prepared;
    prepared.enqueue = [rows, extent, channels, epsilon](const LaunchArgs& launch) -> Status {
      KILN_CUDA_CHECK_LAUNCH(launch_row_normalize(launch.inputs[0].dtype, launch.inputs[0].data,
                                                  launch.outputs[0].data, launch.inputs[1].data,
                                                  launch.inputs[2].data, nullptr, nullptr, rows, extent, channels,
                                                  epsilon, launch.libraries.stream));
      return ok_status();
    };
    return prepared;
  };
  return k;
}

CudaKernel batch_norm_kernel() {
  CudaKernel k;
  k.supports = [](const Node& node, const std::vector<TensorInfo>& inputs) -> Status {
    KILN_RETURN_IF_ERROR(float_inputs(node, inputs));
    if (node.attr_int("training_mode", 0) != 0 || node.has_output(1) || node.has_output(2)) {
      return unimplemented(node.describe() + ": BatchNormalization in training mode is not supported by the CUDA "
                                             "backend");
    }
    if (inputs.size() < 5) return invalid_argument(node.describe() + ": BatchNormalization needs 5 inputs");
    return ok_status();
  };
  k.prepare = [](const PrepareArgs& args) -> Expected<PreparedKernel> {
    const Dims& dims = args.inputs[0].dims;
    if (dims.size() < 2) return invalid_argument(args.node.describe() + ": input must be N x C x ...");
    const int64_t channels = dims[1], inner = element_count(dims, 2, dims.size());
    for (size_t i = 1; i < 5; ++i) {
      if (element_count(args.inputs[i].dims) != channels) {
        return invalid_argument(args.node.describe() + ": parameter " + std::to_string(i) + " has shape " +
                                dims_to_string(args.inputs[i].dims) + ", expected " + std::to_string(channels));
      }
    }
    const float epsilon = static_cast<float>(args.node.attr_float("epsilon", 1e-5));
    PreparedKernel prepared;
    prepared.enqueue = [channels, inner, epsilon](const LaunchArgs& launch) -> Status {
      const std::vector<DeviceTensor>& in = launch.inputs;
      KILN_CUDA_CHECK_LAUNCH(launch_batch_norm(in[0].dtype, in[0].data, launch.outputs[0].data, in[1].data,
                                               in[2].data, in[3].data, in[4].data, in[0].element_count(), channels,
                                               inner, epsilon, launch.libraries.stream));
      return ok_status();
    };
    return prepared;
  };
  return k;
}

CudaKernel lrn_kernel() {
  CudaKernel k;
  k.supports = float_inputs;
  k.prepare = [](const PrepareArgs& args) -> Expected<PreparedKernel> {
    const Dims& dims = args.inputs[0].dims;
    if (dims.size() < 2) return invalid_argument(args.node.describe() + ": input must be N x C x ...");
    const int64_t size = args.node.attr_int("size", 0);
    if (size <= 0) return invalid_argument(args.node.describe() + ": size must be positive");
    const int64_t channels = dims[1], inner = element_count(dims, 2, dims.size());
    const float alpha = static_cast<float>(args.node.attr_float("alpha", 1e-4));
    const float beta = static_cast<float>(args.node.attr_float("beta", 0.75));
    const float bias = static_cast<float>(args.node.attr_float("bias", 1.0));
    PreparedKernel prepared;
    prepared.enqueue = [channels, inner, size, alpha, beta, bias](const LaunchArgs& launch) -> Status {
      const DeviceTensor& x = launch.inputs[0];
      KILN_CUDA_CHECK_LAUNCH(launch_lrn(x.dtype, x.data, launch.outputs[0].data, x.element_count(), channels, inner,
                                        size, alpha, beta, bias, launch.libraries.stream));
      return ok_status();
    };
    return prepared;
  };
  return k;
}

}  // namespace

void register_cuda_normalization_kernels(CudaKernelTable& table) {
  table.add("Softmax", softmax_kernel(false));
  table.add("LogSoftmax", softmax_kernel(true));
  table.add("Hardmax", softmax_kernel(false, true));
  table.add("LayerNormalization", layer_norm_kernel());
  table.add("MaskedSoftmax", masked_softmax_kernel(), "kiln");
  table.add("InstanceNormalization", instance_norm_kernel());
  table.add("BatchNormalization", batch_norm_kernel());
  table.add("LRN", lrn_kernel());
}

}  // namespace kiln::cuda
