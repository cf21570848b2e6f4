// Conv, ConvTranspose, ConvInteger and QLinearConv. float32 goes through oneDNN, with the
// reference loops as fallback; float64 and integer problems use the loops;
// half types are widened to float32.
#include <optional>

#include "backends/cpu/kernels/nn_conv_reference.h"
#include "backends/cpu/kernels/nn_kernels.h"
#include "backends/cpu/kernels/nn_onednn.h"
#include "backends/cpu/kernels/nn_requantize.h"
#include "core/dispatch.h"

namespace kiln::cpu {
namespace {

Expected<ConvProblem> conv_problem(const Node& node, const Dims& x, const Dims& w, bool transposed) {
  if (x.size() < 3 || x.size() > 5) {
    return unimplemented(node.describe() + ": input X has shape " + dims_to_string(x) +
                         "; only 1-D, 2-D and 3-D convolutions are supported");
  }
  if (w.size() != x.size()) {
    return invalid_argument(node.describe() + ": weights " + dims_to_string(w) + " do not match input X " +
                            dims_to_string(x));
  }
  ConvProblem p;
  p.batch = x[0];
  p.in_channels = x[1];
  p.group = node.attr_int("group", 1);
  Dims kernel(w.begin() + 2, w.end());
  Dims declared = node.attr_ints("kernel_shape", {});
  if (!declared.empty() && declared != kernel) {
    return invalid_argument(node.describe() + ": kernel_shape " + dims_to_string(declared) +
                            " differs from the weights' shape " + dims_to_string(w));
  }
  if (p.group <= 0 || p.in_channels % p.group != 0) {
    return invalid_argument(node.describe() + ": " + std::to_string(p.in_channels) +
                            " input channels are not divisible by group " + std::to_string(p.group));
  }
  if (transposed) {
    if (w[0] != p.in_channels) {
      return invalid_argument(node.describe() + ": weights " + dims_to_string(w) + " expect " + std::to_string(w[0]) +
                              " input channels, X has shape " + dims_to_string(x));
    }
    p.out_channels = w[1] * p.group;
  } else {
    if (w[1] * p.group != p.in_channels) {
      return invalid_argument(node.describe() + ": weights " + dims_to_string(w) + " with group " +
                              std::to_string(p.group) + " do not match input X " + dims_to_string(x));
    }
    p.out_channels = w[0];
    if (p.out_channels % p.group != 0) {
      return invalid_argument(node.describe() + ": " + std::to_string(p.out_channels) +
                              " output channels are not divisible by group " + std::to_string(p.group));
    }
  }
  Dims spatial(x.begin() + 2, x.end());
  if (transposed) {
    KILN_ASSIGN_OR_RETURN(p.geometry, transposed_window_geometry(node, spatial, kernel));
  } else {
    KILN_ASSIGN_OR_RETURN(p.geometry, forward_window_geometry(node, spatial, kernel, false));
  }
  return p;
}

Dims output_dims(const ConvProblem& p) {
  Dims dims = {p.batch, p.out_channels};
  dims.insert(dims.end(), p.geometry.output.begin(), p.geometry.output.end());
  return dims;
}

// The output tensor, allocated by the executor or here.
Tensor& prepare_output(KernelArgs& args, DataType dtype, const Dims& dims) {
  Tensor& out = args.output(0);
  if (!out.defined() || out.dims() != dims || out.dtype() != dtype) out = Tensor::empty(dtype, dims);
  return out;
}

Status check_bias(const Node& node, const Tensor* bias, int64_t out_channels) {
  if (bias && bias->element_count() != out_channels) {
    return invalid_argument(node.describe() + ": bias " + bias->describe() + " does not have " +
                            std::to_string(out_channels) + " elements");
  }
  return ok_status();
}

// Runs a float32 convolution: oneDNN first, the loops when it declines.
Status run_float_conv(const ConvProblem& p, bool transposed, const Tensor& x, const Tensor& w, const Tensor* bias,
                      Tensor& y, const Tensor* constant_weights) {
  const float* b = bias ? bias->data<float>() : nullptr;
  Status status = transposed
                      ? onednn_conv_transpose(p, x.data<float>(), w.data<float>(), b, y.data<float>(), constant_weights)
                      : onednn_conv(p, x.data<float>(), w.data<float>(), b, y.data<float>(), constant_weights);
  if (status.ok()) return status;
  if (status.code() != StatusCode::kUnimplemented) return status;
  if (transposed)
    reference_conv_transpose<float>(p, x.data<float>(), w.data<float>(), b, y.data<float>());
  else
    reference_conv<float>(p, x.data<float>(), w.data<float>(), b, y.data<float>());
  return ok_status();
}

Status run_conv(KernelArgs& args, bool transposed) {
  const Node& node = args.node;
  const Tensor& x = args.input(0);
  const Tensor& w = args.input(1);
  const Tensor* bias = args.has_input(2) ? args.inputs[2] : nullptr;
  if (w.dtype() != x.dtype() || (bias && bias->dtype() != x.dtype())) {
    return invalid_argument(node.describe() + ": X " + x.describe() + ", W " + w.describe() +
                            (bias ? ", B " + bias->describe() : std::string()) + " must share one element type");
  }
  KILN_ASSIGN_OR_RETURN(ConvProblem p, conv_problem(node, x.dims(), w.dims(), transposed));
  KILN_RETURN_IF_ERROR(check_bias(node, bias, p.out_channels));
  Tensor& y = prepare_output(args, x.dtype(), output_dims(p));
  if (y.element_count() == 0) return ok_status();
  switch (x.dtype()) {
    case DataType::kFloat32: {
      const Tensor* constant_weights =
          node.has_input(1) && node.inputs[1]->constant ? &*node.inputs[1]->constant : nullptr;
      return run_float_conv(p, transposed, x, w, bias, y, constant_weights);
    }
    case DataType::kFloat64: {
      const double* b = bias ? bias->data<double>() : nullptr;
      if (transposed)
        reference_conv_transpose<double>(p, x.data<double>(), w.data<double>(), b, y.data<double>());
      else
        reference_conv<double>(p, x.data<double>(), w.data<double>(), b, y.data<double>());
      return ok_status();
    }
    case DataType::kFloat16:
    case DataType::kBFloat16: {
      KILN_ASSIGN_OR_RETURN(Tensor x32, cast_tensor(x, DataType::kFloat32));
      KILN_ASSIGN_OR_RETURN(Tensor w32, cast_tensor(w, DataType::kFloat32));
      std::optional<Tensor> b32;
      if (bias) {
        KILN_ASSIGN_OR_RETURN(b32, cast_tensor(*bias, DataType::kFloat32));
      }
      Tensor y32 = Tensor::empty(DataType::kFloat32, y.dims());
      KILN_RETURN_IF_ERROR(run_float_conv(p, transposed, x32, w32, b32 ? &*b32 : nullptr, y32, nullptr));
      KILN_ASSIGN_OR_RETURN(y, cast_tensor(y32, x.dtype()));
      return ok_status();
    }
    default:
      return unsupported_dtype(node, x.dtype());
  }
}

// (value - zero_point) as int32; `per_channel` zero points apply along axis 0.
Expected<Tensor> subtract_zero_point(const Node& node, const Tensor& values, const Tensor* zero_point,
                                     const char* name) {
  if (values.dtype() != DataType::kUint8 && values.dtype() != DataType::kInt8) {
    return unsupported_dtype(node, values.dtype(), name);
  }
  Tensor out = Tensor::empty(DataType::kInt32, values.dims());
  int64_t count = values.element_count();
  int64_t rows = values.rank() > 0 ? values.dim(0) : 1;
  int64_t row_size = rows > 0 ? count / rows : 0;
  std::vector<int32_t> zeros(1, 0);
  if (zero_point) {
    if (zero_point->dtype() != values.dtype()) {
      return invalid_argument(node.describe() + ": zero point " + zero_point->describe() + " must have the type of " +
                              values.describe());
    }
    if (zero_point->element_count() != 1 && zero_point->element_count() != rows) {
      return invalid_argument(node.describe() + ": zero point " + zero_point->describe() +
                              " must be a scalar or have one value per row of " + values.describe());
    }
    zeros.clear();
    for (int64_t i = 0; i < zero_point->element_count(); ++i)
      zeros.push_back(static_cast<int32_t>(zero_point->scalar_as_int64(i)));
  }
  int32_t* dst = out.data<int32_t>();
  for (int64_t i = 0; i < count; ++i) {
    int32_t zero = zeros.size() == 1 ? zeros[0] : zeros[i / row_size];
    int32_t v = values.dtype() == DataType::kUint8 ? values.data<uint8_t>()[i] : values.data<int8_t>()[i];
    dst[i] = v - zero;
  }
  return out;
}

Status run_conv_integer(KernelArgs& args) {
  const Node& node = args.node;
  KILN_ASSIGN_OR_RETURN(
      Tensor x, subtract_zero_point(node, args.input(0), args.has_input(2) ? args.inputs[2] : nullptr, "input x"));
  // Zero points of x are per tensor: a per-row value would be per batch item.
  if (args.has_input(2) && args.inputs[2]->element_count() != 1) {
    return invalid_argument(node.describe() + ": x_zero_point must be a scalar, got " + args.inputs[2]->describe());
  }
  KILN_ASSIGN_OR_RETURN(
      Tensor w, subtract_zero_point(node, args.input(1), args.has_input(3) ? args.inputs[3] : nullptr, "input w"));
  KILN_ASSIGN_OR_RETURN(ConvProblem p, conv_problem(node, x.dims(), w.dims(), false));
  Tensor& y = prepare_output(args, DataType::kInt32, output_dims(p));
  reference_conv<int32_t>(p, x.data<int32_t>(), w.data<int32_t>(), nullptr, y.data<int32_t>());
  return ok_status();
}

// Scalar float input (a scale) or its per-channel values.
Expected<std::vector<float>> scales_of(const Node& node, const Tensor& t, int64_t channels, const char* name) {
  if (t.dtype() != DataType::kFloat32 || (t.element_count() != 1 && t.element_count() != channels)) {
    return invalid_argument(node.describe() + ": " + name + " " + t.describe() + " must be a float32 scalar" +
                            (channels > 1 ? " or have " + std::to_string(channels) + " values" : std::string()));
  }
  return std::vector<float>(t.data<float>(), t.data<float>() + t.element_count());
}

// Inputs: x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point, B (int32).
Status run_qlinear_conv(KernelArgs& args) {
  const Node& node = args.node;
  if (args.input(2).element_count() != 1) {
    return invalid_argument(node.describe() + ": x_zero_point must be a scalar, got " + args.input(2).describe());
  }
  KILN_ASSIGN_OR_RETURN(Tensor x, subtract_zero_point(node, args.input(0), args.inputs[2], "input x"));
  KILN_ASSIGN_OR_RETURN(Tensor w, subtract_zero_point(node, args.input(3), args.inputs[5], "input w"));
  KILN_ASSIGN_OR_RETURN(ConvProblem p, conv_problem(node, x.dims(), w.dims(), false));
  const Tensor* bias = args.has_input(8) ? args.inputs[8] : nullptr;
  if (bias && bias->dtype() != DataType::kInt32) return unsupported_dtype(node, bias->dtype(), "bias B");
  KILN_RETURN_IF_ERROR(check_bias(node, bias, p.out_channels));
  KILN_ASSIGN_OR_RETURN(std::vector<float> x_scale, scales_of(node, args.input(1), 1, "x_scale"));
  KILN_ASSIGN_OR_RETURN(std::vector<float> w_scale, scales_of(node, args.input(4), p.out_channels, "w_scale"));
  KILN_ASSIGN_OR_RETURN(std::vector<float> y_scale, scales_of(node, args.input(6), 1, "y_scale"));
  const Tensor& y_zero = args.input(7);
  Dims dims = output_dims(p);
  Tensor acc = Tensor::empty(DataType::kInt32, dims);
  reference_conv<int32_t>(p, x.data<int32_t>(), w.data<int32_t>(), bias ? bias->data<int32_t>() : nullptr,
                          acc.data<int32_t>());
  Tensor& y = prepare_output(args, y_zero.dtype(), dims);
  const int64_t plane = p.batch * p.out_channels > 0 ? acc.element_count() / (p.batch * p.out_channels) : 1;
  auto scale_of = [&](int64_t i) {
    return x_scale[0] * w_scale[w_scale.size() == 1 ? 0 : (i / plane) % p.out_channels];
  };
  if (!requantize_into(acc, scale_of, y_scale[0], static_cast<int32_t>(y_zero.scalar_as_int64()), y)) {
    return unsupported_dtype(node, y_zero.dtype(), "y_zero_point");
  }
  return ok_status();
}

}  // namespace

void register_conv_kernels(KernelTable& table) {
  const std::vector<DataType> eight_bit = {DataType::kUint8, DataType::kInt8};
  table.add("Conv", CpuKernel{input_type_in(float_types()), [](KernelArgs& args) { return run_conv(args, false); }});
  table.add("ConvTranspose",
            CpuKernel{input_type_in(float_types()), [](KernelArgs& args) { return run_conv(args, true); }});
  table.add("ConvInteger", CpuKernel{input_type_in(eight_bit), run_conv_integer});
  table.add("QLinearConv", CpuKernel{input_type_in(eight_bit), run_qlinear_conv});
}

}  // namespace kiln::cpu
