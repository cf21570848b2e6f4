// Schemas of Softmax, LogSoftmax, Hardmax and TopK.
#include "ir/ops/reduction_groups.h"

namespace kiln {
namespace {

using Kind = Attribute::Kind;

Expected<std::vector<TensorInfo>> infer_softmax(const InferContext& c) {
  const TensorInfo& x = c.input(0);
  if (x.dims_known) {
    // Opset < 13 coerces to 2-D at `axis` (default 1); later opsets work along `axis` (default -1).
    const int64_t fallback = c.opset() < 13 ? 1 : -1;
    const int64_t rank = static_cast<int64_t>(x.dims.size());
    const int64_t axis = c.node.attr_int("axis", fallback);
    // A scalar input has no axis; the old semantics also accept axis == rank.
    if (rank > 0 && !(c.opset() < 13 && axis == rank)) {
      KILN_RETURN_IF_ERROR(normalize_axis(axis, rank, c.node).status());
    }
  }
  return std::vector<TensorInfo>{x};
}

Expected<std::vector<TensorInfo>> infer_topk(const InferContext& c) {
  const TensorInfo& x = c.input(0);
  TensorInfo values{x.dtype, {}, false};
  TensorInfo indices{DataType::kInt64, {}, false};
  if (!x.dims_known) return std::vector<TensorInfo>{values, indices};
  const int64_t rank = static_cast<int64_t>(x.dims.size());
  KILN_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(c.node.attr_int("axis", -1), rank, c.node));
  int64_t k = -1;
  if (c.node.has_input(1)) {
    const Tensor* k_value = c.value(1);
    if (k_value) {
      if (k_value->element_count() != 1) {
        return infer_error(c.node, "K must hold one value, got shape " + dims_to_string(k_value->dims()));
      }
      k = k_value->scalar_as_int64();
    }
  } else if (c.node.has_attribute("k")) {
    k = c.node.attr_int("k", -1);
  } else {
    return infer_error(c.node, "TopK needs K as input 1 (opset >= 10) or the attribute k");
  }
  if (k < -1 || (k >= 0 && x.dims[axis] >= 0 && k > x.dims[axis])) {
    return infer_error(c.node, "k = " + std::to_string(k) + " is outside [0, " + std::to_string(x.dims[axis]) +
                                   "] for input shape " + dims_to_string(x.dims) + " along axis " +
                                   std::to_string(axis));
  }
  Dims out = x.dims;
  out[axis] = k;
  values.dims = out;
  values.dims_known = true;
  indices.dims = out;
  indices.dims_known = true;
  return std::vector<TensorInfo>{values, indices};
}

}  // namespace

void register_softmax_ops(OpRegistry& registry) {
  for (const char* op : {"Softmax", "LogSoftmax", "Hardmax"}) {
    registry.add(OpSchema{op, "", 1, 1, 1, 1, {{"axis", Kind::kInt}}, infer_softmax});
  }
  registry.add(OpSchema{"TopK", "", 1, 2, 2, 2,
                        {{"k", Kind::kInt}, {"axis", Kind::kInt}, {"largest", Kind::kInt}, {"sorted", Kind::kInt}},
                        infer_topk});
}

}  // namespace kiln
