#include "backends/cpu/kernels/misc_kernels.h"

namespace kiln::cpu {

void register_signal_kernels(KernelTable& table) { (void)table; }

}  // namespace kiln::cpu
