#include "ir/ops/misc_ops.h"

namespace kiln {

void register_quantization_ops(OpRegistry& registry) { (void)registry; }

}  // namespace kiln
