#include "backends/cpu/cpu_kernels.h"

namespace kiln::cpu {

void register_fused_kernels(KernelTable& table) { (void)table; }

}  // namespace kiln::cpu
