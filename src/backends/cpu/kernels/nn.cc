#include "backends/cpu/kernels/nn_kernels.h"

namespace kiln::cpu {

SupportsFn input_type_in(std::vector<DataType> types, size_t index) {
  return [types = std::move(types), index](const Node& node, const std::vector<TensorInfo>& inputs) -> Status {
    if (index >= inputs.size() || inputs[index].dtype == DataType::kUndefined) return ok_status();
    for (DataType t : types) {
      if (inputs[index].dtype == t) return ok_status();
    }
    return unsupported_dtype(node, inputs[index].dtype, "input " + std::to_string(index));
  };
}

void register_nn_kernels(KernelTable& table) {
  register_conv_kernels(table);
  register_pool_kernels(table);
  register_matmul_kernels(table);
}

}  // namespace kiln::cpu
