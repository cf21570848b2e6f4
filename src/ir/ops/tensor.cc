#include "ir/op_registry.h"
#include "ir/ops/tensor_ops.h"

namespace kiln {

void register_tensor_ops(OpRegistry& registry) {
  tensor_ops::register_shape_ops(registry);
  tensor_ops::register_slice_ops(registry);
  tensor_ops::register_index_ops(registry);
  tensor_ops::register_generator_ops(registry);
}

}  // namespace kiln
