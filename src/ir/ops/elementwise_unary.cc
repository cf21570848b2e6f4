// Schemas of the one-input elementwise ops: math functions and activations.
// Their output has the input's shape; IsNaN/IsInf/Not produce bool.
#include "ir/ops/elementwise_ops.h"

namespace kiln {
namespace {

using Kind = Attribute::Kind;

void add_bool_output_op(OpRegistry& registry, const std::string& op_type, std::vector<AttributeSpec> attributes) {
  OpSchema schema;
  schema.op_type = op_type;
  schema.attributes = std::move(attributes);
  schema.infer = [](const InferContext& c) -> Expected<std::vector<TensorInfo>> {
    TensorInfo out = c.input(0);
    out.dtype = DataType::kBool;
    return std::vector{out};
  };
  registry.add(std::move(schema));
}

}  // namespace

void register_elementwise_unary_ops(OpRegistry& registry) {
  // Opset 1 versions of these carried `consumed_inputs`; accept it everywhere it existed.
  const std::vector<AttributeSpec> consumed = {{"consumed_inputs", Kind::kInts}};
  for (const char* op : {"Abs", "Neg", "Sqrt", "Reciprocal", "Exp", "Log", "Ceil", "Floor", "Relu", "Sigmoid",
                         "Tanh"}) {
    add_same_shape_op(registry, op, consumed);
  }
  for (const char* op : {"Round", "Sign", "Sin", "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh",
                         "Acosh", "Atanh", "Erf", "Softplus", "Softsign", "Mish", "HardSwish", "BitwiseNot"}) {
    add_same_shape_op(registry, op, {});
  }
  add_same_shape_op(registry, "LeakyRelu", {{"alpha", Kind::kFloat}, {"consumed_inputs", Kind::kInts}});
  add_same_shape_op(registry, "Elu", {{"alpha", Kind::kFloat}, {"consumed_inputs", Kind::kInts}});
  add_same_shape_op(registry, "Selu",
                    {{"alpha", Kind::kFloat}, {"gamma", Kind::kFloat}, {"consumed_inputs", Kind::kInts}});
  add_same_shape_op(registry, "Celu", {{"alpha", Kind::kFloat}});
  add_same_shape_op(registry, "HardSigmoid",
                    {{"alpha", Kind::kFloat}, {"beta", Kind::kFloat}, {"consumed_inputs", Kind::kInts}});
  add_same_shape_op(registry, "ThresholdedRelu", {{"alpha", Kind::kFloat}});
  add_same_shape_op(registry, "Shrink", {{"bias", Kind::kFloat}, {"lambd", Kind::kFloat}});
  OpSchema gelu;
  gelu.op_type = "Gelu";
  gelu.attributes = {{"approximate", Kind::kString}};
  gelu.infer = [](const InferContext& c) -> Expected<std::vector<TensorInfo>> {
    const std::string approximate = c.node.attr_string("approximate", "none");
    if (approximate != "none" && approximate != "tanh") {
      return infer_error(c.node, "approximate = '" + approximate + "', expected 'none' or 'tanh'");
    }
    return std::vector{same_as(c, 0)};
  };
  registry.add(std::move(gelu));
  add_bool_output_op(registry, "IsNaN", {});
  add_bool_output_op(registry, "IsInf", {{"detect_positive", Kind::kInt}, {"detect_negative", Kind::kInt}});
  add_bool_output_op(registry, "Not", {});
}

}  // namespace kiln
