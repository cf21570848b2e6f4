// QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear, QLinearMatMul and
// QLinearConv: schemas and output shapes/types.
#include "ir/ops/misc_conv_geometry.h"
#include "ir/ops/misc_ops.h"

namespace kiln {
namespace {

using K = Attribute::Kind;

Expected<std::vector<TensorInfo>> infer_quantize(const InferContext& c) {
  DataType out = DataType::kUint8;
  if (c.has_input(2))
    out = c.input(2).dtype;
  else if (c.node.has_attribute("output_dtype") && c.node.attr_int("output_dtype", 0) != 0) {
    int64_t raw = c.node.attr_int("output_dtype", 0);
    if (!dtype_is_valid(static_cast<int32_t>(raw)))
      return infer_error(c.node, "output_dtype " + std::to_string(raw) + " is not a known type");
    out = static_cast<DataType>(raw);
  }
  TensorInfo y = c.input(0);
  y.dtype = out;
  return std::vector<TensorInfo>{y};
}

Expected<std::vector<TensorInfo>> infer_dequantize(const InferContext& c) {
  TensorInfo y = c.input(0);
  y.dtype = c.input(1).dtype;
  if (c.node.attr_int("output_dtype", 0) != 0) y.dtype = static_cast<DataType>(c.node.attr_int("output_dtype", 0));
  return std::vector<TensorInfo>{y};
}

Expected<std::vector<TensorInfo>> infer_dynamic_quantize(const InferContext& c) {
  TensorInfo y = c.input(0);
  y.dtype = DataType::kUint8;
  return std::vector<TensorInfo>{y, TensorInfo{DataType::kFloat32, {}, true}, TensorInfo{DataType::kUint8, {}, true}};
}

Expected<std::vector<TensorInfo>> infer_qlinear_matmul(const InferContext& c) {
  const TensorInfo& a = c.input(0);
  const TensorInfo& b = c.input(3);
  const DataType out = c.input(7).dtype;
  if (!a.dims_known || !b.dims_known) return std::vector<TensorInfo>{unknown_dims(out, -1)};
  if (a.dims.empty() || b.dims.empty()) return infer_error(c.node, "inputs must not be scalars");
  Dims ad = a.dims, bd = b.dims;
  const bool a_vector = ad.size() == 1, b_vector = bd.size() == 1;
  if (a_vector) ad.insert(ad.begin(), 1);
  if (b_vector) bd.push_back(1);
  const int64_t k_a = ad.back(), k_b = bd[bd.size() - 2];
  if (k_a >= 0 && k_b >= 0 && k_a != k_b) {
    return infer_error(c.node, "inner dimensions differ: " + dims_to_string(a.dims) + " x " + dims_to_string(b.dims));
  }
  Dims batch_a(ad.begin(), ad.end() - 2), batch_b(bd.begin(), bd.end() - 2);
  KILN_ASSIGN_OR_RETURN(Dims batch, broadcast_dims({batch_a, batch_b}));
  if (!a_vector) batch.push_back(ad[ad.size() - 2]);
  if (!b_vector) batch.push_back(bd.back());
  return std::vector<TensorInfo>{TensorInfo{out, batch, true}};
}

Expected<std::vector<TensorInfo>> infer_qlinear_conv(const InferContext& c) {
  const TensorInfo& x = c.input(0);
  const TensorInfo& w = c.input(3);
  const DataType out = c.input(7).dtype;
  if (!x.dims_known || !w.dims_known) return std::vector<TensorInfo>{unknown_dims(out, -1)};
  if (x.dims.size() < 3 || w.dims.size() != x.dims.size()) {
    return infer_error(c.node, "x " + dims_to_string(x.dims) + " and w " + dims_to_string(w.dims) +
                                   " must have the same rank, at least 3");
  }
  Dims xs(x.dims.begin() + 2, x.dims.end()), ws(w.dims.begin() + 2, w.dims.end());
  KILN_ASSIGN_OR_RETURN(ConvGeometry g, conv_geometry(c.node, xs, ws));
  Dims dims{x.dims[0], w.dims[0]};
  dims.insert(dims.end(), g.output_spatial.begin(), g.output_spatial.end());
  return std::vector<TensorInfo>{TensorInfo{out, dims, true}};
}

}  // namespace

void register_quantization_ops(OpRegistry& registry) {
  registry.add(OpSchema{"QuantizeLinear",
                        "",
                        2,
                        3,
                        1,
                        1,
                        {{"axis", K::kInt},
                         {"block_size", K::kInt},
                         {"output_dtype", K::kInt},
                         {"saturate", K::kInt},
                         {"precision", K::kInt}},
                        infer_quantize});
  registry.add(OpSchema{"DequantizeLinear",
                        "",
                        2,
                        3,
                        1,
                        1,
                        {{"axis", K::kInt}, {"block_size", K::kInt}, {"output_dtype", K::kInt}},
                        infer_dequantize});
  registry.add(OpSchema{"DynamicQuantizeLinear", "", 1, 1, 3, 3, {}, infer_dynamic_quantize});
  registry.add(OpSchema{"QLinearMatMul", "", 8, 8, 1, 1, {}, infer_qlinear_matmul});
  registry.add(OpSchema{"QLinearConv",
                        "",
                        8,
                        9,
                        1,
                        1,
                        {{"auto_pad", K::kString},
                         {"dilations", K::kInts},
                         {"group", K::kInt},
                         {"kernel_shape", K::kInts},
                         {"pads", K::kInts},
                         {"strides", K::kInts}},
                        infer_qlinear_conv});
}

}  // namespace kiln
