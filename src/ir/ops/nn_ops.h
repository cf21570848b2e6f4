// Internal split of the nn op group (register_nn_ops in nn.cc calls these).
#pragma once

#include "ir/op_registry.h"

namespace kiln {

void register_conv_schemas(OpRegistry& registry);    // Conv, ConvTranspose, ConvInteger
void register_pool_schemas(OpRegistry& registry);    // MaxPool, AveragePool, LpPool, global pools, MaxUnpool
void register_matmul_schemas(OpRegistry& registry);  // MatMul, Gemm, MatMulInteger

}  // namespace kiln
