// Schemas and shape inference of the pooling ops.
#include "ir/ops/nn_geometry.h"
#include "ir/ops/nn_ops.h"

namespace kiln {
namespace {

using Kind = Attribute::Kind;

TensorInfo unknown_output(DataType dtype) {
  TensorInfo info;
  info.dtype = dtype;
  info.dims_known = false;
  return info;
}

Expected<Dims> pooled_dims(const InferContext& ctx) {
  const Node& node = ctx.node;
  const TensorInfo& x = ctx.input(0);
  if (x.dims.size() < 3) {
    return infer_error(node, "input X has shape " + dims_to_string(x.dims) + ", expected rank >= 3 (N, C, spatial...)");
  }
  Dims spatial(x.dims.begin() + 2, x.dims.end());
  Dims kernel = node.attr_ints("kernel_shape", {});
  if (kernel.size() != spatial.size()) {
    return infer_error(
        node, "kernel_shape " + dims_to_string(kernel) + " does not match input X of shape " + dims_to_string(x.dims));
  }
  bool ceil_mode = node.attr_int("ceil_mode", 0) != 0;
  KILN_ASSIGN_OR_RETURN(WindowGeometry geometry, forward_window_geometry(node, spatial, kernel, ceil_mode));
  Dims out = {x.dims[0], x.dims[1]};
  out.insert(out.end(), geometry.output.begin(), geometry.output.end());
  return out;
}

// Y (and, for MaxPool, Indices as int64) with the pooled shape.
Expected<std::vector<TensorInfo>> infer_pool(const InferContext& ctx) {
  DataType dtype = ctx.input(0).dtype;
  size_t outputs = ctx.node.outputs.size();
  if (!ctx.input(0).dims_known) {
    std::vector<TensorInfo> result{unknown_output(dtype)};
    if (outputs > 1) result.push_back(unknown_output(DataType::kInt64));
    return result;
  }
  KILN_ASSIGN_OR_RETURN(Dims dims, pooled_dims(ctx));
  std::vector<TensorInfo> result{TensorInfo{dtype, dims}};
  if (outputs > 1) result.push_back(TensorInfo{DataType::kInt64, dims});
  return result;
}

Expected<std::vector<TensorInfo>> infer_global_pool(const InferContext& ctx) {
  const TensorInfo& x = ctx.input(0);
  if (!x.dims_known) return std::vector<TensorInfo>{unknown_output(x.dtype)};
  if (x.dims.size() < 3) {
    return infer_error(ctx.node, "input X has shape " + dims_to_string(x.dims) + ", expected rank >= 3");
  }
  Dims out = x.dims;
  for (size_t i = 2; i < out.size(); ++i) out[i] = 1;
  return std::vector<TensorInfo>{TensorInfo{x.dtype, out}};
}

// MaxUnpool: output_shape input when given, else the inverse of MaxPool's size formula.
Expected<std::vector<TensorInfo>> infer_max_unpool(const InferContext& ctx) {
  const Node& node = ctx.node;
  const TensorInfo& x = ctx.input(0);
  if (ctx.has_input(2)) {
    const Tensor* shape = ctx.value(2);
    if (shape) return std::vector<TensorInfo>{TensorInfo{x.dtype, shape->to_int64_vector()}};
    if (ctx.input(2).dims_known && ctx.input(2).dims.size() == 1 && ctx.input(2).dims[0] >= 0) {
      return std::vector<TensorInfo>{TensorInfo{x.dtype, Dims(ctx.input(2).dims[0], -1)}};
    }
    return std::vector<TensorInfo>{unknown_output(x.dtype)};
  }
  if (!x.dims_known) return std::vector<TensorInfo>{unknown_output(x.dtype)};
  if (x.dims.size() < 3)
    return infer_error(node, "input X has shape " + dims_to_string(x.dims) + ", expected rank >= 3");
  size_t rank = x.dims.size() - 2;
  Dims kernel = node.attr_ints("kernel_shape", {});
  Dims strides = node.attr_ints("strides", Dims(rank, 1));
  Dims pads = node.attr_ints("pads", Dims(2 * rank, 0));
  if (kernel.size() != rank || strides.size() != rank || pads.size() != 2 * rank) {
    return infer_error(node, "kernel_shape " + dims_to_string(kernel) + ", strides " + dims_to_string(strides) +
                                 " or pads " + dims_to_string(pads) + " do not match input X of shape " +
                                 dims_to_string(x.dims));
  }
  Dims out = {x.dims[0], x.dims[1]};
  for (size_t i = 0; i < rank; ++i) {
    int64_t in = x.dims[i + 2];
    out.push_back(in < 0 ? -1 : (in - 1) * strides[i] + kernel[i] - pads[i] - pads[i + rank]);
  }
  return std::vector<TensorInfo>{TensorInfo{x.dtype, out}};
}

}  // namespace

void register_pool_schemas(OpRegistry& registry) {
  std::vector<AttributeSpec> window = {{"auto_pad", Kind::kString}, {"ceil_mode", Kind::kInt},
                                       {"dilations", Kind::kInts},  {"kernel_shape", Kind::kInts, true},
                                       {"pads", Kind::kInts},       {"strides", Kind::kInts}};
  auto max_attributes = window;
  max_attributes.push_back({"storage_order", Kind::kInt});
  registry.add(OpSchema{"MaxPool", "", 1, 1, 1, 2, max_attributes, infer_pool});

  auto average_attributes = window;
  average_attributes.push_back({"count_include_pad", Kind::kInt});
  registry.add(OpSchema{"AveragePool", "", 1, 1, 1, 1, average_attributes, infer_pool});

  // p is a float in opset 1 and an int afterwards; a float spec accepts both.
  auto lp_attributes = window;
  lp_attributes.push_back({"p", Kind::kFloat});
  registry.add(OpSchema{"LpPool", "", 1, 1, 1, 1, lp_attributes, infer_pool});

  registry.add(OpSchema{"GlobalAveragePool", "", 1, 1, 1, 1, {}, infer_global_pool});
  registry.add(OpSchema{"GlobalMaxPool", "", 1, 1, 1, 1, {}, infer_global_pool});
  registry.add(OpSchema{"GlobalLpPool", "", 1, 1, 1, 1, {{"p", Kind::kFloat}}, infer_global_pool});

  registry.add(OpSchema{"MaxUnpool",
                        "",
                        2,
                        3,
                        1,
                        1,
                        {{"kernel_shape", Kind::kInts, true}, {"pads", Kind::kInts}, {"strides", Kind::kInts}},
                        infer_max_unpool});
}

}  // namespace kiln
