// ConvTranspose (1-D and 2-D, NCHW) as cuDNN's backward-data convolution: the
// node's input plays dy, its weight [C_in, C_out/group, kH, kW] the filter
// and its output dx. Begin pads go to cuDNN; end pads and output_padding are
// implied by the output size, which the IR inferred. A bias runs afterwards.
#include <algorithm>
#include <memory>

#include "backends/cuda/kernels/kernel_helpers.h"

#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

namespace kiln::cuda {
namespace {

constexpr size_t kMaxWorkspace = size_t{1} << 30;

struct Descriptors {
  cudnnTensorDescriptor_t dy = nullptr, dx = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  ~Descriptors() {
    if (dy) cudnnDestroyTensorDescriptor(dy);
    if (dx) cudnnDestroyTensorDescriptor(dx);
    if (w) cudnnDestroyFilterDescriptor(w);
    if (conv) cudnnDestroyConvolutionDescriptor(conv);
  }
};

Expected<cudnnDataType_t> cudnn_type(const Node& node, DataType dtype) {
  switch (dtype) {
    case DataType::kFloat32: return CUDNN_DATA_FLOAT;
    case DataType::kFloat16: return CUDNN_DATA_HALF;
    case DataType::kBFloat16: return CUDNN_DATA_BFLOAT16;
    default: return unsupported_cuda_dtype(node, dtype);
  }
}

Expected<PreparedKernel> prepare_conv_transpose(const PrepareArgs& args) {
  const Node& node = args.node;
  const Dims& x = args.inputs[0].dims;
  const Dims& w = args.inputs[1].dims;
  const Dims& y = args.outputs[0].dims;
  if ((x.size() != 3 && x.size() != 4) || w.size() != x.size() || y.size() != x.size()) {
    return unimplemented(node.describe() + ": only 1-D and 2-D ConvTranspose runs on the CUDA backend");
  }
  const int spatial = static_cast<int>(x.size()) - 2;
  const bool one_d = spatial == 1;
  auto as4 = [one_d](const Dims& d) -> Dims { return one_d ? Dims{d[0], d[1], 1, d[2]} : d; };
  const Dims x4 = as4(x), w4 = as4(w), y4 = as4(y);
  std::vector<int64_t> strides = node.attr_ints("strides", std::vector<int64_t>(spatial, 1));
  std::vector<int64_t> dilations = node.attr_ints("dilations", std::vector<int64_t>(spatial, 1));
  std::vector<int64_t> pads = node.attr_ints("pads", std::vector<int64_t>(2 * spatial, 0));
  std::vector<int64_t> output_padding = node.attr_ints("output_padding", std::vector<int64_t>(spatial, 0));
  if (static_cast<int>(strides.size()) != spatial || static_cast<int>(dilations.size()) != spatial ||
      static_cast<int>(pads.size()) != 2 * spatial) {
    return invalid_argument(node.describe() + ": strides, dilations or pads do not match the spatial rank");
  }
  const std::string auto_pad = node.attr_string("auto_pad", "NOTSET");
  int64_t pad_begin[2] = {0, 0}, stride[2] = {1, 1}, dilation[2] = {1, 1};
  for (int i = 0; i < spatial; ++i) {
    const int a = i + (2 - spatial);
    const int64_t kernel_extent = (w[2 + i] - 1) * dilations[i] + 1;
    const int64_t full = strides[i] * (x[2 + i] - 1) + output_padding[i] + kernel_extent;
    const int64_t total = full - y[2 + i];  // begin + end padding that crops `full` to the output
    int64_t begin = pads[i];
    if (auto_pad == "SAME_UPPER") begin = total / 2;
    else if (auto_pad == "SAME_LOWER") begin = total - total / 2;
    else if (auto_pad == "VALID") begin = 0;
    if (node.has_attribute("output_shape") && auto_pad == "NOTSET") begin = total - total / 2;
    const int64_t end = total - begin;
    // cuDNN pads both sides by `begin`; the forward convolution of the output
    // must give back the input's size.
    const int64_t slack = begin - end + output_padding[i];
    if (begin < 0 || end < 0 || slack < 0 || slack >= strides[i]) {
      return unimplemented(node.describe() + ": ConvTranspose padding (" + std::to_string(begin) + ", " +
                           std::to_string(end) + ") is not supported by the CUDA backend");
    }
    pad_begin[a] = begin;
    stride[a] = strides[i];
    dilation[a] = dilations[i];
  }
  const DataType dtype = args.inputs[0].dtype;
  KILN_ASSIGN_OR_RETURN(cudnnDataType_t data_type, cudnn_type(node, dtype));
  const int64_t groups = node.attr_int("group", 1);
  auto d = std::make_shared<Descriptors>();
  KILN_CUDNN_CHECK(cudnnCreateTensorDescriptor(&d->dy));
  KILN_CUDNN_CHECK(cudnnCreateTensorDescriptor(&d->dx));
  KILN_CUDNN_CHECK(cudnnCreateFilterDescriptor(&d->w));
  KILN_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&d->conv));
  KILN_CUDNN_CHECK(cudnnSetTensor4dDescriptor(d->dy, CUDNN_TENSOR_NCHW, data_type, x4[0], x4[1], x4[2], x4[3]));
  KILN_CUDNN_CHECK(cudnnSetTensor4dDescriptor(d->dx, CUDNN_TENSOR_NCHW, data_type, y4[0], y4[1], y4[2], y4[3]));
  KILN_CUDNN_CHECK(cudnnSetFilter4dDescriptor(d->w, data_type, CUDNN_TENSOR_NCHW, w4[0], w4[1], w4[2], w4[3]));
  KILN_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(d->conv, static_cast<int>(pad_begin[0]),
                                                   static_cast<int>(pad_begin[1]), static_cast<int>(stride[0]),
                                                   static_cast<int>(stride[1]), static_cast<int>(dilation[0]),
                                                   static_cast<int>(dilation[1]), CUDNN_CROSS_CORRELATION,
                                                   CUDNN_DATA_FLOAT));
  KILN_CUDNN_CHECK(cudnnSetConvolutionGroupCount(d->conv, static_cast<int>(groups)));
  const bool tensor_ops = dtype != DataType::kFloat32 || args.libraries.allow_tf32;
  KILN_CUDNN_CHECK(cudnnSetConvolutionMathType(d->conv, tensor_ops ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH));

  cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
  int returned = 0;
  KILN_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(args.libraries.cudnn, d->w, d->dy, d->conv, d->dx,
                                                               CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &returned,
                                                               perf));
  const cudnnConvolutionBwdDataAlgoPerf_t* chosen = nullptr;
  for (int i = 0; i < returned; ++i) {
    if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].memory <= kMaxWorkspace) {
      chosen = &perf[i];
      break;
    }
  }
  if (!chosen) return unimplemented(node.describe() + ": cuDNN offers no ConvTranspose algorithm for these shapes");
  const cudnnConvolutionBwdDataAlgo_t algorithm = chosen->algo;
  if (tensor_ops) KILN_CUDNN_CHECK(cudnnSetConvolutionMathType(d->conv, chosen->mathType));
  size_t workspace = 0;
  KILN_CUDNN_CHECK(cudnnGetConvolutionBackwardDataWorkspaceSize(args.libraries.cudnn, d->w, d->dy, d->conv, d->dx,
                                                                algorithm, &workspace));
  const bool has_bias = args.has_input(2);
  KILN_ASSIGN_OR_RETURN(DeviceProgram no_program, to_device_program(node, PointwiseProgram{}));
  const int64_t spatial_size = y4[2] * y4[3], channels = y4[1];

  PreparedKernel prepared;
  prepared.workspace_bytes = workspace;
  prepared.enqueue = [d, algorithm, workspace, has_bias, no_program, spatial_size,
                      channels](const LaunchArgs& launch) -> Status {
    const float one = 1.f, zero = 0.f;
    const DeviceTensor& out = launch.outputs[0];
    KILN_CUDNN_CHECK(cudnnConvolutionBackwardData(launch.libraries.cudnn, &one, d->w, launch.inputs[1].data, d->dy,
                                                  launch.inputs[0].data, d->conv, algorithm, launch.workspace,
                                                  workspace, &zero, d->dx, out.data));
    if (has_bias) {
      KILN_RETURN_IF_ERROR(enqueue_program(out, launch.inputs[2].data, spatial_size, channels, no_program,
                                           launch.libraries.stream));
    }
    return ok_status();
  };
  return prepared;
}

}  // namespace

void register_cuda_conv_transpose_kernels(CudaKernelTable& table) {
  CudaKernel k;
  k.supports = [](const Node& node, const std::vector<TensorInfo>& inputs) -> Status {
    if (inputs.size() < 2) return invalid_argument(node.describe() + ": ConvTranspose needs X and W");
    KILN_RETURN_IF_ERROR(require_dtype(node, inputs[0].dtype, kFloatTypes));
    for (size_t i = 1; i < inputs.size(); ++i) {
      if (inputs[i].dtype != DataType::kUndefined && inputs[i].dtype != inputs[0].dtype) {
        return unimplemented(node.describe() + ": mixed input types are not supported by the CUDA backend");
      }
    }
    if (inputs[1].dims_known && inputs[1].dims.size() != 3 && inputs[1].dims.size() != 4) {
      return unimplemented(node.describe() + ": only 1-D and 2-D ConvTranspose runs on the CUDA backend");
    }
    return ok_status();
  };
  k.prepare = prepare_conv_transpose;
  table.add("ConvTranspose", k);
}

}  // namespace kiln::cuda
