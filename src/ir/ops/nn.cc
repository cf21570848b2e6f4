#include "ir/ops/nn_ops.h"

namespace kiln {

void register_nn_ops(OpRegistry& registry) {
  register_conv_schemas(registry);
  register_pool_schemas(registry);
  register_matmul_schemas(registry);
}

}  // namespace kiln
