#include "backends/cuda/cuda_kernels.h"

namespace kiln::cuda {

const CudaKernelTable& CudaKernelTable::global() {
  static const CudaKernelTable* table = [] {
    auto* t = new CudaKernelTable();
    register_cuda_elementwise_kernels(*t);
    register_cuda_data_movement_kernels(*t);
    register_cuda_conv_kernels(*t);
    register_cuda_conv_transpose_kernels(*t);
    register_cuda_matmul_kernels(*t);
    register_cuda_normalization_kernels(*t);
    register_cuda_reduction_kernels(*t);
    register_cuda_pooling_kernels(*t);
    register_cuda_resize_kernels(*t);
    register_cuda_layout_kernels(*t);
    register_cuda_indexing_kernels(*t);
    register_cuda_loss_kernels(*t);
    register_cuda_generator_kernels(*t);
    register_cuda_quantize_kernels(*t);
    register_cuda_selection_kernels(*t);
    register_cuda_grid_sample_kernels(*t);
    register_cuda_attention_kernels(*t);
    return t;
  }();
  return *table;
}

void CudaKernelTable::add(const std::string& op_type, CudaKernel kernel, const std::string& domain) {
  kernels_[{domain, op_type}] = std::move(kernel);
}

const CudaKernel* CudaKernelTable::find(const std::string& op_type, const std::string& domain) const {
  std::string d = domain == "ai.onnx" ? "" : domain;
  auto it = kernels_.find({d, op_type});
  return it == kernels_.end() ? nullptr : &it->second;
}

Status unsupported_cuda_dtype(const Node& node, DataType dtype, const std::string& which) {
  return unimplemented(node.describe() + ": " + which + " type " + dtype_name(dtype) +
                       " is not supported by the CUDA backend");
}

Status require_dtype(const Node& node, DataType dtype, std::initializer_list<DataType> allowed,
                     const std::string& which) {
  for (DataType d : allowed) {
    if (d == dtype) return ok_status();
  }
  return unsupported_cuda_dtype(node, dtype, which);
}

}  // namespace kiln::cuda
