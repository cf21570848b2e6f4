// Conv and kiln.FusedConv (1-D and 2-D, NCHW) through cuDNN. The algorithm
// and workspace are chosen at shape time; asymmetric padding (which cuDNN's
// descriptors cannot express) pads the input into the workspace first.
// FusedConv whose program is exactly Relu (with a bias) uses
// cudnnConvolutionBiasActivationForward; any other program runs as one
// bias + program kernel after the convolution.
#include <algorithm>
#include <memory>

#include "backends/cuda/device_memory_pool.h"
#include "backends/cuda/kernels/data_movement_launch.h"
#include "backends/cuda/kernels/kernel_helpers.h"

// The legacy convolution API is deprecated in cuDNN 9 but remains the
// simplest way to run a single convolution; the graph API adds nothing here.
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

namespace kiln::cuda {
namespace {

constexpr size_t kMaxConvWorkspace = size_t{1} << 30;

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
  bool run_program = false;  // bias and/or program after the convolution
  DeviceProgram program;
  int64_t spatial = 1;  // output H * W
  int64_t channels = 1;
};

Status conv_supports(const Node& node, const std::vector<TensorInfo>& inputs) {
  if (inputs.size() < 2) return invalid_argument(node.describe() + ": Conv needs X and W");
  KILN_RETURN_IF_ERROR(require_dtype(node, inputs[0].dtype, kFloatTypes));
  for (size_t i = 1; i < inputs.size(); ++i) {
    if (inputs[i].dtype != DataType::kUndefined && inputs[i].dtype != inputs[0].dtype) {
      return unimplemented(node.describe() + ": input " + std::to_string(i) + " has type " +
                           dtype_name(inputs[i].dtype) + ", X has " + dtype_name(inputs[0].dtype));
    }
  }
  const TensorInfo& w = inputs[1];
  if (w.dims_known && w.dims.size() != 3 && w.dims.size() != 4) {
    return unimplemented(node.describe() + ": only 1-D and 2-D convolutions run on the CUDA backend (weight rank " +
                         std::to_string(w.dims.size()) + ")");
  }
  return ok_status();
}

// Per spatial axis (H, W): begin/end pads, stride, dilation.
struct SpatialParams {
  int64_t pad_begin[2] = {0, 0}, pad_end[2] = {0, 0}, stride[2] = {1, 1}, dilation[2] = {1, 1};
};

Expected<SpatialParams> spatial_params(const PrepareArgs& args, const Dims& x, const Dims& w, const Dims& y) {
  const Node& node = args.node;
  const int spatial = static_cast<int>(x.size()) - 2;
  const int shift = 2 - spatial;  // 1-D convolutions run as 2-D with H = 1
  SpatialParams p;
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

Expected<PreparedKernel> prepare_conv(const PrepareArgs& args, bool fused) {
  const Node& node = args.node;
  const Dims& x = args.inputs[0].dims;
  const Dims& w = args.inputs[1].dims;
  const Dims& y = args.outputs[0].dims;
  if (x.size() != w.size() || (x.size() != 3 && x.size() != 4) || y.size() != x.size()) {
    return unimplemented(node.describe() + ": only 1-D and 2-D convolutions run on the CUDA backend (input " +
                         dims_to_string(x) + ", weight " + dims_to_string(w) + ")");
  }
  const DataType dtype = args.inputs[0].dtype;
  KILN_ASSIGN_OR_RETURN(cudnnDataType_t data_type, cudnn_type(node, dtype));
  KILN_ASSIGN_OR_RETURN(SpatialParams sp, spatial_params(args, x, w, y));
  const bool one_d = x.size() == 3;
  auto as4 = [one_d](const Dims& d) -> Dims { return one_d ? Dims{d[0], d[1], 1, d[2]} : d; };
  Dims x4 = as4(x), w4 = as4(w), y4 = as4(y);
  const int64_t groups = node.attr_int("group", 1);

  ConvPlan plan;
  plan.descriptors = std::make_shared<ConvDescriptors>();
  ConvDescriptors& d = *plan.descriptors;
  KILN_CUDNN_CHECK(cudnnCreateTensorDescriptor(&d.x));
  KILN_CUDNN_CHECK(cudnnCreateTensorDescriptor(&d.y));
  KILN_CUDNN_CHECK(cudnnCreateFilterDescriptor(&d.w));
  KILN_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&d.conv));

  // Asymmetric pads: pad the input explicitly, then convolve without padding.
  plan.pre_pad = sp.pad_begin[0] != sp.pad_end[0] || sp.pad_begin[1] != sp.pad_end[1];
  Dims conv_input = x4;
  if (plan.pre_pad) {
    conv_input[2] += sp.pad_begin[0] + sp.pad_end[0];
    conv_input[3] += sp.pad_begin[1] + sp.pad_end[1];
    PadParams& pad = plan.pad;
    pad.rank = 4;
    Dims strides = contiguous_strides(x4);
    for (int i = 0; i < 4; ++i) {
      pad.out_dims[i] = conv_input[i];
      pad.in_dims[i] = x4[i];
      pad.in_strides[i] = strides[i];
    }
    pad.pad_begin[2] = sp.pad_begin[0];
    pad.pad_begin[3] = sp.pad_begin[1];
    pad.mode = PadMode::kConstant;
    plan.padded_count = element_count(conv_input);
    plan.padded_bytes = align_up(static_cast<size_t>(plan.padded_count) * dtype_size(dtype));
  }
  const int pad_h = plan.pre_pad ? 0 : static_cast<int>(sp.pad_begin[0]);
  const int pad_w = plan.pre_pad ? 0 : static_cast<int>(sp.pad_begin[1]);

  KILN_CUDNN_CHECK(cudnnSetTensor4dDescriptor(d.x, CUDNN_TENSOR_NCHW, data_type, conv_input[0], conv_input[1],
                                              conv_input[2], conv_input[3]));
  KILN_CUDNN_CHECK(cudnnSetFilter4dDescriptor(d.w, data_type, CUDNN_TENSOR_NCHW, w4[0], w4[1], w4[2], w4[3]));
  KILN_CUDNN_CHECK(cudnnSetTensor4dDescriptor(d.y, CUDNN_TENSOR_NCHW, data_type, y4[0], y4[1], y4[2], y4[3]));
  KILN_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(d.conv, pad_h, pad_w, static_cast<int>(sp.stride[0]),
                                                   static_cast<int>(sp.stride[1]), static_cast<int>(sp.dilation[0]),
                                                   static_cast<int>(sp.dilation[1]), CUDNN_CROSS_CORRELATION,
                                                   CUDNN_DATA_FLOAT));
  KILN_CUDNN_CHECK(cudnnSetConvolutionGroupCount(d.conv, static_cast<int>(groups)));
  const bool tensor_ops = dtype != DataType::kFloat32 || args.libraries.allow_tf32;
  KILN_CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv, tensor_ops ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH));

  // Check that cuDNN computes the output shape the IR inferred.
  int n = 0, c = 0, h = 0, wd = 0;
  KILN_CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(d.conv, d.x, d.w, &n, &c, &h, &wd));
  if (Dims{n, c, h, wd} != y4) {
    return internal_error(node.describe() + ": cuDNN computes output " + dims_to_string(Dims{n, c, h, wd}) +
                          " but the IR inferred " + dims_to_string(y4));
  }

  cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
  int returned = 0;
  KILN_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(args.libraries.cudnn, d.x, d.w, d.conv, d.y,
                                                          CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &returned, perf));
  const cudnnConvolutionFwdAlgoPerf_t* chosen = nullptr;
  for (int i = 0; i < returned; ++i) {
    if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].memory <= kMaxConvWorkspace) {
      chosen = &perf[i];
      break;
    }
  }
  if (!chosen) {
    return unimplemented(node.describe() + ": cuDNN offers no convolution algorithm for input " +
                         dims_to_string(x) + " and weight " + dims_to_string(w));
  }
  plan.algorithm = chosen->algo;
  if (tensor_ops) KILN_CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv, chosen->mathType));
  KILN_CUDNN_CHECK(cudnnGetConvolutionForwardWorkspaceSize(args.libraries.cudnn, d.x, d.w, d.conv, d.y,
                                                           plan.algorithm, &plan.conv_workspace));

  plan.has_bias = args.has_input(2);
  plan.spatial = y4[2] * y4[3];
  plan.channels = y4[1];
  PointwiseProgram program;
  if (fused) {
    KILN_ASSIGN_OR_RETURN(program, PointwiseProgram::load(node));
  }
  plan.fused_relu = plan.has_bias && program_is_relu(program) && dtype != DataType::kBFloat16;
  if (plan.fused_relu) {
    KILN_CUDNN_CHECK(cudnnCreateTensorDescriptor(&d.bias));
    KILN_CUDNN_CHECK(cudnnSetTensor4dDescriptor(d.bias, CUDNN_TENSOR_NCHW, data_type, 1, y4[1], 1, 1));
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
      KILN_CUDNN_CHECK(cudnnConvolutionBiasActivationForward(
          lib.cudnn, &one, d.x, x, d.w, launch.inputs[1].data, d.conv, plan.algorithm, conv_workspace,
          plan.conv_workspace, &zero, d.y, y.data, d.bias, launch.inputs[2].data, d.activation, d.y, y.data));
      return ok_status();
    }
    KILN_CUDNN_CHECK(cudnnConvolutionForward(lib.cudnn, &one, d.x, x, d.w, launch.inputs[1].data, d.conv,
                                             plan.algorithm, conv_workspace, plan.conv_workspace, &zero, d.y,
                                             y.data));
    if (plan.run_program) {
      const void* bias = plan.has_bias ? launch.inputs[2].data : nullptr;
      KILN_RETURN_IF_ERROR(enqueue_program(y, bias, plan.spatial, plan.channels, plan.program, lib.stream));
    }
    return ok_status();
  };
  return prepared;
}

CudaKernel conv_kernel(bool fused) {
  CudaKernel k;
  k.supports = conv_supports;
  k.prepare = [fused](const PrepareArgs& args) { return prepare_conv(args, fused); };
  return k;
}

}  // namespace

void register_cuda_conv_kernels(CudaKernelTable& table) {
  table.add("Conv", conv_kernel(false));
  table.add("FusedConv", conv_kernel(true), "kiln");
}

}  // namespace kiln::cuda
