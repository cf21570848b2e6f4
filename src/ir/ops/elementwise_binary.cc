// Schemas of the broadcasting ops: arithmetic, bitwise, comparisons, logic and
// the variadic Sum/Mean/Max/Min.
#include "ir/ops/elementwise_ops.h"

namespace kiln {
namespace {

using Kind = Attribute::Kind;

// Attributes of opsets 1-6: legacy broadcasting and the long-gone consumed_inputs.
std::vector<AttributeSpec> legacy_broadcast_attributes() {
  return {{"broadcast", Kind::kInt}, {"axis", Kind::kInt}, {"consumed_inputs", Kind::kInts}};
}

// Every present input has input 0's type (Pow alone mixes types).
Status check_same_types(const InferContext& c) {
  for (size_t i = 1; i < c.inputs.size(); ++i) {
    if (c.has_input(i) && c.input(0).dtype != DataType::kUndefined && c.input(i).dtype != c.input(0).dtype) {
      return infer_error(c.node, "input " + std::to_string(i) + " is " + dtype_name(c.input(i).dtype) +
                                     " but input 0 is " + dtype_name(c.input(0).dtype));
    }
  }
  return ok_status();
}

// An op whose output is the broadcast of its inputs; `bool_output` for comparisons.
void add_broadcast_op(OpRegistry& registry, const std::string& op_type, int min_inputs, int max_inputs,
                      bool bool_output, std::vector<AttributeSpec> attributes) {
  OpSchema schema;
  schema.op_type = op_type;
  schema.min_inputs = min_inputs;
  schema.max_inputs = max_inputs;
  schema.attributes = std::move(attributes);
  const bool mixed_types = op_type == "Pow";
  schema.infer = [bool_output, mixed_types](const InferContext& c) -> Expected<std::vector<TensorInfo>> {
    if (!mixed_types) KILN_RETURN_IF_ERROR(check_same_types(c));
    DataType dtype = bool_output ? DataType::kBool : c.input(0).dtype;
    KILN_ASSIGN_OR_RETURN(TensorInfo out, broadcast_info(c, dtype));
    return std::vector{out};
  };
  registry.add(std::move(schema));
}

}  // namespace

void register_elementwise_binary_ops(OpRegistry& registry) {
  for (const char* op : {"Add", "Sub", "Mul", "Div", "Pow"}) {
    add_broadcast_op(registry, op, 2, 2, false, legacy_broadcast_attributes());
  }
  add_broadcast_op(registry, "Mod", 2, 2, false, {{"fmod", Kind::kInt}});
  add_broadcast_op(registry, "BitShift", 2, 2, false, {{"direction", Kind::kString, true}});
  for (const char* op : {"BitwiseAnd", "BitwiseOr", "BitwiseXor"}) add_broadcast_op(registry, op, 2, 2, false, {});
  for (const char* op : {"Equal", "Greater", "Less", "GreaterOrEqual", "LessOrEqual", "And", "Or", "Xor"}) {
    add_broadcast_op(registry, op, 2, 2, true, legacy_broadcast_attributes());
  }
  for (const char* op : {"Sum", "Mean", "Max", "Min"}) {
    add_broadcast_op(registry, op, 1, 1 << 20, false, {{"consumed_inputs", Kind::kInts}});
  }
  // The slope broadcasts to X (unidirectionally); the output keeps X's shape.
  add_same_shape_op(registry, "PRelu", {{"consumed_inputs", Kind::kInts}}, 2, 2);
}

}  // namespace kiln
