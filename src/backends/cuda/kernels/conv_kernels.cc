// Conv and kiln.FusedConv (1-D, 2-D and 3-D, NCHW) and kiln.NhwcFusedConv
// (2-D, NHWC activations and [M, kH, kW, C/group] filters, see
// src/ir/channels_last.h) through cuDNN. The algorithm and workspace are
// chosen at shape time (conv_algorithm.h); asymmetric padding (which cuDNN's descriptors cannot
// express) pads the input into the workspace first. FusedConv whose program
// is exactly Relu (with a bias) uses cudnnConvolutionBiasActivationForward;
// any other program runs as one bias + program kernel after the convolution.
//
// cuDNN describes every tensor by its logical NCHW extents plus a format, so
// the channels-last variant permutes the stored (NHWC) dims back to NCHW order
// for the descriptors and passes CUDNN_TENSOR_NHWC as the format.
#include <algorithm>
#include <memory>

#include "backends/cuda/device_memory_pool.h"
#include "backends/cuda/kernels/conv_algorithm.h"
#include "backends/cuda/kernels/data_movement_launch.h"
#include "backends/cuda/kernels/kernel_helpers.h"
#include "ir/channels_last.h"

// The legacy convolution API is deprecated in cuDNN 9 but remains the
// simplest way to run a single convolution; the graph API adds nothing here.
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

namespace kiln::cuda {
namespace {

Expected<cudnnDataType_t> cudnn_type(const Node& node, DataType dtype) {
  switch (dtype) {
    case DataType::kFloat32: return CUDNN_DATA_FLOAT;
    case DataType::kFloat16: return CUDNN_DATA_HALF;
    case DataType::kBFloat16: return CUDNN_DATA_BFLOAT16;
    default: return unsupported_cuda_dtype(node, dtype);
  }
}

// Owns the cuDNN descriptors of one prepared convolution.
struct ConvDescriptors {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr, bias = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  cudnnActivationDescriptor_t activation = nullptr;
  ~ConvDescriptors() {
    if (x) cudnnDestroyTensorDescriptor(x);
    if (y) cudnnDestroyTensorDescriptor(y);
    if (bias) cudnnDestroyTensorDescriptor(bias);
    if (w) cudnnDestroyFilterDescriptor(w);
    if (conv) cudnnDestroyConvolutionDescriptor(conv);
    if (activation) cudnnDestroyActivationDescriptor(activation);
  }
};

struct ConvPlan {
  std::shared_ptr<ConvDescriptors> descriptors;
  cudnnConvolutionFwdAlgo_t algorithm = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
  size_t conv_workspace = 0;
  bool pre_pad = false;
  PadParams pad;            // when pre_pad
  size_t padded_bytes = 0;  // aligned size of the padded input in the workspace
  int64_t padded_count = 0;
  bool fused_relu = false;  // cudnnConvolutionBiasActivationForward
  bool has_bias = false;
  bool has_residual = false;  // FusedConv's 4th input, added before the program
  size_t output_bytes = 0;
  bool run_program = false;  // bias and/or program after the convolution
  DeviceProgram program;
  // Channel of output element i for the program's bias: (i / channel_stride) % channels
  // (NCHW: the spatial size; NHWC: 1).
  int64_t channel_stride = 1;
  int64_t channels = 1;
};

Status conv_supports(const Node& node, const std::vector<TensorInfo>& inputs, bool channels_last) {
  if (inputs.size() < 2) return invalid_argument(node.describe() + ": Conv needs X and W");
  if (channels_last && inputs[0].dims_known && inputs[0].dims.size() != 4) {
    return unimplemented(node.describe() + ": channels-last convolutions must be 2-D (input " +
                         dims_to_string(inputs[0].dims) + ")");
  }
  KILN_RETURN_IF_ERROR(require_dtype(node, inputs[0].dtype, kFloatTypes));
  for (size_t i = 1; i < inputs.size(); ++i) {
    if (inputs[i].dtype != DataType::kUndefined && inputs[i].dtype != inputs[0].dtype) {
      return unimplemented(node.describe() + ": input " + std::to_string(i) + " has type " +
                           dtype_name(inputs[i].dtype) + ", X has " + dtype_name(inputs[0].dtype));
    }
  }
  const TensorInfo& w = inputs[1];
  if (w.dims_known && (w.dims.size() < 3 || w.dims.size() > 5)) {
    return unimplemented(node.describe() + ": only 1-D, 2-D and 3-D convolutions run on the CUDA backend (weight "
                         "rank " + std::to_string(w.dims.size()) + ")");
  }
  return ok_status();
}

constexpr int kMaxSpatial = 3;

// Per spatial axis of the promoted shape (1-D runs as 2-D with H = 1).
struct SpatialParams {
  int count = 2;
  int64_t pad_begin[kMaxSpatial] = {}, pad_end[kMaxSpatial] = {};
  int64_t stride[kMaxSpatial] = {1, 1, 1}, dilation[kMaxSpatial] = {1, 1, 1};
};

Expected<SpatialParams> spatial_params(const PrepareArgs& args, const Dims& x, const Dims& w, const Dims& y) {
  const Node& node = args.node;
  const int spatial = static_cast<int>(x.size()) - 2;
  const int shift = spatial == 1 ? 1 : 0;
  SpatialParams p;
  p.count = spatial + shift;
  std::vector<int64_t> strides = node.attr_ints("strides", std::vector<int64_t>(spatial, 1));
  std::vector<int64_t> dilations = node.attr_ints("dilations", std::vector<int64_t>(spatial, 1));
  std::vector<int64_t> pads = node.attr_ints("pads", std::vector<int64_t>(2 * spatial, 0));
  if (static_cast<int>(strides.size()) != spatial || static_cast<int>(dilations.size()) != spatial ||
      static_cast<int>(pads.size()) != 2 * spatial) {
    return invalid_argument(node.describe() + ": strides, dilations or pads do not match the spatial rank");
  }
  const std::string auto_pad = node.attr_string("auto_pad", "NOTSET");
  for (int i = 0; i < spatial; ++i) {
    const int a = i + shift;
    p.stride[a] = strides[i];
    p.dilation[a] = dilations[i];
    if (auto_pad == "NOTSET") {
      p.pad_begin[a] = pads[i];
      p.pad_end[a] = pads[i + spatial];
    } else if (auto_pad == "VALID") {
      p.pad_begin[a] = p.pad_end[a] = 0;
    } else {
      const int64_t in = x[2 + i], out = y[2 + i], k = w[2 + i];
      int64_t total = std::max<int64_t>(0, (out - 1) * strides[i] + (k - 1) * dilations[i] + 1 - in);
      int64_t small = total / 2;
      p.pad_begin[a] = auto_pad == "SAME_LOWER" ? total - small : small;
      p.pad_end[a] = total - p.pad_begin[a];
    }
  }
  return p;
}

std::vector<int> to_int(const Dims& dims) { return std::vector<int>(dims.begin(), dims.end()); }

// An N-d packed tensor descriptor from logical NCHW `dims`, stored NCHW or
// (channels_last, 4-D) NHWC.
Status set_tensor(cudnnTensorDescriptor_t desc, cudnnDataType_t type, const Dims& dims, bool channels_last = false) {
  std::vector<int> extents = to_int(dims);
  if (channels_last) {
    KILN_CUDNN_CHECK(cudnnSetTensorNdDescriptorEx(desc, CUDNN_TENSOR_NHWC, type, static_cast<int>(dims.size()),
                                                  extents.data()));
    return ok_status();
  }
  std::vector<int> strides = to_int(contiguous_strides(dims));
  KILN_CUDNN_CHECK(cudnnSetTensorNdDescriptor(desc, type, static_cast<int>(dims.size()), extents.data(),
                                              strides.data()));
  return ok_status();
}

Expected<PreparedKernel> prepare_conv(const PrepareArgs& args, bool fused, bool channels_last) {
  const Node& node = args.node;
  // Stored extents (what the buffers hold) and, below, logical NCHW extents (what cuDNN is told).
  const Dims& x_stored = args.inputs[0].dims;
  const Dims& y_stored = args.outputs[0].dims;
  if (channels_last && (x_stored.size() != 4 || args.inputs[1].dims.size() != 4 || y_stored.size() != 4)) {
    return unimplemented(node.describe() + ": channels-last convolutions must be 2-D (input " +
                         dims_to_string(x_stored) + ", weight " + dims_to_string(args.inputs[1].dims) + ")");
  }
  auto logical = [channels_last](const Dims& d) { return channels_last ? permute_dims(d, kToChannelsFirst) : d; };
  const Dims x = logical(x_stored);
  const Dims w = logical(args.inputs[1].dims);
  const Dims y = logical(y_stored);
  if (x.size() != w.size() || x.size() < 3 || x.size() > 5 || y.size() != x.size()) {
    return unimplemented(node.describe() + ": only 1-D, 2-D and 3-D convolutions run on the CUDA backend (input " +
                         dims_to_string(x) + ", weight " + dims_to_string(w) + ")");
  }
  const DataType dtype = args.inputs[0].dtype;
  KILN_ASSIGN_OR_RETURN(cudnnDataType_t data_type, cudnn_type(node, dtype));
  KILN_ASSIGN_OR_RETURN(SpatialParams sp, spatial_params(args, x, w, y));
  const bool one_d = x.size() == 3;
  auto promote = [one_d](const Dims& d) -> Dims { return one_d ? Dims{d[0], d[1], 1, d[2]} : d; };
  const Dims xs = promote(x), ws = promote(w), ys = promote(y);
  const int rank = static_cast<int>(xs.size());
  const int64_t groups = node.attr_int("group", 1);

  ConvPlan plan;
  plan.descriptors = std::make_shared<ConvDescriptors>();
  ConvDescriptors& d = *plan.descriptors;
  KILN_CUDNN_CHECK(cudnnCreateTensorDescriptor(&d.x));
  KILN_CUDNN_CHECK(cudnnCreateTensorDescriptor(&d.y));
  KILN_CUDNN_CHECK(cudnnCreateFilterDescriptor(&d.w));
  KILN_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&d.conv));

  // Asymmetric pads: pad the input explicitly, then convolve without padding.
  plan.pre_pad = false;
  for (int i = 0; i < sp.count; ++i) plan.pre_pad |= sp.pad_begin[i] != sp.pad_end[i];
  Dims conv_input = xs;
  if (plan.pre_pad) {
    PadParams& pad = plan.pad;
    pad.rank = rank;
    for (int i = 0; i < sp.count; ++i) conv_input[2 + i] += sp.pad_begin[i] + sp.pad_end[i];
    // The pad kernel works on stored axes; stored axis i holds logical (NCHW) axis `axis`.
    const Dims in_stored = channels_last ? x_stored : xs;
    const Dims out_stored = channels_last ? permute_dims(conv_input, kToChannelsLast) : conv_input;
    Dims strides = contiguous_strides(in_stored);
    for (int i = 0; i < rank; ++i) {
      const int64_t axis = channels_last ? kToChannelsLast[i] : i;
      pad.out_dims[i] = out_stored[i];
      pad.in_dims[i] = in_stored[i];
      pad.in_strides[i] = strides[i];
      pad.pad_begin[i] = axis >= 2 ? sp.pad_begin[axis - 2] : 0;
    }
    pad.mode = PadMode::kConstant;
    plan.padded_count = element_count(conv_input);
    plan.padded_bytes = align_up(static_cast<size_t>(plan.padded_count) * dtype_size(dtype));
  }
  int pads[kMaxSpatial], strides[kMaxSpatial], dilations[kMaxSpatial];
  for (int i = 0; i < sp.count; ++i) {
    pads[i] = plan.pre_pad ? 0 : static_cast<int>(sp.pad_begin[i]);
    strides[i] = static_cast<int>(sp.stride[i]);
    dilations[i] = static_cast<int>(sp.dilation[i]);
  }

  KILN_RETURN_IF_ERROR(set_tensor(d.x, data_type, conv_input, channels_last));
  KILN_RETURN_IF_ERROR(set_tensor(d.y, data_type, ys, channels_last));
  std::vector<int> filter = to_int(ws);
  KILN_CUDNN_CHECK(cudnnSetFilterNdDescriptor(d.w, data_type, channels_last ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW,
                                              rank, filter.data()));
  KILN_CUDNN_CHECK(cudnnSetConvolutionNdDescriptor(d.conv, sp.count, pads, strides, dilations,
                                                   CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  KILN_CUDNN_CHECK(cudnnSetConvolutionGroupCount(d.conv, static_cast<int>(groups)));
  const bool tensor_ops = dtype != DataType::kFloat32 || args.libraries.allow_tf32;
  KILN_CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv, tensor_ops ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH));

  // Check that cuDNN computes the output shape the IR inferred.
  std::vector<int> cudnn_out(rank);
  KILN_CUDNN_CHECK(cudnnGetConvolutionNdForwardOutputDim(d.conv, d.x, d.w, rank, cudnn_out.data()));
  if (Dims(cudnn_out.begin(), cudnn_out.end()) != ys && fused && args.has_input(3)) {
    return unimplemented(node.describe() + ": residual input " + dims_to_string(args.inputs[3].dims) +
                         " makes the output larger than the convolution's " +
                         dims_to_string(Dims(cudnn_out.begin(), cudnn_out.end())) +
                         "; the CUDA backend adds such a residual only unfused (kiln build --no-optimize)");
  }
  if (Dims(cudnn_out.begin(), cudnn_out.end()) != ys) {
    return internal_error(node.describe() + ": cuDNN computes output " +
                          dims_to_string(Dims(cudnn_out.begin(), cudnn_out.end())) + " but the IR inferred " +
                          dims_to_string(ys));
  }

  KILN_ASSIGN_OR_RETURN(ConvAlgorithm algorithm,
                        choose_conv_algorithm(args, ConvOperands{d.x, d.w, d.conv, d.y}, tensor_ops, dtype));
  plan.algorithm = algorithm.algorithm;
  plan.conv_workspace = algorithm.workspace;

  plan.has_bias = args.has_input(2);
  plan.has_residual = fused && args.has_input(3);
  plan.output_bytes = static_cast<size_t>(element_count(y)) * dtype_size(dtype);
  if (plan.has_residual && args.inputs[3].dims != y_stored) {
    return unimplemented(node.describe() + ": residual input " + dims_to_string(args.inputs[3].dims) +
                         " must have the output's shape " + dims_to_string(y_stored) + " on the CUDA backend");
  }
  plan.channel_stride = channels_last ? 1 : element_count(Dims(ys.begin() + 2, ys.end()));
  plan.channels = ys[1];
  PointwiseProgram program;
  if (fused) {
    KILN_ASSIGN_OR_RETURN(program, PointwiseProgram::load(node));
  }
  plan.fused_relu = plan.has_bias && program_is_relu(program) && dtype != DataType::kBFloat16;
  if (plan.fused_relu) {
    KILN_CUDNN_CHECK(cudnnCreateTensorDescriptor(&d.bias));
    Dims bias_dims(rank, 1);
    bias_dims[1] = ys[1];
    KILN_RETURN_IF_ERROR(set_tensor(d.bias, data_type, bias_dims, channels_last));
    KILN_CUDNN_CHECK(cudnnCreateActivationDescriptor(&d.activation));
    KILN_CUDNN_CHECK(cudnnSetActivationDescriptor(d.activation, CUDNN_ACTIVATION_RELU, CUDNN_NOT_PROPAGATE_NAN, 0.0));
  } else {
    plan.run_program = plan.has_bias || !program.empty();
    KILN_ASSIGN_OR_RETURN(plan.program, to_device_program(node, program));
  }

  PreparedKernel prepared;
  prepared.workspace_bytes = plan.padded_bytes + plan.conv_workspace;
  prepared.enqueue = [plan](const LaunchArgs& launch) -> Status {
    const ConvDescriptors& d = *plan.descriptors;
    const CudaLibraries& lib = launch.libraries;
    const void* x = launch.inputs[0].data;
    char* workspace = static_cast<char*>(launch.workspace);
    if (plan.pre_pad) {
      KILN_CUDA_CHECK_LAUNCH(launch_pad(dtype_size(launch.inputs[0].dtype), x, workspace, plan.padded_count,
                                        plan.pad, lib.stream));
      x = workspace;
    }
    void* conv_workspace = plan.conv_workspace > 0 ? workspace + plan.padded_bytes : nullptr;
    const DeviceTensor& y = launch.outputs[0];
    const float one = 1.f, zero = 0.f;
    if (plan.fused_relu) {
      // y = relu(conv(x) + residual + bias); without a residual, z = y with alpha2 = 0.
      const void* z = plan.has_residual ? launch.inputs[3].data : y.data;
      KILN_CUDNN_CHECK(cudnnConvolutionBiasActivationForward(
          lib.cudnn, &one, d.x, x, d.w, launch.inputs[1].data, d.conv, plan.algorithm, conv_workspace,
          plan.conv_workspace, plan.has_residual ? &one : &zero, d.y, z, d.bias, launch.inputs[2].data,
          d.activation, d.y, y.data));
      return ok_status();
    }
    if (plan.has_residual) {
      // y = residual, then y = conv(x) + 1 * y.
      KILN_CUDA_CHECK(cudaMemcpyAsync(y.data, launch.inputs[3].data, plan.output_bytes, cudaMemcpyDeviceToDevice,
                                      lib.stream));
    }
    KILN_CUDNN_CHECK(cudnnConvolutionForward(lib.cudnn, &one, d.x, x, d.w, launch.inputs[1].data, d.conv,
                                             plan.algorithm, conv_workspace, plan.conv_workspace,
                                             plan.has_residual ? &one : &zero, d.y, y.data));
    if (plan.run_program) {
      const void* bias = plan.has_bias ? launch.inputs[2].data : nullptr;
      KILN_RETURN_IF_ERROR(enqueue_program(y, bias, plan.channel_stride, plan.channels, plan.program, lib.stream));
    }
    return ok_status();
  };
  return prepared;
}

CudaKernel conv_kernel(bool fused, bool channels_last = false) {
  CudaKernel k;
  k.supports = [channels_last](const Node& node, const std::vector<TensorInfo>& inputs) {
    return conv_supports(node, inputs, channels_last);
  };
  k.prepare = [fused, channels_last](const PrepareArgs& args) { return prepare_conv(args, fused, channels_last); };
  k.has_tactics = true;
  return k;
}

}  // namespace

void register_cuda_conv_kernels(CudaKernelTable& table) {
  table.add("Conv", conv_kernel(false));
  table.add("FusedConv", conv_kernel(true), "kiln");
  table.add(channels_last_variant_of("FusedConv", "kiln")->op, conv_kernel(true, /*channels_last=*/true), "kiln");
}

}  // namespace kiln::cuda
