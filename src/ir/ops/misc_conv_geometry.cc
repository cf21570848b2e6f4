#include "ir/ops/misc_conv_geometry.h"

#include "ir/op_registry.h"

namespace kiln {

Expected<ConvGeometry> conv_geometry(const Node& node, const Dims& input_spatial, const Dims& weight_spatial) {
  const size_t n = input_spatial.size();
  ConvGeometry g;
  g.kernel = node.attr_ints("kernel_shape", weight_spatial);
  g.strides = node.attr_ints("strides", Dims(n, 1));
  g.dilations = node.attr_ints("dilations", Dims(n, 1));
  Dims pads = node.attr_ints("pads", Dims(2 * n, 0));
  if (g.kernel.size() != n || g.strides.size() != n || g.dilations.size() != n || pads.size() != 2 * n) {
    return infer_error(node, "kernel_shape/strides/dilations/pads do not match " + std::to_string(n) + " spatial axes");
  }
  g.pads_begin.assign(pads.begin(), pads.begin() + static_cast<std::ptrdiff_t>(n));
  g.pads_end.assign(pads.begin() + static_cast<std::ptrdiff_t>(n), pads.end());
  const std::string auto_pad = node.attr_string("auto_pad", "NOTSET");
  g.output_spatial.assign(n, -1);
  for (size_t i = 0; i < n; ++i) {
    const int64_t in = input_spatial[i];
    const int64_t k = g.kernel[i];
    if (g.strides[i] <= 0 || g.dilations[i] <= 0) return infer_error(node, "strides and dilations must be positive");
    if (in < 0 || k < 0) continue;
    const int64_t window = (k - 1) * g.dilations[i] + 1;
    if (auto_pad == "VALID") {
      g.pads_begin[i] = g.pads_end[i] = 0;
    } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      int64_t out = (in + g.strides[i] - 1) / g.strides[i];
      int64_t total = std::max<int64_t>(0, (out - 1) * g.strides[i] + window - in);
      int64_t small = total / 2;
      g.pads_begin[i] = auto_pad == "SAME_UPPER" ? small : total - small;
      g.pads_end[i] = total - g.pads_begin[i];
    } else if (auto_pad != "NOTSET") {
      return infer_error(node, "auto_pad '" + auto_pad + "' is not supported");
    }
    int64_t span = in + g.pads_begin[i] + g.pads_end[i] - window;
    if (span < 0) return infer_error(node, "the kernel window is larger than the padded input");
    g.output_spatial[i] = span / g.strides[i] + 1;
  }
  return g;
}

}  // namespace kiln
