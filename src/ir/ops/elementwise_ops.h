// Internal pieces of the elementwise op group (schemas and shape rules), shared
// between the IR files of the group and the CPU kernels that must agree with them.
#pragma once

#include <string>
#include <vector>

#include "ir/op_registry.h"

namespace kiln {

// Opsets before 7 broadcast only with `broadcast=1`, aligning the second input
// at `axis` instead of at the trailing axes. Returns the second input's dims
// padded with trailing ones so that numpy rules give the legacy result.
Dims legacy_aligned_dims(const Node& node, const Dims& first, const Dims& second);

// Numpy-style broadcast of every present input (legacy rules applied to the
// second input), typed `dtype`. Unknown ranks give an output of unknown rank.
Expected<TensorInfo> broadcast_info(const InferContext& context, DataType dtype);

// Adds one schema whose output has the first input's type and shape.
void add_same_shape_op(OpRegistry& registry, const std::string& op_type, std::vector<AttributeSpec> attributes,
                       int min_inputs = 1, int max_inputs = 1);

void register_elementwise_binary_ops(OpRegistry& registry);
void register_elementwise_unary_ops(OpRegistry& registry);
void register_elementwise_conversion_ops(OpRegistry& registry);

}  // namespace kiln
