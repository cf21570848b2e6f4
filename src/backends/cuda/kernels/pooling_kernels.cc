// MaxPool and AveragePool (1-D, 2-D and 3-D, NCHW) and their 2-D channels-last
// variants (kiln.NhwcMaxPool, kiln.NhwcAveragePool) with own kernels: any
// padding, dilation and ceil_mode (the output size comes from the IR's inference).
#include <algorithm>

#include "backends/cuda/kernels/kernel_helpers.h"
#include "backends/cuda/kernels/reduction_launch.h"
#include "ir/channels_last.h"

namespace kiln::cuda {
namespace {

CudaKernel pool_kernel(bool is_max, bool channels_last = false) {
  CudaKernel k;
  k.supports = [channels_last](const Node& node, const std::vector<TensorInfo>& inputs) -> Status {
    KILN_RETURN_IF_ERROR(require_dtype(node, inputs.empty() ? DataType::kUndefined : inputs[0].dtype, kFloatTypes));
    if (inputs[0].dims_known && (inputs[0].dims.size() < 3 || inputs[0].dims.size() > 5)) {
      return unimplemented(node.describe() + ": only 1-D, 2-D and 3-D pooling runs on the CUDA backend");
    }
    if (channels_last && inputs[0].dims_known && inputs[0].dims.size() != 4) {
      return unimplemented(node.describe() + ": channels-last pooling must be 2-D");
    }
    return ok_status();
  };
  k.prepare = [is_max, channels_last](const PrepareArgs& args) -> Expected<PreparedKernel> {
    const Node& node = args.node;
    if (channels_last && (args.inputs[0].dims.size() != 4 || args.outputs[0].dims.size() != 4)) {
      return unimplemented(node.describe() + ": channels-last pooling must be 2-D");
    }
    // Logical NCHW extents; channels-last storage is described by p.channels_last below.
    const Dims x = channels_last ? permute_dims(args.inputs[0].dims, kToChannelsFirst) : args.inputs[0].dims;
    const Dims y = channels_last ? permute_dims(args.outputs[0].dims, kToChannelsFirst) : args.outputs[0].dims;
    if (x.size() < 3 || x.size() > 5 || y.size() != x.size()) {
      return unimplemented(node.describe() + ": only 1-D, 2-D and 3-D pooling runs on the CUDA backend");
    }
    const int spatial = static_cast<int>(x.size()) - 2;
    std::vector<int64_t> kernel = node.attr_ints("kernel_shape");
    if (static_cast<int>(kernel.size()) != spatial) {
      return invalid_argument(node.describe() + ": kernel_shape must have " + std::to_string(spatial) + " entries");
    }
    std::vector<int64_t> strides = node.attr_ints("strides", std::vector<int64_t>(spatial, 1));
    std::vector<int64_t> dilations = node.attr_ints("dilations", std::vector<int64_t>(spatial, 1));
    std::vector<int64_t> pads = node.attr_ints("pads", std::vector<int64_t>(2 * spatial, 0));
    if (static_cast<int>(strides.size()) != spatial || static_cast<int>(dilations.size()) != spatial ||
        static_cast<int>(pads.size()) != 2 * spatial) {
      return invalid_argument(node.describe() + ": strides, dilations or pads do not match the spatial rank");
    }
    const std::string auto_pad = node.attr_string("auto_pad", "NOTSET");
    if (auto_pad == "VALID") std::fill(pads.begin(), pads.end(), 0);
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      for (int i = 0; i < spatial; ++i) {
        int64_t total = std::max<int64_t>(
            0, (y[2 + i] - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - x[2 + i]);
        int64_t small = total / 2;
        pads[i] = auto_pad == "SAME_LOWER" ? total - small : small;
        pads[i + spatial] = total - pads[i];
      }
    }
    PoolParams p;
    p.batch_channels = x[0] * x[1];
    p.is_max = is_max;
    p.count_include_pad = node.attr_int("count_include_pad", 0) != 0;
    p.column_major_indices = node.attr_int("storage_order", 0) != 0;
    p.channels_last = channels_last;
    p.channels = x[1];
    // Spatial axes fill width, then height, then depth from the last one.
    const int w = spatial - 1;
    p.in_w = x[2 + w];
    p.out_w = y[2 + w];
    p.kernel_w = kernel[w];
    p.stride_w = strides[w];
    p.dilation_w = dilations[w];
    p.pad_left = pads[w];
    p.pad_right = pads[w + spatial];
    if (spatial >= 2) {
      const int h = spatial - 2;
      p.in_h = x[2 + h];
      p.out_h = y[2 + h];
      p.kernel_h = kernel[h];
      p.stride_h = strides[h];
      p.dilation_h = dilations[h];
      p.pad_top = pads[h];
      p.pad_bottom = pads[h + spatial];
    }
    if (spatial == 3) {
      p.in_d = x[2];
      p.out_d = y[2];
      p.kernel_d = kernel[0];
      p.stride_d = strides[0];
      p.dilation_d = dilations[0];
      p.pad_front = pads[0];
      p.pad_back = pads[3];
    }
    PreparedKernel prepared;
    prepared.enqueue = [p](const LaunchArgs& launch) -> Status {
      int64_t* indices =
          launch.outputs.size() > 1 && launch.outputs[1].present() ? launch.outputs[1].as<int64_t>() : nullptr;
      KILN_CUDA_CHECK_LAUNCH(launch_pool2d(launch.inputs[0].dtype, launch.inputs[0].data, launch.outputs[0].data, p,
                                           launch.libraries.stream, indices));
      return ok_status();
    };
    return prepared;
  };
  return k;
}

}  // namespace

void register_cuda_pooling_kernels(CudaKernelTable& table) {
  table.add("MaxPool", pool_kernel(true));
  table.add("AveragePool", pool_kernel(false));
  table.add(channels_last_variant_of("MaxPool", "")->op, pool_kernel(true, /*channels_last=*/true), "kiln");
  table.add(channels_last_variant_of("AveragePool", "")->op, pool_kernel(false, /*channels_last=*/true), "kiln");
}

}  // namespace kiln::cuda
