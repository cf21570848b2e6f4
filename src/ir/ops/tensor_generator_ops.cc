// Ops that make new values from a shape or a pattern: ConstantOfShape, Range,
// EyeLike, Trilu, CumSum.
#include "ir/ops/tensor_ops.h"
#include "ir/ops/tensor_params.h"

namespace kiln::tensor_ops {
namespace {

using Kind = Attribute::Kind;

Expected<Infos> infer_constant_of_shape(const InferContext& c) {
  DataType dtype = DataType::kFloat32;
  if (const Attribute* value = c.node.attr("value")) {
    if (value->t.element_count() != 1) {
      return infer_error(c.node, "value " + value->t.describe() + " must hold exactly one element");
    }
    dtype = value->t.dtype();
  }
  if (const Tensor* shape = c.value(0)) {
    Dims dims = shape->to_int64_vector();
    for (int64_t d : dims) {
      if (d < 0) return infer_error(c.node, "shape " + dims_to_string(dims) + " has a negative extent");
    }
    return Infos{make_info(dtype, dims)};
  }
  const TensorInfo& s = c.input(0);
  if (s.dims_known && s.dims.size() == 1 && s.dims[0] >= 0) return Infos{make_info(dtype, Dims(s.dims[0], -1))};
  return Infos{unknown_rank(dtype)};
}

Expected<Infos> infer_range(const InferContext& c) {
  const DataType dtype = c.input(0).dtype;
  const Tensor* start = c.value(0);
  const Tensor* limit = c.value(1);
  const Tensor* delta = c.value(2);
  if (!start || !limit || !delta) return Infos{make_info(dtype, {-1})};
  for (const Tensor* t : {start, limit, delta}) {
    if (t->element_count() != 1) return infer_error(c.node, "input " + t->describe() + " is not a scalar");
  }
  KILN_ASSIGN_OR_RETURN(int64_t count,
                        tensor_params::range_count(c.node, start->scalar_as_double(0), limit->scalar_as_double(0),
                                                   delta->scalar_as_double(0)));
  return Infos{make_info(dtype, {count})};
}

Expected<Infos> infer_eye_like(const InferContext& c) {
  const TensorInfo& in = c.input(0);
  DataType dtype = in.dtype;
  if (c.node.has_attribute("dtype")) {
    const int64_t raw = c.node.attr_int("dtype", 0);
    if (!dtype_is_valid(static_cast<int32_t>(raw))) {
      return infer_error(c.node, "dtype " + std::to_string(raw) + " is not a known data type");
    }
    dtype = static_cast<DataType>(raw);
  }
  if (in.dims_known && in.dims.size() != 2)
    return infer_error(c.node, "input " + dims_to_string(in.dims) + " is not 2-D");
  TensorInfo out = in;
  out.dtype = dtype;
  if (!in.dims_known) out = make_info(dtype, {-1, -1});
  return Infos{out};
}

Expected<Infos> infer_trilu(const InferContext& c) {
  const TensorInfo& in = c.input(0);
  if (in.dims_known && in.dims.size() < 2)
    return infer_error(c.node, "input " + dims_to_string(in.dims) + " has rank below 2");
  return Infos{in};
}

Expected<Infos> infer_cumsum(const InferContext& c) {
  const TensorInfo& in = c.input(0);
  if (const Tensor* axis = c.value(1); axis && in.dims_known) {
    if (axis->element_count() != 1) return infer_error(c.node, "axis " + axis->describe() + " is not a scalar");
    KILN_RETURN_IF_ERROR(normalize_axis(axis->scalar_as_int64(0), in.dims.size(), c.node).status());
  }
  return Infos{in};
}

}  // namespace

void register_generator_ops(OpRegistry& r) {
  r.add({"ConstantOfShape", "", 1, 1, 1, 1, {{"value", Kind::kTensor}}, infer_constant_of_shape});
  r.add({"Range", "", 3, 3, 1, 1, {}, infer_range});
  r.add({"EyeLike", "", 1, 1, 1, 1, {{"dtype", Kind::kInt}, {"k", Kind::kInt}}, infer_eye_like});
  r.add({"Trilu", "", 1, 2, 1, 1, {{"upper", Kind::kInt}}, infer_trilu});
  r.add({"CumSum", "", 2, 2, 1, 1, {{"exclusive", Kind::kInt}, {"reverse", Kind::kInt}}, infer_cumsum});
}

}  // namespace kiln::tensor_ops
