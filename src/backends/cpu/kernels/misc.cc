#include "backends/cpu/kernels/misc_kernels.h"

namespace kiln::cpu {

void register_misc_kernels(KernelTable& table) {
  register_resize_kernels(table);
  register_recurrent_kernels(table);
  register_quantization_kernels(table);
  register_detection_kernels(table);
  register_signal_kernels(table);
  register_text_kernels(table);
  register_lp_normalization_kernel(table);
}

}  // namespace kiln::cpu
