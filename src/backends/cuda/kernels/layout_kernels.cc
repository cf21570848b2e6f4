// Tile (a wrap-mode pad), DepthToSpace and SpaceToDepth (6-D strided copies).
#include "backends/cuda/kernels/data_movement_launch.h"
#include "backends/cuda/kernels/kernel_helpers.h"

namespace kiln::cuda {
namespace {

Status fixed_size_input(const Node& node, const std::vector<TensorInfo>& inputs) {
  size_t bytes = inputs.empty() ? 0 : dtype_size(inputs[0].dtype);
  if (bytes != 1 && bytes != 2 && bytes != 4 && bytes != 8) {
    return unsupported_cuda_dtype(node, inputs.empty() ? DataType::kUndefined : inputs[0].dtype);
  }
  return ok_status();
}

CudaKernel tile_kernel() {
  CudaKernel k;
  k.supports = fixed_size_input;
  k.prepare = [](const PrepareArgs& args) -> Expected<PreparedKernel> {
    const Dims& in = args.inputs[0].dims;
    const Dims& out = args.outputs[0].dims;
    if (in.size() > static_cast<size_t>(kMaxRank) || in.empty()) {
      return unimplemented(args.node.describe() + ": Tile of rank " + std::to_string(in.size()) + " on CUDA");
    }
    PadParams p;
    p.rank = static_cast<int>(in.size());
    p.mode = PadMode::kWrap;  // out coordinate c reads c mod extent
    Dims strides = contiguous_strides(in);
    for (size_t d = 0; d < in.size(); ++d) {
      if (in[d] == 0 && out[d] != 0) return invalid_argument(args.node.describe() + ": tiling an empty axis");
      p.out_dims[d] = out[d];
      p.in_dims[d] = in[d];
      p.in_strides[d] = strides[d];
    }
    PreparedKernel prepared;
    prepared.enqueue = [p](const LaunchArgs& launch) -> Status {
      const DeviceTensor& y = launch.outputs[0];
      KILN_CUDA_CHECK_LAUNCH(launch_pad(dtype_size(y.dtype), launch.inputs[0].data, y.data, y.element_count(), p,
                                        launch.libraries.stream));
      return ok_status();
    };
    return prepared;
  };
  return k;
}

// Both ops are a reshape to 6-D, a transpose and a reshape back; the index
// walks the output in its 6-D form with the matching input strides.
CudaKernel block_rearrange_kernel(bool depth_to_space) {
  CudaKernel k;
  k.supports = fixed_size_input;
  k.prepare = [depth_to_space](const PrepareArgs& args) -> Expected<PreparedKernel> {
    const Node& node = args.node;
    const Dims& x = args.inputs[0].dims;
    if (x.size() != 4) return invalid_argument(node.describe() + ": input must be N x C x H x W");
    const int64_t bs = node.attr_int("blocksize", 0);
    if (bs <= 0) return invalid_argument(node.describe() + ": blocksize must be positive");
    const int64_t n = x[0], c = x[1], h = x[2], w = x[3];
    StridedIndex index;
    index.rank = 6;
    auto set = [&index](std::initializer_list<int64_t> dims, std::initializer_list<int64_t> strides) {
      int i = 0;
      for (int64_t d : dims) index.dims[i++] = d;
      i = 0;
      for (int64_t s : strides) index.strides[0][i++] = s;
    };
    if (depth_to_space) {
      if (c % (bs * bs) != 0) return invalid_argument(node.describe() + ": channels not divisible by blocksize^2");
      const int64_t cp = c / (bs * bs);
      // Output walked as [N, C', H, b1, W, b2].
      if (node.attr_string("mode", "DCR") == "CRD") {
        set({n, cp, h, bs, w, bs}, {c * h * w, bs * bs * h * w, w, bs * h * w, 1, h * w});
      } else {
        set({n, cp, h, bs, w, bs}, {c * h * w, h * w, w, bs * cp * h * w, 1, cp * h * w});
      }
    } else {
      if (h % bs != 0 || w % bs != 0) return invalid_argument(node.describe() + ": H and W must divide by blocksize");
      const int64_t hp = h / bs, wp = w / bs;
      // Output walked as [N, b1, b2, C, H', W'].
      set({n, bs, bs, c, hp, wp}, {c * h * w, w, 1, h * w, bs * w, bs});
    }
    PreparedKernel prepared;
    prepared.enqueue = [index](const LaunchArgs& launch) -> Status {
      const DeviceTensor& y = launch.outputs[0];
      KILN_CUDA_CHECK_LAUNCH(launch_strided_copy(dtype_size(y.dtype), launch.inputs[0].data, y.data,
                                                 y.element_count(), index, launch.libraries.stream));
      return ok_status();
    };
    return prepared;
  };
  return k;
}

}  // namespace

void register_cuda_layout_kernels(CudaKernelTable& table) {
  table.add("Tile", tile_kernel());
  table.add("DepthToSpace", block_rearrange_kernel(true));
  table.add("SpaceToDepth", block_rearrange_kernel(false));
}

}  // namespace kiln::cuda
