// Schemas of Where, Clip, Cast and CastLike.
#include "ir/ops/elementwise_ops.h"

namespace kiln {
namespace {

using Kind = Attribute::Kind;

Expected<std::vector<TensorInfo>> infer_where(const InferContext& c) {
  KILN_ASSIGN_OR_RETURN(TensorInfo out, broadcast_info(c, c.input(1).dtype));
  if (c.input(1).dtype != c.input(2).dtype && c.input(1).dtype != DataType::kUndefined &&
      c.input(2).dtype != DataType::kUndefined) {
    return infer_error(c.node, std::string("X is ") + dtype_name(c.input(1).dtype) + " but Y is " +
                                   dtype_name(c.input(2).dtype));
  }
  return std::vector{out};
}

Expected<std::vector<TensorInfo>> infer_cast(const InferContext& c) {
  const int64_t to = c.node.attr_int("to", 0);
  if (!dtype_is_valid(static_cast<int32_t>(to))) {
    return infer_error(c.node, "attribute 'to' = " + std::to_string(to) + " is not a supported data type");
  }
  TensorInfo out = c.input(0);
  out.dtype = static_cast<DataType>(to);
  return std::vector{out};
}

Expected<std::vector<TensorInfo>> infer_cast_like(const InferContext& c) {
  TensorInfo out = c.input(0);
  out.dtype = c.input(1).dtype;
  return std::vector{out};
}

}  // namespace

void register_elementwise_conversion_ops(OpRegistry& registry) {
  registry.add(OpSchema{"Where", "", 3, 3, 1, 1, {}, infer_where});
  // Opsets 1-10 give the bounds as attributes, later ones as optional scalar inputs.
  add_same_shape_op(registry, "Clip", {{"min", Kind::kFloat}, {"max", Kind::kFloat}, {"consumed_inputs", Kind::kInts}},
                    1, 3);
  // `saturate` and `round_mode` only concern float8/float4 targets, which Kiln does not have.
  registry.add(OpSchema{"Cast", "", 1, 1, 1, 1,
                        {{"to", Kind::kInt, true}, {"saturate", Kind::kInt}, {"round_mode", Kind::kString}},
                        infer_cast});
  registry.add(OpSchema{"CastLike", "", 2, 2, 1, 1, {{"saturate", Kind::kInt}, {"round_mode", Kind::kString}},
                        infer_cast_like});
}

}  // namespace kiln
