// GridSample (2-D): nearest or bilinear sampling with zeros, border or
// reflection padding.
#include "backends/cuda/kernels/data_movement_launch.h"
#include "backends/cuda/kernels/kernel_helpers.h"

namespace kiln::cuda {
namespace {

CudaKernel grid_sample_kernel() {
  CudaKernel k;
  k.supports = [](const Node& node, const std::vector<TensorInfo>& inputs) -> Status {
    if (inputs.size() < 2) return invalid_argument(node.describe() + ": GridSample needs X and grid");
    KILN_RETURN_IF_ERROR(require_dtype(node, inputs[0].dtype, kFloatTypes));
    if (inputs[1].dtype != inputs[0].dtype) return unsupported_cuda_dtype(node, inputs[1].dtype, "grid");
    return ok_status();
  };
  k.prepare = [](const PrepareArgs& args) -> Expected<PreparedKernel> {
    const Node& node = args.node;
    const Dims& x = args.inputs[0].dims;
    const Dims& grid = args.inputs[1].dims;
    if (x.size() != 4 || grid.size() != 4 || grid[3] != 2) {
      return unimplemented(node.describe() + ": only 2-D GridSample runs on the CUDA backend");
    }
    GridSampleParams p;
    p.n = x[0];
    p.c = x[1];
    p.in_h = x[2];
    p.in_w = x[3];
    p.out_h = grid[1];
    p.out_w = grid[2];
    const std::string mode = node.attr_string("mode", "bilinear");
    if (mode == "nearest") p.nearest = true;
    else if (mode != "bilinear" && mode != "linear") {
      return unimplemented(node.describe() + ": GridSample mode '" + mode + "' is not supported on CUDA");
    }
    const std::string padding = node.attr_string("padding_mode", "zeros");
    if (padding == "zeros") p.padding = 0;
    else if (padding == "border") p.padding = 1;
    else if (padding == "reflection") p.padding = 2;
    else return invalid_argument(node.describe() + ": unknown padding_mode '" + padding + "'");
    p.align_corners = node.attr_int("align_corners", 0) != 0;
    PreparedKernel prepared;
    prepared.enqueue = [p](const LaunchArgs& launch) -> Status {
      KILN_CUDA_CHECK_LAUNCH(launch_grid_sample(launch.inputs[0].dtype, launch.inputs[0].data, launch.inputs[1].data,
                                                launch.outputs[0].data, p, launch.libraries.stream));
      return ok_status();
    };
    return prepared;
  };
  return k;
}

}  // namespace

void register_cuda_grid_sample_kernels(CudaKernelTable& table) { table.add("GridSample", grid_sample_kernel()); }

}  // namespace kiln::cuda
