// Internal split of the CPU nn kernels (register_nn_kernels in nn.cc calls these).
#pragma once

#include "backends/cpu/cpu_kernels.h"

namespace kiln::cpu {

void register_conv_kernels(KernelTable& table);    // Conv, ConvTranspose, ConvInteger
void register_pool_kernels(KernelTable& table);    // MaxPool, AveragePool, LpPool, global pools, MaxUnpool
void register_matmul_kernels(KernelTable& table);  // MatMul, Gemm, MatMulInteger

}  // namespace kiln::cpu
