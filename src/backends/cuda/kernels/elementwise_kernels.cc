// CUDA element-wise ops: unary activations and kiln.PointwiseChain (one
// pointwise-program kernel), other unary math, broadcast binary ops, Where,
// Cast and Not.
#include <cmath>
#include <limits>

#include "backends/cuda/kernels/kernel_helpers.h"

namespace kiln::cuda {
namespace {

// ---- unary ops as one-instruction programs ----------------------------------

// Builds the program for a unary node; host_values give Clip's min/max inputs.
using ProgramBuilder = std::function<Expected<PointwiseProgram>(const PrepareArgs&)>;

Status float_input_supported(const Node& node, const std::vector<TensorInfo>& inputs) {
  return require_dtype(node, inputs.empty() ? DataType::kUndefined : inputs[0].dtype, kFloatTypes);
}

CudaKernel program_kernel(ProgramBuilder build) {
  CudaKernel k;
  k.supports = float_input_supported;
  k.prepare = [build](const PrepareArgs& args) -> Expected<PreparedKernel> {
    KILN_ASSIGN_OR_RETURN(PointwiseProgram program, build(args));
    KILN_ASSIGN_OR_RETURN(DeviceProgram device, to_device_program(args.node, program));
    PreparedKernel prepared;
    prepared.enqueue = [device](const LaunchArgs& launch) -> Status {
      const DeviceTensor& in = launch.inputs[0];
      const DeviceTensor& out = launch.outputs[0];
      KILN_CUDA_CHECK_LAUNCH(launch_pointwise_program(in.dtype, in.data, out.data, nullptr, out.element_count(), 1,
                                                      1, device, launch.libraries.stream));
      return ok_status();
    };
    return prepared;
  };
  return k;
}

CudaKernel unary_kernel(PointwiseOp op, const char* alpha_name = nullptr, float alpha_default = 0,
                        const char* beta_name = nullptr, float beta_default = 0) {
  return program_kernel([=](const PrepareArgs& args) -> Expected<PointwiseProgram> {
    float p0 = alpha_name ? static_cast<float>(args.node.attr_float(alpha_name, alpha_default)) : 0.f;
    float p1 = beta_name ? static_cast<float>(args.node.attr_float(beta_name, beta_default)) : 0.f;
    return single_op_program(op, p0, p1);
  });
}

Expected<PointwiseProgram> clip_program(const PrepareArgs& args) {
  float low = -std::numeric_limits<float>::infinity();
  float high = std::numeric_limits<float>::infinity();
  if (args.node.opset < 11) {
    low = static_cast<float>(args.node.attr_float("min", low));
    high = static_cast<float>(args.node.attr_float("max", high));
  } else {
    for (size_t i : {size_t{1}, size_t{2}}) {
      if (!args.has_input(i)) continue;
      const Tensor* bound = args.host_value(i);
      if (!bound) {
        return unimplemented(args.node.describe() + ": Clip bound " + std::to_string(i) +
                             " must be a constant (or computed from shapes) on the CUDA backend");
      }
      (i == 1 ? low : high) = static_cast<float>(bound->scalar_as_double());
    }
  }
  return single_op_program(PointwiseOp::kClip, low, high);
}

// Gelu (opset 20): 0.5 * x * (1 + erf(x / sqrt(2))) or its tanh approximation.
Expected<PointwiseProgram> gelu_program(const PrepareArgs& args) {
  PointwiseProgram p;
  auto constant = [&p](float c) {
    p.constants.push_back(c);
    return -static_cast<int32_t>(p.constants.size());
  };
  auto emit = [&p](PointwiseOp op, int32_t a, int32_t b = 0) {
    p.code.push_back(PointwiseInstruction{op, a, b, 0, 0});
    return static_cast<int32_t>(p.code.size());
  };
  int32_t inner;
  if (args.node.attr_string("approximate", "none") == "tanh") {
    // tanh(sqrt(2/pi) * (x + 0.044715 x^3))
    int32_t x2 = emit(PointwiseOp::kMul, 0, 0);
    int32_t x3 = emit(PointwiseOp::kMul, x2, 0);
    int32_t scaled = emit(PointwiseOp::kMul, x3, constant(0.044715f));
    int32_t sum = emit(PointwiseOp::kAdd, 0, scaled);
    int32_t arg = emit(PointwiseOp::kMul, sum, constant(0.7978845608f));
    inner = emit(PointwiseOp::kTanh, arg);
  } else {
    int32_t arg = emit(PointwiseOp::kMul, 0, constant(0.7071067812f));
    inner = emit(PointwiseOp::kErf, arg);
  }
  int32_t one_plus = emit(PointwiseOp::kAdd, inner, constant(1.f));
  int32_t times_x = emit(PointwiseOp::kMul, 0, one_plus);
  emit(PointwiseOp::kMul, times_x, constant(0.5f));
  return p;
}

// ---- binary ops ---------------------------------------------------------------

Status same_type_inputs(const Node& node, const std::vector<TensorInfo>& inputs,
                        std::initializer_list<DataType> allowed) {
  DataType first = DataType::kUndefined;
  for (const TensorInfo& info : inputs) {
    if (info.dtype == DataType::kUndefined) continue;
    if (first == DataType::kUndefined) first = info.dtype;
    if (info.dtype != first) {
      return unimplemented(node.describe() + ": inputs of types " + dtype_name(first) + " and " +
                           dtype_name(info.dtype) + " are not supported by the CUDA backend (same type required)");
    }
  }
  return require_dtype(node, first, allowed);
}

constexpr std::initializer_list<DataType> kArithmeticTypes = {
    DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16, DataType::kFloat64, DataType::kInt32,
    DataType::kInt64,   DataType::kInt8,    DataType::kUint8,    DataType::kInt16,   DataType::kUint16,
    DataType::kUint32,  DataType::kUint64};
constexpr std::initializer_list<DataType> kComparableTypes = {
    DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16, DataType::kFloat64, DataType::kInt32,
    DataType::kInt64,   DataType::kInt8,    DataType::kUint8,    DataType::kInt16,   DataType::kUint16,
    DataType::kUint32,  DataType::kUint64,  DataType::kBool};
// Cast handles fewer types than comparisons (every pair is a kernel).
constexpr std::initializer_list<DataType> kCastTypes = {
    DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16, DataType::kFloat64, DataType::kInt32,
    DataType::kInt64,   DataType::kInt8,    DataType::kUint8,    DataType::kBool};
constexpr std::initializer_list<DataType> kBoolType = {DataType::kBool};
constexpr std::initializer_list<DataType> kUnsignedTypes = {DataType::kUint8, DataType::kUint16, DataType::kUint32,
                                                            DataType::kUint64};

// Applies `op` left to right over every input (variadic Max/Min/Sum/Mean),
// each step broadcasting into the output shape. `scale_by_count` turns Sum into Mean.
CudaKernel binary_kernel(BinaryOp op, std::initializer_list<DataType> allowed, bool scale_by_count = false) {
  CudaKernel k;
  std::vector<DataType> allowed_types(allowed);
  k.supports = [allowed_types, op](const Node& node, const std::vector<TensorInfo>& inputs) -> Status {
    for (const TensorInfo& info : inputs) {
      if (info.dtype == DataType::kUndefined) continue;
      bool ok = false;
      for (DataType d : allowed_types) ok |= d == info.dtype;
      if (!ok) return unsupported_cuda_dtype(node, info.dtype);
    }
    // Pow's exponent may have another type: it is cast to the base's type first.
    if (op == BinaryOp::kPow && inputs.size() == 2 && inputs[1].dtype != inputs[0].dtype) {
      KILN_RETURN_IF_ERROR(require_dtype(node, inputs[0].dtype, kCastTypes, "base"));
      return require_dtype(node, inputs[1].dtype, kCastTypes, "exponent");
    }
    return same_type_inputs(node, inputs, {inputs.empty() ? DataType::kUndefined : inputs[0].dtype});
  };
  k.prepare = [op, scale_by_count](const PrepareArgs& args) -> Expected<PreparedKernel> {
    const Dims& out_dims = args.outputs[0].dims;
    const size_t n_inputs = args.inputs.size();
    BinaryOp effective = op;
    if (op == BinaryOp::kMod && args.node.attr_int("fmod", 0) != 0) effective = BinaryOp::kFmod;
    std::vector<StridedIndex> steps;
    if (n_inputs == 1) {
      KILN_ASSIGN_OR_RETURN(StridedIndex index, broadcast_index(args.node, out_dims, {args.inputs[0].dims}));
      steps.push_back(index);
    } else {
      for (size_t i = 1; i < n_inputs; ++i) {
        const Dims& left = i == 1 ? args.inputs[0].dims : out_dims;
        Dims right = args.inputs[i].dims;
        // Old PRelu models carry a per-channel slope [C] for an N x C x ... input.
        if (op == BinaryOp::kPRelu && right.size() == 1 && out_dims.size() > 2 && right[0] == out_dims[1] &&
            right[0] != out_dims.back()) {
          right.resize(out_dims.size() - 1, 1);
        }
        KILN_ASSIGN_OR_RETURN(StridedIndex index, broadcast_index(args.node, out_dims, {left, right}));
        steps.push_back(index);
      }
    }
    const bool cast_exponent = n_inputs == 2 && args.inputs[1].dtype != args.inputs[0].dtype;
    const size_t exponent_bytes =
        cast_exponent ? static_cast<size_t>(element_count(args.inputs[1].dims)) * dtype_size(args.inputs[0].dtype) : 0;
    std::optional<DeviceProgram> scale;
    if (scale_by_count && n_inputs > 1) {
      KILN_ASSIGN_OR_RETURN(DeviceProgram p, to_device_program(args.node, single_op_program(PointwiseOp::kMul)));
      p.b[0] = -1;
      p.constants[0] = 1.f / static_cast<float>(n_inputs);
      scale = p;
    }
    if (scale && !dtype_is_float(args.outputs[0].dtype)) {
      return unsupported_cuda_dtype(args.node, args.outputs[0].dtype);
    }
    PreparedKernel prepared;
    prepared.workspace_bytes = exponent_bytes;
    prepared.enqueue = [effective, steps, scale, cast_exponent](const LaunchArgs& launch) -> Status {
      const DeviceTensor& out = launch.outputs[0];
      const int64_t count = out.element_count();
      cudaStream_t stream = launch.libraries.stream;
      if (launch.inputs.size() == 1) {
        KILN_CUDA_CHECK_LAUNCH(launch_strided_copy(dtype_size(out.dtype), launch.inputs[0].data, out.data, count,
                                                   steps[0], stream));
        return ok_status();
      }
      for (size_t i = 1; i < launch.inputs.size(); ++i) {
        const void* left = i == 1 ? launch.inputs[0].data : out.data;
        const void* right = launch.inputs[i].data;
        if (cast_exponent) {
          const DeviceTensor& exponent = launch.inputs[1];
          KILN_CUDA_CHECK_LAUNCH(launch_cast(exponent.dtype, launch.inputs[0].dtype, exponent.data, launch.workspace,
                                             exponent.element_count(), stream));
          right = launch.workspace;
        }
        KILN_CUDA_CHECK_LAUNCH(launch_binary(launch.inputs[0].dtype, effective, left, right, out.data, count,
                                             steps[i - 1], stream));
      }
      if (scale) {
        KILN_RETURN_IF_ERROR(enqueue_program(out, nullptr, 1, 1, *scale, stream));
      }
      return ok_status();
    };
    return prepared;
  };
  return k;
}

// BitShift on unsigned integers; the direction is an attribute.
CudaKernel bitshift_kernel() {
  CudaKernel left = binary_kernel(BinaryOp::kShiftLeft, kUnsignedTypes);
  CudaKernel right = binary_kernel(BinaryOp::kShiftRight, kUnsignedTypes);
  CudaKernel k;
  k.supports = left.supports;
  k.prepare = [left, right](const PrepareArgs& args) -> Expected<PreparedKernel> {
    const std::string direction = args.node.attr_string("direction", "");
    if (direction == "LEFT") return left.prepare(args);
    if (direction == "RIGHT") return right.prepare(args);
    return invalid_argument(args.node.describe() + ": BitShift direction must be LEFT or RIGHT");
  };
  return k;
}

CudaKernel where_kernel() {
  CudaKernel k;
  k.supports = [](const Node& node, const std::vector<TensorInfo>& inputs) -> Status {
    if (inputs.size() != 3) return invalid_argument(node.describe() + ": Where needs 3 inputs");
    KILN_RETURN_IF_ERROR(require_dtype(node, inputs[0].dtype, kBoolType, "condition"));
    if (inputs[1].dtype != inputs[2].dtype) {
      return invalid_argument(node.describe() + ": Where branches have types " + dtype_name(inputs[1].dtype) +
                              " and " + dtype_name(inputs[2].dtype));
    }
    size_t bytes = dtype_size(inputs[1].dtype);
    if (bytes != 1 && bytes != 2 && bytes != 4 && bytes != 8) return unsupported_cuda_dtype(node, inputs[1].dtype);
    return ok_status();
  };
  k.prepare = [](const PrepareArgs& args) -> Expected<PreparedKernel> {
    KILN_ASSIGN_OR_RETURN(StridedIndex index,
                          broadcast_index(args.node, args.outputs[0].dims,
                                          {args.inputs[0].dims, args.inputs[1].dims, args.inputs[2].dims}));
    PreparedKernel prepared;
    prepared.enqueue = [index](const LaunchArgs& launch) -> Status {
      const DeviceTensor& out = launch.outputs[0];
      KILN_CUDA_CHECK_LAUNCH(launch_where(dtype_size(out.dtype), launch.inputs[0].as<const bool>(),
                                          launch.inputs[1].data, launch.inputs[2].data, out.data,
                                          out.element_count(), index, launch.libraries.stream));
      return ok_status();
    };
    return prepared;
  };
  return k;
}

CudaKernel cast_kernel() {
  CudaKernel k;
  k.supports = [](const Node& node, const std::vector<TensorInfo>& inputs) -> Status {
    KILN_RETURN_IF_ERROR(require_dtype(node, inputs[0].dtype, kCastTypes));
    if (node.op_type == "CastLike") {
      if (inputs.size() < 2) return invalid_argument(node.describe() + ": CastLike needs a target_type input");
      return require_dtype(node, inputs[1].dtype, kCastTypes, "target");
    }
    int64_t to = node.attr_int("to", 0);
    if (!dtype_is_valid(static_cast<int32_t>(to))) return invalid_argument(node.describe() + ": invalid 'to' type");
    return require_dtype(node, static_cast<DataType>(to), kCastTypes, "output");
  };
  k.prepare = [](const PrepareArgs& args) -> Expected<PreparedKernel> {
    PreparedKernel prepared;
    prepared.enqueue = [](const LaunchArgs& launch) -> Status {
      const DeviceTensor& in = launch.inputs[0];
      const DeviceTensor& out = launch.outputs[0];
      if (in.dtype == out.dtype) {
        if (out.byte_size() > 0) {
          KILN_CUDA_CHECK(cudaMemcpyAsync(out.data, in.data, out.byte_size(), cudaMemcpyDeviceToDevice,
                                          launch.libraries.stream));
        }
        return ok_status();
      }
      KILN_CUDA_CHECK_LAUNCH(launch_cast(in.dtype, out.dtype, in.data, out.data, out.element_count(),
                                         launch.libraries.stream));
      return ok_status();
    };
    return prepared;
  };
  return k;
}

CudaKernel not_kernel() {
  CudaKernel k;
  k.supports = [](const Node& node, const std::vector<TensorInfo>& inputs) -> Status {
    return require_dtype(node, inputs[0].dtype, kBoolType);
  };
  k.prepare = [](const PrepareArgs&) -> Expected<PreparedKernel> {
    PreparedKernel prepared;
    prepared.enqueue = [](const LaunchArgs& launch) -> Status {
      KILN_CUDA_CHECK_LAUNCH(launch_logical_not(launch.inputs[0].as<const bool>(), launch.outputs[0].as<bool>(),
                                                launch.outputs[0].element_count(), launch.libraries.stream));
      return ok_status();
    };
    return prepared;
  };
  return k;
}

// Clip: the pointwise program for float types; Max then Min against the
// bound inputs (broadcast scalars) for integer types.
CudaKernel clip_kernel() {
  CudaKernel float_clip = program_kernel(clip_program);
  CudaKernel k;
  k.supports = [](const Node& node, const std::vector<TensorInfo>& inputs) -> Status {
    return require_dtype(node, inputs.empty() ? DataType::kUndefined : inputs[0].dtype,
                         {DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16, DataType::kInt8,
                          DataType::kUint8, DataType::kInt32, DataType::kInt64});
  };
  k.prepare = [float_clip](const PrepareArgs& args) -> Expected<PreparedKernel> {
    if (dtype_is_float(args.inputs[0].dtype)) return float_clip.prepare(args);
    const Dims& out = args.outputs[0].dims;
    KILN_ASSIGN_OR_RETURN(StridedIndex first, broadcast_index(args.node, out, {args.inputs[0].dims, Dims{}}));
    KILN_ASSIGN_OR_RETURN(StridedIndex then, broadcast_index(args.node, out, {out, Dims{}}));
    const bool has_min = args.has_input(1), has_max = args.has_input(2);
    PreparedKernel prepared;
    prepared.enqueue = [first, then, has_min, has_max](const LaunchArgs& launch) -> Status {
      const DeviceTensor& x = launch.inputs[0];
      const DeviceTensor& y = launch.outputs[0];
      cudaStream_t stream = launch.libraries.stream;
      const void* source = x.data;
      if (!has_min && !has_max && y.byte_size() > 0) {
        KILN_CUDA_CHECK(cudaMemcpyAsync(y.data, x.data, y.byte_size(), cudaMemcpyDeviceToDevice, stream));
      }
      if (has_min) {
        KILN_CUDA_CHECK_LAUNCH(launch_binary(x.dtype, BinaryOp::kMax, source, launch.inputs[1].data, y.data,
                                             y.element_count(), first, stream));
        source = y.data;
      }
      if (has_max) {
        KILN_CUDA_CHECK_LAUNCH(launch_binary(x.dtype, BinaryOp::kMin, source, launch.inputs[2].data, y.data,
                                             y.element_count(), source == y.data ? then : first, stream));
      }
      return ok_status();
    };
    return prepared;
  };
  return k;
}

CudaKernel unary_math_kernel(UnaryMathOp op) {
  CudaKernel k;
  k.supports = float_input_supported;
  k.prepare = [op](const PrepareArgs& args) -> Expected<PreparedKernel> {
    UnaryMathOp effective = op;
    if (op == UnaryMathOp::kIsInf) {
      const bool positive = args.node.attr_int("detect_positive", 1) != 0;
      const bool negative = args.node.attr_int("detect_negative", 1) != 0;
      if (!positive && !negative) {
        return unimplemented(args.node.describe() + ": IsInf detecting nothing is not supported");
      }
      effective = positive && negative ? UnaryMathOp::kIsInf
                                       : (positive ? UnaryMathOp::kIsPositiveInf : UnaryMathOp::kIsNegativeInf);
    }
    const float p0 = static_cast<float>(args.node.attr_float("lambd", 0.5));
    const float p1 = static_cast<float>(args.node.attr_float("bias", 0.0));
    PreparedKernel prepared;
    prepared.enqueue = [effective, p0, p1](const LaunchArgs& launch) -> Status {
      KILN_CUDA_CHECK_LAUNCH(launch_unary_math(launch.inputs[0].dtype, effective, launch.inputs[0].data,
                                               launch.outputs[0].data, launch.outputs[0].element_count(),
                                               launch.libraries.stream, p0, p1));
      return ok_status();
    };
    return prepared;
  };
  return k;
}

}  // namespace

void register_cuda_elementwise_kernels(CudaKernelTable& table) {
  table.add("Relu", unary_kernel(PointwiseOp::kRelu));
  table.add("Sigmoid", unary_kernel(PointwiseOp::kSigmoid));
  table.add("Tanh", unary_kernel(PointwiseOp::kTanh));
  table.add("Erf", unary_kernel(PointwiseOp::kErf));
  table.add("Exp", unary_kernel(PointwiseOp::kExp));
  table.add("Log", unary_kernel(PointwiseOp::kLog));
  table.add("Sqrt", unary_kernel(PointwiseOp::kSqrt));
  table.add("Abs", unary_kernel(PointwiseOp::kAbs));
  table.add("Neg", unary_kernel(PointwiseOp::kNeg));
  table.add("Reciprocal", unary_kernel(PointwiseOp::kReciprocal));
  table.add("Floor", unary_kernel(PointwiseOp::kFloor));
  table.add("Ceil", unary_kernel(PointwiseOp::kCeil));
  table.add("Softplus", unary_kernel(PointwiseOp::kSoftplus));
  table.add("Softsign", unary_kernel(PointwiseOp::kSoftsign));
  table.add("HardSwish", unary_kernel(PointwiseOp::kHardSwish));
  table.add("Sign", unary_kernel(PointwiseOp::kSign));
  table.add("LeakyRelu", unary_kernel(PointwiseOp::kLeakyRelu, "alpha", 0.01f));
  table.add("Elu", unary_kernel(PointwiseOp::kElu, "alpha", 1.f));
  table.add("Selu", unary_kernel(PointwiseOp::kSelu, "alpha", 1.67326319217681884765625f, "gamma",
                                 1.05070102214813232421875f));
  table.add("HardSigmoid", unary_kernel(PointwiseOp::kHardSigmoid, "alpha", 0.2f, "beta", 0.5f));
  table.add("Celu", unary_kernel(PointwiseOp::kCelu, "alpha", 1.f));
  table.add("ThresholdedRelu", unary_kernel(PointwiseOp::kThresholdedRelu, "alpha", 1.f));
  table.add("Clip", clip_kernel());
  table.add("Gelu", program_kernel(gelu_program));
  table.add("PointwiseChain", program_kernel([](const PrepareArgs& args) { return PointwiseProgram::load(args.node); }),
            "kiln");

  table.add("Add", binary_kernel(BinaryOp::kAdd, kArithmeticTypes));
  table.add("Sub", binary_kernel(BinaryOp::kSub, kArithmeticTypes));
  table.add("Mul", binary_kernel(BinaryOp::kMul, kArithmeticTypes));
  table.add("Div", binary_kernel(BinaryOp::kDiv, kArithmeticTypes));
  table.add("Pow", binary_kernel(BinaryOp::kPow, kArithmeticTypes));
  table.add("Mod", binary_kernel(BinaryOp::kMod, kArithmeticTypes));
  table.add("PRelu", binary_kernel(BinaryOp::kPRelu, kArithmeticTypes));
  table.add("BitShift", bitshift_kernel());
  table.add("Max", binary_kernel(BinaryOp::kMax, kArithmeticTypes));
  table.add("Min", binary_kernel(BinaryOp::kMin, kArithmeticTypes));
  table.add("Sum", binary_kernel(BinaryOp::kAdd, kArithmeticTypes));
  table.add("Mean", binary_kernel(BinaryOp::kAdd, kFloatTypes, true));
  table.add("Equal", binary_kernel(BinaryOp::kEqual, kComparableTypes));
  table.add("Less", binary_kernel(BinaryOp::kLess, kComparableTypes));
  table.add("Greater", binary_kernel(BinaryOp::kGreater, kComparableTypes));
  table.add("LessOrEqual", binary_kernel(BinaryOp::kLessOrEqual, kComparableTypes));
  table.add("GreaterOrEqual", binary_kernel(BinaryOp::kGreaterOrEqual, kComparableTypes));
  table.add("And", binary_kernel(BinaryOp::kAnd, kBoolType));
  table.add("Or", binary_kernel(BinaryOp::kOr, kBoolType));
  table.add("Xor", binary_kernel(BinaryOp::kXor, kBoolType));
  table.add("Where", where_kernel());
  table.add("Cast", cast_kernel());
  table.add("CastLike", cast_kernel());
  table.add("Not", not_kernel());
  table.add("Sin", unary_math_kernel(UnaryMathOp::kSin));
  table.add("Cos", unary_math_kernel(UnaryMathOp::kCos));
  table.add("Tan", unary_math_kernel(UnaryMathOp::kTan));
  table.add("Asin", unary_math_kernel(UnaryMathOp::kAsin));
  table.add("Acos", unary_math_kernel(UnaryMathOp::kAcos));
  table.add("Atan", unary_math_kernel(UnaryMathOp::kAtan));
  table.add("Sinh", unary_math_kernel(UnaryMathOp::kSinh));
  table.add("Cosh", unary_math_kernel(UnaryMathOp::kCosh));
  table.add("Asinh", unary_math_kernel(UnaryMathOp::kAsinh));
  table.add("Acosh", unary_math_kernel(UnaryMathOp::kAcosh));
  table.add("Atanh", unary_math_kernel(UnaryMathOp::kAtanh));
  table.add("Round", unary_math_kernel(UnaryMathOp::kRound));
  table.add("Mish", unary_math_kernel(UnaryMathOp::kMish));
  table.add("Shrink", unary_math_kernel(UnaryMathOp::kShrink));
  table.add("IsNaN", unary_math_kernel(UnaryMathOp::kIsNaN));
  table.add("IsInf", unary_math_kernel(UnaryMathOp::kIsInf));
}

}  // namespace kiln::cuda
