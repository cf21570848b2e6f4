#include "backends/cuda/kernels/kernel_helpers.h"

#include <algorithm>
#include <cmath>

namespace kiln::cuda {

Dims contiguous_strides(const Dims& dims) {
  Dims strides(dims.size(), 1);
  for (int64_t d = static_cast<int64_t>(dims.size()) - 2; d >= 0; --d) strides[d] = strides[d + 1] * dims[d + 1];
  return strides;
}

Expected<StridedIndex> broadcast_index(const Node& node, const Dims& out_dims, const std::vector<Dims>& inputs) {
  StridedIndex index;
  const int rank = static_cast<int>(out_dims.size());
  if (rank > kMaxRank) {
    return unimplemented(node.describe() + ": rank " + std::to_string(rank) + " exceeds the CUDA backend's limit of " +
                         std::to_string(kMaxRank));
  }
  index.rank = rank;
  for (int d = 0; d < rank; ++d) index.dims[d] = out_dims[d];
  for (size_t k = 0; k < inputs.size() && k < 3; ++k) {
    const Dims& in = inputs[k];
    if (static_cast<int>(in.size()) > rank) {
      return invalid_argument(node.describe() + ": input shape " + dims_to_string(in) +
                              " does not broadcast to " + dims_to_string(out_dims));
    }
    Dims strides = contiguous_strides(in);
    const int shift = rank - static_cast<int>(in.size());
    for (int d = 0; d < rank; ++d) {
      if (d < shift) { index.strides[k][d] = 0; continue; }
      int64_t extent = in[d - shift];
      if (extent != out_dims[d] && extent != 1) {
        return invalid_argument(node.describe() + ": input shape " + dims_to_string(in) +
                                " does not broadcast to " + dims_to_string(out_dims));
      }
      index.strides[k][d] = extent == 1 ? 0 : strides[d - shift];
    }
  }
  // A rank-0 output still needs one axis for the device loop.
  if (index.rank == 0) {
    index.rank = 1;
    index.dims[0] = 1;
  }
  return index;
}

namespace {

// GELU in its erf form, 0.5 x (1 + erf(x / sqrt(2))), however the exporter
// ordered the operations: the program must agree with it to float precision
// at every sample point of a grid that covers both tails and the bend.
bool computes_gelu(const PointwiseProgram& program) {
  if (program.code.empty() || program.code.size() > 8) return false;
  bool has_erf = false;
  for (const PointwiseInstruction& ins : program.code) has_erf |= ins.op == PointwiseOp::kErf;
  if (!has_erf) return false;
  for (int i = -64; i <= 64; ++i) {
    const double x = i / 8.0 + 0.013;
    const double expected = 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
    if (std::fabs(program.evaluate(x) - expected) > 1e-6 * std::max(1.0, std::fabs(expected))) return false;
  }
  return true;
}

}  // namespace

Expected<DeviceProgram> to_device_program(const Node& node, const PointwiseProgram& program) {
  static_assert(static_cast<int>(PointwiseOp::kCount) == kPwCount, "device opcodes out of sync with PointwiseOp");
  static_assert(static_cast<int>(PointwiseOp::kMin) == kPwMin && static_cast<int>(PointwiseOp::kAdd) == kPwAdd &&
                    static_cast<int>(PointwiseOp::kLeakyRelu) == kPwLeakyRelu,
                "device opcodes out of sync with PointwiseOp");
  DeviceProgram device;
  if (program.code.size() > static_cast<size_t>(kMaxProgramLength) ||
      program.constants.size() > static_cast<size_t>(kMaxProgramConstants)) {
    return unimplemented(node.describe() + ": pointwise program of " + std::to_string(program.code.size()) +
                         " instructions and " + std::to_string(program.constants.size()) +
                         " constants exceeds the CUDA limit of " + std::to_string(kMaxProgramLength));
  }
  device.length = static_cast<int32_t>(program.code.size());
  for (size_t i = 0; i < program.code.size(); ++i) {
    const PointwiseInstruction& ins = program.code[i];
    device.op[i] = static_cast<int32_t>(ins.op);
    device.a[i] = ins.a;
    // Unary instructions may carry any b; point it at register 0 so the device never reads outside.
    device.b[i] = pointwise_arity(ins.op) == 2 ? ins.b : 0;
    device.p0[i] = ins.p0;
    device.p1[i] = ins.p1;
  }
  for (size_t i = 0; i < program.constants.size(); ++i) device.constants[i] = program.constants[i];
  device.gelu = computes_gelu(program) ? 1 : 0;
  device.linear = 1;
  for (int32_t k = 0; k < device.length; ++k) {
    for (int32_t operand : {device.a[k], device.b[k]}) {
      if (operand > 0 && operand != k) device.linear = 0;
    }
  }
  return device;
}

PointwiseProgram single_op_program(PointwiseOp op, float p0, float p1) {
  PointwiseProgram p;
  p.code.push_back(PointwiseInstruction{op, 0, 0, p0, p1});
  return p;
}

bool program_is_relu(const PointwiseProgram& program) {
  return program.code.size() == 1 && program.code[0].op == PointwiseOp::kRelu && program.code[0].a == 0;
}

PreparedKernel device_copy_kernel() {
  PreparedKernel k;
  k.enqueue = [](const LaunchArgs& args) -> Status {
    const DeviceTensor& in = args.inputs[0];
    const DeviceTensor& out = args.outputs[0];
    if (in.data != out.data && out.byte_size() > 0) {
      KILN_CUDA_CHECK(cudaMemcpyAsync(out.data, in.data, out.byte_size(), cudaMemcpyDeviceToDevice,
                                      args.libraries.stream));
    }
    return ok_status();
  };
  return k;
}

Status enqueue_program(const DeviceTensor& tensor, const void* bias, int64_t inner, int64_t channels,
                       const DeviceProgram& program, cudaStream_t stream) {
  KILN_CUDA_CHECK_LAUNCH(launch_pointwise_program(tensor.dtype, tensor.data, tensor.data, bias,
                                                  tensor.element_count(), inner, channels, program, stream));
  return ok_status();
}

}  // namespace kiln::cuda
