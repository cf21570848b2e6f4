// Ops that change how a tensor's elements are arranged or viewed, not which
// elements there are: Identity, Dropout (inference), Reshape, Shape, Size,
// Flatten, Squeeze, Unsqueeze, Transpose, Expand, Tile, DepthToSpace, SpaceToDepth.
#include <algorithm>

#include "ir/ops/tensor_ops.h"
#include "ir/ops/tensor_params.h"

namespace kiln::tensor_ops {
namespace {

using Kind = Attribute::Kind;
using tensor_params::IntList;

Expected<Infos> infer_identity(const InferContext& c) { return Infos{same_as(c, 0)}; }

Expected<Infos> infer_dropout(const InferContext& c) {
  const TensorInfo& in = c.input(0);
  // Before opset 10 the mask had the input's type; since then it is bool.
  TensorInfo mask = in;
  if (c.opset() >= 10) mask.dtype = DataType::kBool;
  return Infos{in, mask};
}

Expected<Infos> infer_reshape(const InferContext& c) {
  const TensorInfo& in = c.input(0);
  IntList shape = tensor_params::int_list(c.node, "shape", 1, c.values);
  if (shape.absent()) return infer_error(c.node, "the target shape is missing");
  const bool allow_zero = c.node.attr_int("allowzero", 0) != 0;
  if (!shape.known()) {
    const TensorInfo& s = c.input(1);
    if (s.dims_known && s.dims.size() == 1 && s.dims[0] >= 0) return Infos{make_info(in.dtype, Dims(s.dims[0], -1))};
    return Infos{unknown_rank(in.dtype)};
  }
  if (!in.dims_known) {
    Dims out;
    for (int64_t s : shape.values) out.push_back(s > 0 || (s == 0 && allow_zero) ? s : -1);
    return Infos{make_info(in.dtype, out)};
  }
  KILN_ASSIGN_OR_RETURN(Dims out, tensor_params::reshape_dims(c.node, in.dims, shape.values, allow_zero));
  return Infos{make_info(in.dtype, out)};
}

Expected<Infos> infer_shape(const InferContext& c) {
  const TensorInfo& in = c.input(0);
  if (!in.dims_known) return Infos{make_info(DataType::kInt64, {-1})};
  const int64_t rank = static_cast<int64_t>(in.dims.size());
  int64_t start = c.node.attr_int("start", 0);
  int64_t end = c.node.attr_int("end", rank);
  if (start < 0) start += rank;
  if (end < 0) end += rank;
  start = std::clamp<int64_t>(start, 0, rank);
  end = std::clamp<int64_t>(end, 0, rank);
  return Infos{make_info(DataType::kInt64, {std::max<int64_t>(end - start, 0)})};
}

Expected<Infos> infer_size(const InferContext& c) { return Infos{make_info(DataType::kInt64, {})}; }

Expected<Infos> infer_flatten(const InferContext& c) {
  const TensorInfo& in = c.input(0);
  if (!in.dims_known) return Infos{make_info(in.dtype, {-1, -1})};
  const int64_t rank = static_cast<int64_t>(in.dims.size());
  int64_t axis = c.node.attr_int("axis", 1);
  if (axis < -rank || axis > rank) {
    return infer_error(c.node, "axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  }
  if (axis < 0) axis += rank;
  return Infos{make_info(in.dtype, {product_or_unknown(in.dims, 0, axis), product_or_unknown(in.dims, axis, rank)})};
}

Expected<Infos> infer_squeeze(const InferContext& c) {
  const TensorInfo& in = c.input(0);
  IntList axes = tensor_params::int_list(c.node, "axes", 1, c.values);
  if (!in.dims_known || axes.state == IntList::State::kUnknown) return Infos{unknown_rank(in.dtype)};
  const int64_t rank = static_cast<int64_t>(in.dims.size());
  Dims out;
  if (axes.absent() || axes.values.empty()) {
    if (!all_known(in.dims)) return Infos{unknown_rank(in.dtype)};
    for (int64_t d : in.dims)
      if (d != 1) out.push_back(d);
    return Infos{make_info(in.dtype, out)};
  }
  KILN_ASSIGN_OR_RETURN(auto normalized, tensor_params::normalize_axes(c.node, axes.values, rank));
  for (int64_t a : normalized) {
    if (in.dims[a] >= 0 && in.dims[a] != 1) {
      return infer_error(c.node, "cannot squeeze axis " + std::to_string(a) + " of shape " + dims_to_string(in.dims) +
                                     ": its extent is not 1");
    }
  }
  for (int64_t i = 0; i < rank; ++i) {
    if (!std::binary_search(normalized.begin(), normalized.end(), i)) out.push_back(in.dims[i]);
  }
  return Infos{make_info(in.dtype, out)};
}

Expected<Infos> infer_unsqueeze(const InferContext& c) {
  const TensorInfo& in = c.input(0);
  IntList axes = tensor_params::int_list(c.node, "axes", 1, c.values);
  if (axes.absent()) return infer_error(c.node, "axes are required");
  if (!in.dims_known || !axes.known()) return Infos{unknown_rank(in.dtype)};
  const int64_t rank = static_cast<int64_t>(in.dims.size() + axes.values.size());
  KILN_ASSIGN_OR_RETURN(auto normalized, tensor_params::normalize_axes(c.node, axes.values, rank));
  return Infos{make_info(in.dtype, tensor_params::unsqueeze_dims(in.dims, normalized))};
}

Expected<Infos> infer_transpose(const InferContext& c) {
  const TensorInfo& in = c.input(0);
  if (!in.dims_known) {
    if (c.node.has_attribute("perm")) return Infos{make_info(in.dtype, Dims(c.node.attr_ints("perm").size(), -1))};
    return Infos{unknown_rank(in.dtype)};
  }
  const size_t rank = in.dims.size();
  std::vector<int64_t> perm = c.node.attr_ints("perm");
  if (perm.empty() && rank > 0) {
    for (size_t i = 0; i < rank; ++i) perm.push_back(static_cast<int64_t>(rank - 1 - i));
  }
  std::vector<bool> seen(rank, false);
  if (perm.size() != rank)
    return infer_error(c.node, "perm has " + std::to_string(perm.size()) + " entries for rank " + std::to_string(rank));
  Dims out;
  for (int64_t p : perm) {
    if (p < 0 || p >= static_cast<int64_t>(rank) || seen[p]) {
      return infer_error(c.node, "perm is not a permutation of the " + std::to_string(rank) + " axes");
    }
    seen[p] = true;
    out.push_back(in.dims[p]);
  }
  return Infos{make_info(in.dtype, out)};
}

Expected<Infos> infer_expand(const InferContext& c) {
  const TensorInfo& in = c.input(0);
  const Tensor* shape = c.value(1);
  if (!shape) {
    const TensorInfo& s = c.input(1);
    if (in.dims_known && s.dims_known && s.dims.size() == 1 && s.dims[0] >= 0) {
      return Infos{make_info(in.dtype, Dims(std::max<int64_t>(s.dims[0], in.dims.size()), -1))};
    }
    return Infos{unknown_rank(in.dtype)};
  }
  Dims target = shape->to_int64_vector();
  if (!in.dims_known) return Infos{unknown_rank(in.dtype)};
  auto out = broadcast_dims({in.dims, target});
  if (!out.ok())
    return infer_error(c.node, "cannot expand " + dims_to_string(in.dims) + " to " + dims_to_string(target));
  return Infos{make_info(in.dtype, *out)};
}

Expected<Infos> infer_tile(const InferContext& c) {
  const TensorInfo& in = c.input(0);
  if (!in.dims_known) return Infos{unknown_rank(in.dtype)};
  const Tensor* repeats_value = c.value(1);
  if (!repeats_value) return Infos{make_info(in.dtype, Dims(in.dims.size(), -1))};
  std::vector<int64_t> repeats = repeats_value->to_int64_vector();
  if (repeats.size() != in.dims.size()) {
    return infer_error(
        c.node, "repeats has " + std::to_string(repeats.size()) + " entries for input " + dims_to_string(in.dims));
  }
  Dims out;
  for (size_t i = 0; i < repeats.size(); ++i) {
    if (repeats[i] < 0) return infer_error(c.node, "repeats contain a negative value");
    out.push_back(in.dims[i] < 0 ? -1 : in.dims[i] * repeats[i]);
  }
  return Infos{make_info(in.dtype, out)};
}

Expected<Infos> infer_depth_to_space(const InferContext& c) {
  const TensorInfo& in = c.input(0);
  const int64_t b = c.node.attr_int("blocksize", 0);
  if (b <= 0) return infer_error(c.node, "blocksize must be positive");
  if (!in.dims_known) return Infos{make_info(in.dtype, {-1, -1, -1, -1})};
  if (in.dims.size() != 4) return infer_error(c.node, "input " + dims_to_string(in.dims) + " is not 4-D");
  const Dims& d = in.dims;
  if (d[1] >= 0 && d[1] % (b * b) != 0) {
    return infer_error(
        c.node, "channels " + std::to_string(d[1]) + " are not divisible by blocksize^2 " + std::to_string(b * b));
  }
  auto times = [&](int64_t v) { return v < 0 ? -1 : v * b; };
  return Infos{make_info(in.dtype, {d[0], d[1] < 0 ? -1 : d[1] / (b * b), times(d[2]), times(d[3])})};
}

Expected<Infos> infer_space_to_depth(const InferContext& c) {
  const TensorInfo& in = c.input(0);
  const int64_t b = c.node.attr_int("blocksize", 0);
  if (b <= 0) return infer_error(c.node, "blocksize must be positive");
  if (!in.dims_known) return Infos{make_info(in.dtype, {-1, -1, -1, -1})};
  if (in.dims.size() != 4) return infer_error(c.node, "input " + dims_to_string(in.dims) + " is not 4-D");
  const Dims& d = in.dims;
  for (int axis : {2, 3}) {
    if (d[axis] >= 0 && d[axis] % b != 0) {
      return infer_error(c.node, "input " + dims_to_string(d) + " is not divisible by blocksize " + std::to_string(b));
    }
  }
  auto divided = [&](int64_t v) { return v < 0 ? -1 : v / b; };
  return Infos{make_info(in.dtype, {d[0], d[1] < 0 ? -1 : d[1] * b * b, divided(d[2]), divided(d[3])})};
}

}  // namespace

void register_shape_ops(OpRegistry& r) {
  r.add({"Identity", "", 1, 1, 1, 1, {}, infer_identity});
  r.add({"Dropout",
         "",
         1,
         3,
         1,
         2,
         {{"ratio", Kind::kFloat}, {"seed", Kind::kInt}, {"is_test", Kind::kInt}, {"consumed_inputs", Kind::kInts}},
         infer_dropout});
  r.add({"Reshape",
         "",
         1,
         2,
         1,
         1,
         {{"shape", Kind::kInts}, {"allowzero", Kind::kInt}, {"consumed_inputs", Kind::kInts}},
         infer_reshape});
  r.add({"Shape", "", 1, 1, 1, 1, {{"start", Kind::kInt}, {"end", Kind::kInt}}, infer_shape});
  r.add({"Size", "", 1, 1, 1, 1, {}, infer_size});
  r.add({"Flatten", "", 1, 1, 1, 1, {{"axis", Kind::kInt}}, infer_flatten});
  r.add({"Squeeze", "", 1, 2, 1, 1, {{"axes", Kind::kInts}}, infer_squeeze});
  r.add({"Unsqueeze", "", 1, 2, 1, 1, {{"axes", Kind::kInts}}, infer_unsqueeze});
  r.add({"Transpose", "", 1, 1, 1, 1, {{"perm", Kind::kInts}}, infer_transpose});
  r.add({"Expand", "", 2, 2, 1, 1, {}, infer_expand});
  r.add({"Tile", "", 2, 2, 1, 1, {}, infer_tile});
  r.add({"DepthToSpace",
         "",
         1,
         1,
         1,
         1,
         {{"blocksize", Kind::kInt, true}, {"mode", Kind::kString}},
         infer_depth_to_space});
  r.add({"SpaceToDepth", "", 1, 1, 1, 1, {{"blocksize", Kind::kInt, true}, {"mode", Kind::kString}},
         infer_space_to_depth});
}

}  // namespace kiln::tensor_ops
