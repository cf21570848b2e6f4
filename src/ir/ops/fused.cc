#include "ir/op_registry.h"

namespace kiln {

void register_fused_ops(OpRegistry& registry) { (void)registry; }

}  // namespace kiln
