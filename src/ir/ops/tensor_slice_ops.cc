// Ops that select, join or pad parts of tensors: Concat, Split, Slice, Pad,
// Compress, NonZero, Unique, ReverseSequence.
#include <algorithm>

#include "ir/ops/tensor_ops.h"
#include "ir/ops/tensor_params.h"

namespace kiln::tensor_ops {
namespace {

using Kind = Attribute::Kind;

Expected<Infos> infer_concat(const InferContext& c) {
  DataType dtype = DataType::kUndefined;
  const TensorInfo* ranked = nullptr;
  bool all_ranked = true;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    if (!c.has_input(i)) continue;
    if (dtype == DataType::kUndefined) dtype = c.input(i).dtype;
    if (c.input(i).dims_known) {
      if (!ranked) ranked = &c.input(i);
    } else {
      all_ranked = false;
    }
  }
  if (!ranked) return Infos{unknown_rank(dtype)};
  const int64_t rank = static_cast<int64_t>(ranked->dims.size());
  KILN_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(c.node.attr_int("axis", 1), rank, c.node));
  Dims out(rank, -1);
  int64_t total = all_ranked ? 0 : -1;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    if (!c.has_input(i) || !c.input(i).dims_known) continue;
    const Dims& d = c.input(i).dims;
    if (static_cast<int64_t>(d.size()) != rank) {
      return infer_error(c.node,
                         "inputs " + dims_to_string(ranked->dims) + " and " + dims_to_string(d) + " differ in rank");
    }
    for (int64_t a = 0; a < rank; ++a) {
      if (a == axis) continue;
      if (d[a] >= 0 && out[a] >= 0 && d[a] != out[a]) {
        return infer_error(c.node, "inputs " + dims_to_string(ranked->dims) + " and " + dims_to_string(d) +
                                       " differ outside axis " + std::to_string(axis));
      }
      if (d[a] >= 0) out[a] = d[a];
    }
    if (total >= 0) total = d[axis] < 0 ? -1 : total + d[axis];
  }
  out[axis] = total;
  return Infos{make_info(dtype, out)};
}

Expected<Infos> infer_split(const InferContext& c) {
  const TensorInfo& in = c.input(0);
  const size_t outputs = c.node.outputs.size();
  if (!in.dims_known) return Infos(outputs, unknown_rank(in.dtype));
  const int64_t rank = static_cast<int64_t>(in.dims.size());
  KILN_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(c.node.attr_int("axis", 0), rank, c.node));
  KILN_ASSIGN_OR_RETURN(auto sizes, tensor_params::split_sizes(c.node, in.dims[axis], outputs, c.values));
  Infos infos;
  for (size_t i = 0; i < outputs; ++i) {
    Dims d = in.dims;
    d[axis] = sizes ? (*sizes)[i] : -1;
    infos.push_back(make_info(in.dtype, d));
  }
  return infos;
}

Expected<Infos> infer_slice(const InferContext& c) {
  const TensorInfo& in = c.input(0);
  if (!in.dims_known) return Infos{unknown_rank(in.dtype)};
  KILN_ASSIGN_OR_RETURN(auto slice, tensor_params::slice_from_node(c.node, in.dims, c.values));
  if (!slice) return Infos{make_info(in.dtype, Dims(in.dims.size(), -1))};
  Dims out;
  for (const auto& s : *slice) out.push_back(s.count);
  return Infos{make_info(in.dtype, out)};
}

Expected<Infos> infer_pad(const InferContext& c) {
  const TensorInfo& in = c.input(0);
  if (!in.dims_known) return Infos{unknown_rank(in.dtype)};
  const size_t rank = in.dims.size();
  const std::string mode = c.node.attr_string("mode", "constant");
  if (mode != "constant" && mode != "reflect" && mode != "edge" && mode != "wrap") {
    return infer_error(c.node, "pad mode '" + mode + "' is not one of constant, reflect, edge, wrap");
  }
  KILN_ASSIGN_OR_RETURN(auto pads, tensor_params::pads_from_node(c.node, rank, c.values));
  if (!pads) return Infos{make_info(in.dtype, Dims(rank, -1))};
  Dims out(rank);
  for (size_t a = 0; a < rank; ++a) {
    if (in.dims[a] < 0) {
      out[a] = -1;
      continue;
    }
    out[a] = in.dims[a] + (*pads)[a] + (*pads)[rank + a];
    if (out[a] < 0) {
      return infer_error(c.node,
                         "pads make axis " + std::to_string(a) + " of " + dims_to_string(in.dims) + " negative");
    }
  }
  return Infos{make_info(in.dtype, out)};
}

Expected<Infos> infer_compress(const InferContext& c) {
  const TensorInfo& in = c.input(0);
  const Tensor* condition = c.value(1);
  int64_t count = -1;
  if (condition) {
    int64_t limit = condition->element_count();
    if (in.dims_known && all_known(in.dims)) {
      int64_t extent = c.node.has_attribute("axis") ? -1 : element_count(in.dims);
      if (c.node.has_attribute("axis")) {
        KILN_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(c.node.attr_int("axis", 0), in.dims.size(), c.node));
        extent = in.dims[axis];
      }
      limit = std::min(limit, extent);
    }
    count = 0;
    for (int64_t i = 0; i < limit; ++i) count += condition->scalar_as_double(i) != 0;
  }
  if (!c.node.has_attribute("axis")) return Infos{make_info(in.dtype, {count})};
  if (!in.dims_known) return Infos{unknown_rank(in.dtype)};
  KILN_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(c.node.attr_int("axis", 0), in.dims.size(), c.node));
  Dims out = in.dims;
  out[axis] = count;
  return Infos{make_info(in.dtype, out)};
}

Expected<Infos> infer_non_zero(const InferContext& c) {
  const TensorInfo& in = c.input(0);
  const int64_t rank = in.dims_known ? static_cast<int64_t>(in.dims.size()) : -1;
  int64_t count = -1;
  if (const Tensor* value = c.value(0); value && value->dtype() != DataType::kString) {
    count = 0;
    for (int64_t i = 0; i < value->element_count(); ++i) count += value->scalar_as_double(i) != 0;
  }
  return Infos{make_info(DataType::kInt64, {rank, count})};
}

Expected<Infos> infer_unique(const InferContext& c) {
  const TensorInfo& in = c.input(0);
  const TensorInfo count_info = make_info(DataType::kInt64, {-1});
  if (!c.node.has_attribute("axis")) {
    int64_t total = in.dims_known ? product_or_unknown(in.dims, 0, in.dims.size()) : -1;
    return Infos{make_info(in.dtype, {-1}), count_info, make_info(DataType::kInt64, {total}), count_info};
  }
  if (!in.dims_known) {
    return Infos{unknown_rank(in.dtype), count_info, count_info, count_info};
  }
  KILN_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(c.node.attr_int("axis", 0), in.dims.size(), c.node));
  Dims out = in.dims;
  out[axis] = -1;
  return Infos{make_info(in.dtype, out), count_info, make_info(DataType::kInt64, {in.dims[axis]}), count_info};
}

Expected<Infos> infer_reverse_sequence(const InferContext& c) {
  const TensorInfo& in = c.input(0);
  if (in.dims_known) {
    const int64_t rank = static_cast<int64_t>(in.dims.size());
    const int64_t batch = c.node.attr_int("batch_axis", 1);
    const int64_t time = c.node.attr_int("time_axis", 0);
    if (rank < 2 || batch < 0 || batch > 1 || time < 0 || time > 1 || batch == time) {
      return infer_error(c.node, "batch_axis " + std::to_string(batch) + " and time_axis " + std::to_string(time) +
                                     " must be 0 and 1 (in either order) for input " + dims_to_string(in.dims));
    }
  }
  return Infos{in};
}

}  // namespace

void register_slice_ops(OpRegistry& r) {
  r.add({"Concat", "", 1, kUnbounded, 1, 1, {{"axis", Kind::kInt}}, infer_concat});
  r.add({"Split",
         "",
         1,
         2,
         1,
         kUnbounded,
         {{"axis", Kind::kInt}, {"split", Kind::kInts}, {"num_outputs", Kind::kInt}},
         infer_split});
  r.add(
      {"Slice", "", 1, 5, 1, 1, {{"starts", Kind::kInts}, {"ends", Kind::kInts}, {"axes", Kind::kInts}}, infer_slice});
  r.add({"Pad",
         "",
         1,
         4,
         1,
         1,
         {{"pads", Kind::kInts}, {"paddings", Kind::kInts}, {"mode", Kind::kString}, {"value", Kind::kFloat}},
         infer_pad});
  r.add({"Compress", "", 2, 2, 1, 1, {{"axis", Kind::kInt}}, infer_compress});
  r.add({"NonZero", "", 1, 1, 1, 1, {}, infer_non_zero});
  r.add({"Unique", "", 1, 1, 1, 4, {{"axis", Kind::kInt}, {"sorted", Kind::kInt}}, infer_unique});
  r.add({"ReverseSequence",
         "",
         2,
         2,
         1,
         1,
         {{"batch_axis", Kind::kInt}, {"time_axis", Kind::kInt}},
         infer_reverse_sequence});
}

}  // namespace kiln::tensor_ops
