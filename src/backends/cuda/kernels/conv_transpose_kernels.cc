// ConvTranspose (1-D, 2-D and 3-D, NCHW) as cuDNN's backward-data convolution:
// the node's input plays dy, its weight [C_in, C_out/group, k...] the filter
// and its output dx. When the crop (pads, output_padding, auto_pad,
// output_shape) is expressible as cuDNN padding it runs directly into the
// output; otherwise the uncropped result goes to the workspace and the pad
// kernel crops it. A bias runs afterwards.
#include <algorithm>
#include <memory>

#include "backends/cuda/device_memory_pool.h"
#include "backends/cuda/kernels/data_movement_launch.h"
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
  if (x.size() < 3 || x.size() > 5 || w.size() != x.size() || y.size() != x.size()) {
    return unimplemented(node.describe() + ": only 1-D, 2-D and 3-D ConvTranspose runs on the CUDA backend");
  }
  const int spatial = static_cast<int>(x.size()) - 2;
  const bool one_d = spatial == 1;
  auto promote = [one_d](const Dims& d) -> Dims { return one_d ? Dims{d[0], d[1], 1, d[2]} : d; };
  const Dims xs = promote(x), ws = promote(w), ys = promote(y);
  const int rank = static_cast<int>(xs.size());
  const int count = rank - 2;
  const int shift = one_d ? 1 : 0;
  std::vector<int64_t> strides = node.attr_ints("strides", std::vector<int64_t>(spatial, 1));
  std::vector<int64_t> dilations = node.attr_ints("dilations", std::vector<int64_t>(spatial, 1));
  std::vector<int64_t> pads = node.attr_ints("pads", std::vector<int64_t>(2 * spatial, 0));
  std::vector<int64_t> output_padding = node.attr_ints("output_padding", std::vector<int64_t>(spatial, 0));
  if (static_cast<int>(strides.size()) != spatial || static_cast<int>(dilations.size()) != spatial ||
      static_cast<int>(pads.size()) != 2 * spatial || static_cast<int>(output_padding.size()) != spatial) {
    return invalid_argument(node.describe() + ": strides, dilations or pads do not match the spatial rank");
  }
  const std::string auto_pad = node.attr_string("auto_pad", "NOTSET");
  int64_t begin_pad[3] = {0, 0, 0}, stride[3] = {1, 1, 1}, dilation[3] = {1, 1, 1};
  Dims full = ys;  // the uncropped result when cuDNN cannot crop by itself
  bool direct = true;
  for (int i = 0; i < spatial; ++i) {
    const int a = i + shift;
    const int64_t kernel_extent = (w[2 + i] - 1) * dilations[i] + 1;
    const int64_t uncropped = strides[i] * (x[2 + i] - 1) + kernel_extent;
    const int64_t total = uncropped + output_padding[i] - y[2 + i];  // begin + end crop
    // ONNX defines the split with floor division (total may be negative: zero padding).
    const int64_t half = total >= 0 ? total / 2 : -((-total + 1) / 2);
    int64_t begin = pads[i];
    if (auto_pad == "SAME_UPPER") begin = half;
    else if (auto_pad == "SAME_LOWER") begin = total - half;
    else if (auto_pad == "VALID") begin = 0;
    if (node.has_attribute("output_shape") && auto_pad == "NOTSET") begin = total - half;
    const int64_t end = total - begin;
    // cuDNN pads both sides by `begin`; that works when the forward
    // convolution of the output gives back the input's size.
    const int64_t slack = begin - end + output_padding[i];
    direct = direct && begin >= 0 && end >= 0 && slack >= 0 && slack < strides[i];
    begin_pad[a] = begin;
    stride[a] = strides[i];
    dilation[a] = dilations[i];
    full[2 + a] = uncropped;
  }
  const DataType dtype = args.inputs[0].dtype;
  KILN_ASSIGN_OR_RETURN(cudnnDataType_t data_type, cudnn_type(node, dtype));
  const int64_t groups = node.attr_int("group", 1);
  // Otherwise: compute the uncropped result into the workspace, then crop it
  // (or pad it with zeros) into the output with the pad kernel.
  PadParams crop;
  size_t full_bytes = 0;
  if (!direct) {
    crop.rank = rank;
    Dims full_strides = contiguous_strides(full);
    for (int i = 0; i < rank; ++i) {
      crop.out_dims[i] = ys[i];
      crop.in_dims[i] = full[i];
      crop.in_strides[i] = full_strides[i];
      crop.pad_begin[i] = i >= 2 ? -begin_pad[i - 2] : 0;
    }
    crop.mode = PadMode::kConstant;
    full_bytes = align_up(static_cast<size_t>(element_count(full)) * dtype_size(dtype));
  }
  const Dims& dx_dims = direct ? ys : full;
  int pad[3], conv_stride[3], conv_dilation[3];
  for (int i = 0; i < count; ++i) {
    pad[i] = direct ? static_cast<int>(begin_pad[i]) : 0;
    conv_stride[i] = static_cast<int>(stride[i]);
    conv_dilation[i] = static_cast<int>(dilation[i]);
  }
  auto set_tensor = [](cudnnTensorDescriptor_t desc, cudnnDataType_t type, const Dims& dims) -> Status {
    std::vector<int> extents(dims.begin(), dims.end());
    Dims packed = contiguous_strides(dims);
    std::vector<int> strides(packed.begin(), packed.end());
    KILN_CUDNN_CHECK(cudnnSetTensorNdDescriptor(desc, type, static_cast<int>(dims.size()), extents.data(),
                                                strides.data()));
    return ok_status();
  };
  auto d = std::make_shared<Descriptors>();
  KILN_CUDNN_CHECK(cudnnCreateTensorDescriptor(&d->dy));
  KILN_CUDNN_CHECK(cudnnCreateTensorDescriptor(&d->dx));
  KILN_CUDNN_CHECK(cudnnCreateFilterDescriptor(&d->w));
  KILN_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&d->conv));
  KILN_RETURN_IF_ERROR(set_tensor(d->dy, data_type, xs));
  KILN_RETURN_IF_ERROR(set_tensor(d->dx, data_type, dx_dims));
  std::vector<int> filter(ws.begin(), ws.end());
  KILN_CUDNN_CHECK(cudnnSetFilterNdDescriptor(d->w, data_type, CUDNN_TENSOR_NCHW, rank, filter.data()));
  KILN_CUDNN_CHECK(cudnnSetConvolutionNdDescriptor(d->conv, count, pad, conv_stride, conv_dilation,
                                                   CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
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
  const int64_t spatial_size = element_count(Dims(ys.begin() + 2, ys.end())), channels = ys[1];

  PreparedKernel prepared;
  prepared.workspace_bytes = full_bytes + workspace;
  prepared.enqueue = [d, algorithm, workspace, has_bias, no_program, spatial_size, channels, direct, crop,
                      full_bytes](const LaunchArgs& launch) -> Status {
    const float one = 1.f, zero = 0.f;
    const DeviceTensor& out = launch.outputs[0];
    char* scratch = static_cast<char*>(launch.workspace);
    void* target = direct ? out.data : scratch;
    void* conv_workspace = workspace > 0 ? scratch + full_bytes : nullptr;
    KILN_CUDNN_CHECK(cudnnConvolutionBackwardData(launch.libraries.cudnn, &one, d->w, launch.inputs[1].data, d->dy,
                                                  launch.inputs[0].data, d->conv, algorithm, conv_workspace,
                                                  workspace, &zero, d->dx, target));
    if (!direct) {
      KILN_CUDA_CHECK_LAUNCH(launch_pad(dtype_size(out.dtype), scratch, out.data, out.element_count(), crop,
                                        launch.libraries.stream));
    }
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
    if (inputs[1].dims_known && (inputs[1].dims.size() < 3 || inputs[1].dims.size() > 5)) {
      return unimplemented(node.describe() + ": only 1-D, 2-D and 3-D ConvTranspose runs on the CUDA backend");
    }
    return ok_status();
  };
  k.prepare = prepare_conv_transpose;
  table.add("ConvTranspose", k);
}

}  // namespace kiln::cuda
