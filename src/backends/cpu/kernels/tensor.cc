#include "backends/cpu/cpu_kernels.h"
#include "backends/cpu/kernels/tensor_storage.h"

namespace kiln::cpu {

void register_tensor_kernels(KernelTable& table) {
  tensor_kernels::register_shape_kernels(table);
  tensor_kernels::register_slice_kernels(table);
  tensor_kernels::register_index_kernels(table);
  tensor_kernels::register_generator_kernels(table);
  tensor_kernels::register_unique_kernel(table);
}

}  // namespace kiln::cpu
