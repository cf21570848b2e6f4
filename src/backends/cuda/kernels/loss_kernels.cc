// NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (log-softmax along
// axis 1, then the same NLL kernel).
#include "backends/cuda/device_memory_pool.h"
#include "backends/cuda/kernels/kernel_helpers.h"
#include "backends/cuda/kernels/reduction_launch.h"

namespace kiln::cuda {
namespace {

Status loss_supports(const Node& node, const std::vector<TensorInfo>& inputs) {
  if (inputs.size() < 2) return invalid_argument(node.describe() + ": needs scores and targets");
  KILN_RETURN_IF_ERROR(require_dtype(node, inputs[0].dtype,
                                     {DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16,
                                      DataType::kFloat64}));
  KILN_RETURN_IF_ERROR(require_dtype(node, inputs[1].dtype, {DataType::kInt32, DataType::kInt64}, "target"));
  if (inputs.size() > 2 && inputs[2].dtype != DataType::kUndefined && inputs[2].dtype != inputs[0].dtype) {
    return unimplemented(node.describe() + ": weight type differs from the input type");
  }
  return ok_status();
}

Expected<NllParams> nll_params(const PrepareArgs& args) {
  const Dims& x = args.inputs[0].dims;
  if (x.size() < 2) return invalid_argument(args.node.describe() + ": input must be N x C x ...");
  NllParams p;
  p.n = x[0];
  p.classes = x[1];
  for (size_t i = 2; i < x.size(); ++i) p.d *= x[i];
  if (element_count(args.inputs[1].dims) != p.n * p.d) {
    return invalid_argument(args.node.describe() + ": target shape " + dims_to_string(args.inputs[1].dims) +
                            " does not match input " + dims_to_string(x));
  }
  p.has_ignore = args.node.has_attribute("ignore_index");
  p.ignore_index = args.node.attr_int("ignore_index", 0);
  const std::string reduction = args.node.attr_string("reduction", "mean");
  if (reduction == "none") p.mode = 0;
  else if (reduction == "sum") p.mode = 1;
  else if (reduction == "mean") p.mode = 2;
  else return invalid_argument(args.node.describe() + ": unknown reduction '" + reduction + "'");
  return p;
}

CudaKernel loss_kernel(bool softmax_first) {
  CudaKernel k;
  k.supports = loss_supports;
  k.prepare = [softmax_first](const PrepareArgs& args) -> Expected<PreparedKernel> {
    KILN_ASSIGN_OR_RETURN(NllParams p, nll_params(args));
    const size_t scratch_bytes = p.mode == 0 ? 0 : align_up(2 * static_cast<size_t>(p.n * p.d) * sizeof(float));
    const bool own_log_prob = softmax_first && !args.node.has_output(1);
    const size_t log_prob_bytes =
        own_log_prob ? align_up(static_cast<size_t>(element_count(args.inputs[0].dims)) * dtype_size(args.inputs[0].dtype))
                     : 0;
    PreparedKernel prepared;
    prepared.workspace_bytes = scratch_bytes + log_prob_bytes;
    prepared.enqueue = [p, softmax_first, own_log_prob, log_prob_bytes](const LaunchArgs& launch) -> Status {
      const DeviceTensor& x = launch.inputs[0];
      char* workspace = static_cast<char*>(launch.workspace);
      const void* log_prob = x.data;
      if (softmax_first) {
        void* target = own_log_prob ? static_cast<void*>(workspace) : launch.outputs[1].data;
        KILN_CUDA_CHECK_LAUNCH(launch_softmax(x.dtype, true, x.data, target, p.n, p.classes, p.d,
                                              launch.libraries.stream));
        log_prob = target;
      }
      float* scratch = p.mode == 0 ? nullptr : reinterpret_cast<float*>(workspace + log_prob_bytes);
      const void* weight = launch.has_input(2) ? launch.inputs[2].data : nullptr;
      KILN_CUDA_CHECK_LAUNCH(launch_nll_loss(x.dtype, log_prob, launch.inputs[1].data, dtype_size(launch.inputs[1].dtype),
                                             weight, launch.outputs[0].data, scratch, p, launch.libraries.stream));
      return ok_status();
    };
    return prepared;
  };
  return k;
}

}  // namespace

void register_cuda_loss_kernels(CudaKernelTable& table) {
  table.add("NegativeLogLikelihoodLoss", loss_kernel(false));
  table.add("SoftmaxCrossEntropyLoss", loss_kernel(true));
}

}  // namespace kiln::cuda
