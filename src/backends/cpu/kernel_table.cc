#include "backends/cpu/cpu_kernels.h"

namespace kiln::cpu {

const KernelTable& KernelTable::global() {
  static const KernelTable* table = [] {
    auto* t = new KernelTable();
    register_elementwise_kernels(*t);
    register_tensor_kernels(*t);
    register_reduction_kernels(*t);
    register_nn_kernels(*t);
    register_misc_kernels(*t);
    register_fused_kernels(*t);
    register_channels_last_kernels(*t);
    return t;
  }();
  return *table;
}

void KernelTable::add(const std::string& op_type, CpuKernel kernel, const std::string& domain) {
  kernels_[{domain, op_type}] = std::move(kernel);
}

const CpuKernel* KernelTable::find(const std::string& op_type, const std::string& domain) const {
  std::string d = domain == "ai.onnx" ? "" : domain;
  auto it = kernels_.find({d, op_type});
  return it == kernels_.end() ? nullptr : &it->second;
}

Status unsupported_dtype(const Node& node, DataType dtype, const std::string& which) {
  return unimplemented(node.describe() + ": " + which + " type " + dtype_name(dtype) +
                       " is not supported by the CPU backend");
}

}  // namespace kiln::cpu
