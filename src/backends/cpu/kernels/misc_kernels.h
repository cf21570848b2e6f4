// The CPU kernels of the miscellaneous op group, split by theme;
// register_misc_kernels (misc.cc) calls each of these.
#pragma once

#include "backends/cpu/cpu_kernels.h"

namespace kiln::cpu {

void register_resize_kernels(KernelTable& table);
void register_recurrent_kernels(KernelTable& table);
void register_quantization_kernels(KernelTable& table);
void register_detection_kernels(KernelTable& table);  // RoiAlign, NonMaxSuppression, GridSample
void register_grid_sample_kernel(KernelTable& table);
void register_signal_kernels(KernelTable& table);
void register_text_kernels(KernelTable& table);
void register_lp_normalization_kernel(KernelTable& table);

}  // namespace kiln::cpu
