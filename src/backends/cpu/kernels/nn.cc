#include "backends/cpu/kernels/nn_kernels.h"

namespace kiln::cpu {

void register_nn_kernels(KernelTable& table) {
  register_conv_kernels(table);
  register_pool_kernels(table);
  register_matmul_kernels(table);
}

}  // namespace kiln::cpu
