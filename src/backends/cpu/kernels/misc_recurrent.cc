#include "backends/cpu/kernels/misc_kernels.h"

namespace kiln::cpu {

void register_recurrent_kernels(KernelTable& table) { (void)table; }

}  // namespace kiln::cpu
