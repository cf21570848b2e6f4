#include "ir/op_registry.h"

namespace kiln {

void register_tensor_ops(OpRegistry& registry) { (void)registry; }

}  // namespace kiln
