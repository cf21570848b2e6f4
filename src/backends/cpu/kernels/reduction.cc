#include "backends/cpu/kernels/reduction_kernels.h"

namespace kiln::cpu {

void register_reduction_kernels(KernelTable& table) {
  register_reduce_kernels(table);
  register_softmax_kernels(table);
  register_topk_kernels(table);
  register_normalization_kernels(table);
  register_local_norm_kernels(table);
  register_loss_kernels(table);
  register_einsum_kernels(table);
  register_det_kernels(table);
}

}  // namespace kiln::cpu
