// Internal split of the CPU nn kernels (register_nn_kernels in nn.cc calls these).
#pragma once

#include <vector>

#include "backends/cpu/cpu_kernels.h"

namespace kiln::cpu {

// A build-time check that input `index` has one of `types` (an unknown type passes),
// so an unsupported type is reported when the engine is built rather than when it runs.
SupportsFn input_type_in(std::vector<DataType> types, size_t index = 0);

// Element types of the floating-point kernels (half types are computed in float32).
inline std::vector<DataType> float_types() {
  return {DataType::kFloat32, DataType::kFloat64, DataType::kFloat16, DataType::kBFloat16};
}

void register_conv_kernels(KernelTable& table);    // Conv, ConvTranspose, ConvInteger
void register_pool_kernels(KernelTable& table);    // MaxPool, AveragePool, LpPool, global pools, MaxUnpool
void register_matmul_kernels(KernelTable& table);  // MatMul, Gemm, MatMulInteger

}  // namespace kiln::cpu
