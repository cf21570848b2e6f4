// Resize (opset 10+) and Upsample: nearest on any axes, linear and cubic on the last two.
#include <algorithm>

#include "backends/cuda/kernels/data_movement_launch.h"
#include "backends/cuda/kernels/kernel_helpers.h"

namespace kiln::cuda {
namespace {

Expected<std::vector<float>> float_values(const PrepareArgs& args, size_t i) {
  if (!args.has_input(i)) return std::vector<float>{};
  const Tensor* value = args.host_value(i);
  if (!value) {
    return unimplemented(args.node.describe() + ": input " + std::to_string(i) +
                         " must be a constant (or computed from shapes) on the CUDA backend");
  }
  std::vector<float> out;
  for (double v : value->to_double_vector()) out.push_back(static_cast<float>(v));
  return out;
}

Expected<PreparedKernel> prepare_resize(const PrepareArgs& args, bool upsample) {
  const Node& node = args.node;
  const Dims& in = args.inputs[0].dims;
  const Dims& out = args.outputs[0].dims;
  const int64_t rank = static_cast<int64_t>(in.size());
  if (rank == 0 || rank > kMaxRank || out.size() != in.size()) {
    return unimplemented(node.describe() + ": Resize of rank " + std::to_string(rank) + " is not supported on CUDA");
  }
  const bool legacy = upsample || node.opset < 11;
  std::vector<float> scales;
  std::vector<float> sizes;
  if (upsample && node.opset < 9) {
    for (double v : node.attr_floats("scales")) scales.push_back(static_cast<float>(v));
  } else if (legacy) {
    KILN_ASSIGN_OR_RETURN(scales, float_values(args, 1));
  } else {
    KILN_ASSIGN_OR_RETURN(scales, float_values(args, 2));
    KILN_ASSIGN_OR_RETURN(sizes, float_values(args, 3));
  }
  std::vector<int64_t> axes = node.attr_ints("axes");
  if (axes.empty()) {
    for (int64_t d = 0; d < rank; ++d) axes.push_back(d);
  }
  ResizeParams p;
  p.rank = static_cast<int>(rank);
  for (int64_t d = 0; d < rank; ++d) {
    p.in_dims[d] = in[d];
    p.out_dims[d] = out[d];
    p.scales[d] = in[d] > 0 ? static_cast<float>(out[d]) / static_cast<float>(in[d]) : 1.f;
  }
  if (!scales.empty()) {
    if (scales.size() != axes.size()) return invalid_argument(node.describe() + ": scales do not match the axes");
    for (size_t i = 0; i < axes.size(); ++i) p.scales[axes[i] < 0 ? axes[i] + rank : axes[i]] = scales[i];
  } else if (!sizes.empty()) {
    const std::string policy = node.attr_string("keep_aspect_ratio_policy", "stretch");
    if (policy != "stretch") {
      float uniform = policy == "not_larger" ? 1e30f : 0.f;
      for (size_t i = 0; i < axes.size(); ++i) {
        int64_t d = axes[i] < 0 ? axes[i] + rank : axes[i];
        float ratio = sizes[i] / static_cast<float>(in[d]);
        uniform = policy == "not_larger" ? std::min(uniform, ratio) : std::max(uniform, ratio);
      }
      for (int64_t a : axes) p.scales[a < 0 ? a + rank : a] = uniform;
    }
  }
  const std::string mode = node.attr_string("mode", "nearest");
  if (mode == "linear" || mode == "bilinear") {
    p.linear = true;
  } else if (mode == "cubic") {
    p.linear = p.cubic = true;
    p.cubic_a = static_cast<float>(node.attr_float("cubic_coeff_a", -0.75));
    p.exclude_outside = node.attr_int("exclude_outside", 0) != 0;
  } else if (mode != "nearest") {
    return unimplemented(node.describe() + ": Resize mode '" + mode + "' is not supported on CUDA");
  }
  if (node.attr_int("antialias", 0) != 0) {
    return unimplemented(node.describe() + ": antialiased Resize is not supported on CUDA");
  }
  if (p.linear) {
    if (rank < 2) return unimplemented(node.describe() + ": linear Resize needs two spatial axes");
    for (int64_t d = 0; d < rank - 2; ++d) {
      if (in[d] != out[d]) {
        return unimplemented(node.describe() + ": linear and cubic Resize only scale the last two axes on CUDA");
      }
    }
  }
  const std::string coordinates =
      legacy ? "asymmetric" : node.attr_string("coordinate_transformation_mode", "half_pixel");
  if (coordinates == "half_pixel") p.coordinates = ResizeCoordinates::kHalfPixel;
  else if (coordinates == "pytorch_half_pixel") p.coordinates = ResizeCoordinates::kPytorchHalfPixel;
  else if (coordinates == "align_corners") p.coordinates = ResizeCoordinates::kAlignCorners;
  else if (coordinates == "asymmetric") p.coordinates = ResizeCoordinates::kAsymmetric;
  else if (coordinates == "half_pixel_symmetric") p.coordinates = ResizeCoordinates::kHalfPixelSymmetric;
  else if (coordinates == "tf_half_pixel_for_nn") p.coordinates = ResizeCoordinates::kTfHalfPixelForNn;
  else return unimplemented(node.describe() + ": coordinate mode '" + coordinates + "' is not supported on CUDA");
  const std::string nearest = legacy ? "floor" : node.attr_string("nearest_mode", "round_prefer_floor");
  if (nearest == "round_prefer_floor") p.nearest = ResizeNearest::kRoundPreferFloor;
  else if (nearest == "round_prefer_ceil") p.nearest = ResizeNearest::kRoundPreferCeil;
  else if (nearest == "floor") p.nearest = ResizeNearest::kFloor;
  else if (nearest == "ceil") p.nearest = ResizeNearest::kCeil;
  else return unimplemented(node.describe() + ": nearest mode '" + nearest + "' is not supported on CUDA");

  PreparedKernel prepared;
  prepared.enqueue = [p](const LaunchArgs& launch) -> Status {
    const DeviceTensor& y = launch.outputs[0];
    KILN_CUDA_CHECK_LAUNCH(launch_resize(y.dtype, launch.inputs[0].data, y.data, y.element_count(), p,
                                         launch.libraries.stream));
    return ok_status();
  };
  return prepared;
}

CudaKernel resize_kernel(bool upsample) {
  CudaKernel k;
  k.supports = [](const Node& node, const std::vector<TensorInfo>& inputs) -> Status {
    return require_dtype(node, inputs.empty() ? DataType::kUndefined : inputs[0].dtype, kFloatTypes);
  };
  k.prepare = [upsample](const PrepareArgs& args) { return prepare_resize(args, upsample); };
  return k;
}

}  // namespace

void register_cuda_resize_kernels(CudaKernelTable& table) {
  table.add("Resize", resize_kernel(false));
  table.add("Upsample", resize_kernel(true));
}

}  // namespace kiln::cuda
