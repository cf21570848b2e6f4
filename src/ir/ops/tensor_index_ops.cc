// Ops driven by index tensors: Gather, GatherElements, GatherND, Scatter,
// ScatterElements, ScatterND, OneHot.
#include "ir/ops/tensor_ops.h"

namespace kiln::tensor_ops {
namespace {

using Kind = Attribute::Kind;

Status check_reduction(const Node& node) {
  const std::string r = node.attr_string("reduction", "none");
  if (r != "none" && r != "add" && r != "mul" && r != "max" && r != "min") {
    return infer_error(node, "reduction '" + r + "' is not one of none, add, mul, max, min");
  }
  return ok_status();
}

Expected<Infos> infer_gather(const InferContext& c) {
  const TensorInfo& data = c.input(0);
  const TensorInfo& indices = c.input(1);
  if (!data.dims_known || !indices.dims_known) return Infos{unknown_rank(data.dtype)};
  const int64_t rank = static_cast<int64_t>(data.dims.size());
  KILN_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(c.node.attr_int("axis", 0), rank, c.node));
  Dims out(data.dims.begin(), data.dims.begin() + axis);
  out.insert(out.end(), indices.dims.begin(), indices.dims.end());
  out.insert(out.end(), data.dims.begin() + axis + 1, data.dims.end());
  return Infos{make_info(data.dtype, out)};
}

Expected<Infos> infer_gather_elements(const InferContext& c) {
  const TensorInfo& data = c.input(0);
  const TensorInfo& indices = c.input(1);
  if (data.dims_known && indices.dims_known) {
    if (data.dims.size() != indices.dims.size()) {
      return infer_error(c.node, "data " + dims_to_string(data.dims) + " and indices " + dims_to_string(indices.dims) +
                                     " differ in rank");
    }
    KILN_RETURN_IF_ERROR(normalize_axis(c.node.attr_int("axis", 0), data.dims.size(), c.node).status());
  }
  TensorInfo out = indices;
  out.dtype = data.dtype;
  return Infos{out};
}

Expected<Infos> infer_gather_nd(const InferContext& c) {
  const TensorInfo& data = c.input(0);
  const TensorInfo& indices = c.input(1);
  if (!data.dims_known || !indices.dims_known || indices.dims.empty() || indices.dims.back() < 0) {
    return Infos{unknown_rank(data.dtype)};
  }
  const int64_t batch = c.node.attr_int("batch_dims", 0);
  const int64_t tuple = indices.dims.back();
  const int64_t data_rank = static_cast<int64_t>(data.dims.size());
  const int64_t indices_rank = static_cast<int64_t>(indices.dims.size());
  if (batch < 0 || batch >= std::min(data_rank, indices_rank) || batch + tuple > data_rank) {
    return infer_error(c.node, "batch_dims " + std::to_string(batch) + " with data " + dims_to_string(data.dims) +
                                   " and indices " + dims_to_string(indices.dims) + " is out of range");
  }
  Dims out(indices.dims.begin(), indices.dims.end() - 1);
  out.insert(out.end(), data.dims.begin() + batch + tuple, data.dims.end());
  return Infos{make_info(data.dtype, out)};
}

Expected<Infos> infer_scatter_elements(const InferContext& c) {
  KILN_RETURN_IF_ERROR(check_reduction(c.node));
  const TensorInfo& data = c.input(0);
  if (data.dims_known) {
    KILN_RETURN_IF_ERROR(normalize_axis(c.node.attr_int("axis", 0), data.dims.size(), c.node).status());
  }
  return Infos{data};
}

Expected<Infos> infer_scatter_nd(const InferContext& c) {
  KILN_RETURN_IF_ERROR(check_reduction(c.node));
  return Infos{c.input(0)};
}

Expected<Infos> infer_one_hot(const InferContext& c) {
  const TensorInfo& indices = c.input(0);
  const DataType dtype = c.input(2).dtype;
  if (!indices.dims_known) return Infos{unknown_rank(dtype)};
  const int64_t rank = static_cast<int64_t>(indices.dims.size()) + 1;
  int64_t axis = c.node.attr_int("axis", -1);
  if (axis < -rank || axis >= rank) {
    return infer_error(c.node,
                       "axis " + std::to_string(axis) + " is out of range for output rank " + std::to_string(rank));
  }
  if (axis < 0) axis += rank;
  int64_t depth = -1;
  if (const Tensor* d = c.value(1)) {
    if (d->element_count() != 1) return infer_error(c.node, "depth " + d->describe() + " is not a single value");
    depth = static_cast<int64_t>(d->scalar_as_double(0));
    if (depth < 1) return infer_error(c.node, "depth " + std::to_string(depth) + " is not positive");
  }
  Dims out = indices.dims;
  out.insert(out.begin() + axis, depth);
  return Infos{make_info(dtype, out)};
}

}  // namespace

void register_index_ops(OpRegistry& r) {
  r.add({"Gather", "", 2, 2, 1, 1, {{"axis", Kind::kInt}}, infer_gather});
  r.add({"GatherElements", "", 2, 2, 1, 1, {{"axis", Kind::kInt}}, infer_gather_elements});
  r.add({"GatherND", "", 2, 2, 1, 1, {{"batch_dims", Kind::kInt}}, infer_gather_nd});
  r.add({"ScatterElements",
         "",
         3,
         3,
         1,
         1,
         {{"axis", Kind::kInt}, {"reduction", Kind::kString}},
         infer_scatter_elements});
  r.add({"Scatter", "", 3, 3, 1, 1, {{"axis", Kind::kInt}}, infer_scatter_elements});
  r.add({"ScatterND", "", 3, 3, 1, 1, {{"reduction", Kind::kString}}, infer_scatter_nd});
  r.add({"OneHot", "", 3, 3, 1, 1, {{"axis", Kind::kInt}}, infer_one_hot});
}

}  // namespace kiln::tensor_ops
