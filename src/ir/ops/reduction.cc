#include "ir/ops/reduction_groups.h"

namespace kiln {

void register_reduction_ops(OpRegistry& registry) {
  register_reduce_ops(registry);
  register_softmax_ops(registry);
  register_normalization_ops(registry);
  register_loss_ops(registry);
  register_linalg_ops(registry);
}

}  // namespace kiln
