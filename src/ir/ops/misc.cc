#include "ir/op_registry.h"

namespace kiln {

void register_misc_ops(OpRegistry& registry) { (void)registry; }

}  // namespace kiln
