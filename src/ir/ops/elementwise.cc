// Elementwise ops: binary arithmetic, comparisons, logic, variadic reductions
// over inputs, unary math and activations, Where, Clip, Cast. This file holds
// the shared shape rules; the schemas live in elementwise_*.cc by family.
#include "ir/ops/elementwise_ops.h"

namespace kiln {

Dims legacy_aligned_dims(const Node& node, const Dims& first, const Dims& second) {
  if (node.opset >= 7 || node.attr_int("broadcast", 0) == 0) return second;
  const int64_t first_rank = static_cast<int64_t>(first.size());
  const int64_t second_rank = static_cast<int64_t>(second.size());
  int64_t axis = node.attr_int("axis", first_rank - second_rank);
  if (axis < 0) axis += first_rank;
  Dims aligned = second;
  for (int64_t i = axis + second_rank; i < first_rank; ++i) aligned.push_back(1);
  return aligned;
}

Expected<TensorInfo> broadcast_info(const InferContext& context, DataType dtype) {
  TensorInfo out;
  out.dtype = dtype;
  std::vector<Dims> shapes;
  for (size_t i = 0; i < context.inputs.size(); ++i) {
    if (!context.has_input(i)) continue;
    const TensorInfo& in = context.input(i);
    if (!in.dims_known) {
      out.dims_known = false;
      return out;
    }
    shapes.push_back(i == 1 && !shapes.empty() ? legacy_aligned_dims(context.node, shapes[0], in.dims) : in.dims);
  }
  KILN_ASSIGN_OR_RETURN(out.dims, broadcast_dims(shapes));
  return out;
}

void add_same_shape_op(OpRegistry& registry, const std::string& op_type, std::vector<AttributeSpec> attributes,
                       int min_inputs, int max_inputs) {
  OpSchema schema;
  schema.op_type = op_type;
  schema.min_inputs = min_inputs;
  schema.max_inputs = max_inputs;
  schema.attributes = std::move(attributes);
  schema.infer = [](const InferContext& c) -> Expected<std::vector<TensorInfo>> { return std::vector{same_as(c, 0)}; };
  registry.add(std::move(schema));
}

void register_elementwise_ops(OpRegistry& registry) {
  register_elementwise_binary_ops(registry);
  register_elementwise_unary_ops(registry);
  register_elementwise_conversion_ops(registry);
}

}  // namespace kiln
