// Facts about normalisation nodes that inference and kernels must agree on.
#pragma once

#include "kiln/graph.h"

namespace kiln {

// LayerNormalization's Mean/InvStdDev type: the float type named by
// stash_type (default float32), else the input type.
DataType layer_norm_stash_type(const Node& node, DataType input_type);

}  // namespace kiln
