// Schemas and shape inference of the convolution ops.
#include "ir/ops/nn_geometry.h"
#include "ir/ops/nn_ops.h"

namespace kiln {
namespace {

using Kind = Attribute::Kind;

std::vector<AttributeSpec> conv_attributes() {
  return {{"auto_pad", Kind::kString},   {"dilations", Kind::kInts}, {"group", Kind::kInt},
          {"kernel_shape", Kind::kInts}, {"pads", Kind::kInts},      {"strides", Kind::kInts}};
}

TensorInfo unknown_output(DataType dtype) {
  TensorInfo info;
  info.dtype = dtype;
  info.dims_known = false;
  return info;
}

// Shared by Conv, ConvInteger and ConvTranspose: X is [N, C, spatial...]; W is
// [M, C/group, k...] (forward) or [C, M/group, k...] (transposed).
Expected<std::vector<TensorInfo>> infer_conv(const InferContext& ctx, DataType out_dtype, bool transposed) {
  const Node& node = ctx.node;
  const TensorInfo& x = ctx.input(0);
  const TensorInfo& w = ctx.input(1);
  if (!x.dims_known) return std::vector<TensorInfo>{unknown_output(out_dtype)};
  if (x.dims.size() < 3) {
    return infer_error(node, "input X has shape " + dims_to_string(x.dims) + ", expected rank >= 3 (N, C, spatial...)");
  }
  size_t rank = x.dims.size() - 2;
  Dims spatial(x.dims.begin() + 2, x.dims.end());
  int64_t group = node.attr_int("group", 1);
  if (group <= 0) return infer_error(node, "group " + std::to_string(group) + " must be positive");
  Dims kernel = node.attr_ints("kernel_shape", {});
  bool weights_known = w.dims_known && w.dims.size() == rank + 2;
  if (w.dims_known && w.dims.size() != rank + 2) {
    return infer_error(node, "weights have shape " + dims_to_string(w.dims) + " but input X has shape " +
                                 dims_to_string(x.dims) + " (ranks must match)");
  }
  if (kernel.empty()) {
    if (!weights_known) return std::vector<TensorInfo>{unknown_output(out_dtype)};
    kernel.assign(w.dims.begin() + 2, w.dims.end());
  }
  int64_t channels = x.dims[1];
  int64_t out_channels = -1;
  if (weights_known) {
    if (transposed) {
      if (channels >= 0 && w.dims[0] >= 0 && w.dims[0] != channels) {
        return infer_error(node, "weights " + dims_to_string(w.dims) + " expect " + std::to_string(w.dims[0]) +
                                     " input channels, input X has shape " + dims_to_string(x.dims));
      }
      if (w.dims[1] >= 0) out_channels = w.dims[1] * group;
    } else {
      if (channels >= 0 && w.dims[1] >= 0 && w.dims[1] * group != channels) {
        return infer_error(node, "weights " + dims_to_string(w.dims) + " with group " + std::to_string(group) +
                                     " expect " + std::to_string(w.dims[1] * group) +
                                     " input channels, input X has shape " + dims_to_string(x.dims));
      }
      out_channels = w.dims[0];
      if (out_channels >= 0 && out_channels % group != 0) {
        return infer_error(node, "output channels " + std::to_string(out_channels) + " are not divisible by group " +
                                     std::to_string(group));
      }
    }
  }
  WindowGeometry geometry;
  if (transposed) {
    KILN_ASSIGN_OR_RETURN(geometry, transposed_window_geometry(node, spatial, kernel));
  } else {
    KILN_ASSIGN_OR_RETURN(geometry, forward_window_geometry(node, spatial, kernel, false));
  }
  TensorInfo out;
  out.dtype = out_dtype;
  out.dims = {x.dims[0], out_channels};
  out.dims.insert(out.dims.end(), geometry.output.begin(), geometry.output.end());
  return std::vector<TensorInfo>{out};
}

}  // namespace

void register_conv_schemas(OpRegistry& registry) {
  registry.add(OpSchema{"Conv", "", 2, 3, 1, 1, conv_attributes(),
                        [](const InferContext& ctx) { return infer_conv(ctx, ctx.input(0).dtype, false); }});

  auto transposed_attributes = conv_attributes();
  transposed_attributes.push_back({"output_padding", Kind::kInts});
  transposed_attributes.push_back({"output_shape", Kind::kInts});
  registry.add(OpSchema{"ConvTranspose", "", 2, 3, 1, 1, transposed_attributes,
                        [](const InferContext& ctx) { return infer_conv(ctx, ctx.input(0).dtype, true); }});

  registry.add(OpSchema{"ConvInteger", "", 2, 4, 1, 1, conv_attributes(),
                        [](const InferContext& ctx) { return infer_conv(ctx, DataType::kInt32, false); }});

  // Inputs: x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point, B.
  // infer_conv reads inputs 0 and 1, so it sees a view with w moved into place.
  registry.add(OpSchema{"QLinearConv", "", 8, 9, 1, 1, conv_attributes(), [](const InferContext& ctx) {
                          InferContext view{ctx.node, {ctx.input(0), ctx.input(3)}, {ctx.value(0), ctx.value(3)}};
                          return infer_conv(view, ctx.input(7).dtype, false);
                        }});
}

}  // namespace kiln
