#include <cmath>

#include "ir/ops/misc_ops.h"

namespace kiln {

TensorInfo unknown_dims(DataType dtype, int64_t rank) {
  TensorInfo info;
  info.dtype = dtype;
  if (rank < 0) {
    info.dims_known = false;
  } else {
    info.dims.assign(static_cast<size_t>(rank), -1);
  }
  return info;
}

namespace {

void register_lp_normalization(OpRegistry& registry) {
  registry.add(OpSchema{
      "LpNormalization",
      "",
      1,
      1,
      1,
      1,
      {{"axis", Attribute::Kind::kInt}, {"p", Attribute::Kind::kInt}},
      [](const InferContext& c) -> Expected<std::vector<TensorInfo>> {
        const TensorInfo& x = c.input(0);
        if (x.dims_known) {
          KILN_RETURN_IF_ERROR(
              normalize_axis(c.node.attr_int("axis", -1), static_cast<int64_t>(x.dims.size()), c.node).status());
        }
        int64_t p = c.node.attr_int("p", 2);
        if (p != 1 && p != 2) return infer_error(c.node, "p must be 1 or 2, got " + std::to_string(p));
        return std::vector<TensorInfo>{x};
      }});
}

}  // namespace

void register_misc_ops(OpRegistry& registry) {
  register_resize_ops(registry);
  register_recurrent_ops(registry);
  register_quantization_ops(registry);
  register_detection_ops(registry);
  register_signal_ops(registry);
  register_text_ops(registry);
  register_lp_normalization(registry);
}

}  // namespace kiln
