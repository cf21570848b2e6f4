// Schemas and shape inference of MatMul, Gemm and MatMulInteger.
#include "ir/ops/nn_geometry.h"
#include "ir/ops/nn_ops.h"

namespace kiln {
namespace {

using Kind = Attribute::Kind;

Expected<std::vector<TensorInfo>> infer_matmul(const InferContext& ctx, DataType out_dtype) {
  const TensorInfo& a = ctx.input(0);
  const TensorInfo& b = ctx.input(1);
  if (!a.dims_known || !b.dims_known) {
    TensorInfo out;
    out.dtype = out_dtype;
    out.dims_known = false;
    return std::vector<TensorInfo>{out};
  }
  KILN_ASSIGN_OR_RETURN(MatMulShape shape, matmul_shape(ctx.node, a.dims, b.dims));
  return std::vector<TensorInfo>{TensorInfo{out_dtype, shape.output}};
}

Expected<std::vector<TensorInfo>> infer_gemm(const InferContext& ctx) {
  const Node& node = ctx.node;
  const TensorInfo& a = ctx.input(0);
  const TensorInfo& b = ctx.input(1);
  TensorInfo out;
  out.dtype = a.dtype;
  out.dims = {-1, -1};
  bool trans_a = node.attr_int("transA", 0) != 0;
  bool trans_b = node.attr_int("transB", 0) != 0;
  int64_t ka = -1, kb = -1;
  if (a.dims_known) {
    if (a.dims.size() != 2) return infer_error(node, "A has shape " + dims_to_string(a.dims) + ", expected rank 2");
    out.dims[0] = trans_a ? a.dims[1] : a.dims[0];
    ka = trans_a ? a.dims[0] : a.dims[1];
  }
  if (b.dims_known) {
    if (b.dims.size() != 2) return infer_error(node, "B has shape " + dims_to_string(b.dims) + ", expected rank 2");
    out.dims[1] = trans_b ? b.dims[0] : b.dims[1];
    kb = trans_b ? b.dims[1] : b.dims[0];
  }
  if (ka >= 0 && kb >= 0 && ka != kb) {
    return infer_error(node, "inner dimensions differ: A " + dims_to_string(a.dims) + (trans_a ? " (transposed)" : "") +
                                 ", B " + dims_to_string(b.dims) + (trans_b ? " (transposed)" : ""));
  }
  if (ctx.has_input(2) && ctx.input(2).dims_known && out.fully_known()) {
    auto c = broadcast_dims({ctx.input(2).dims, out.dims});
    if (!c.ok() || *c != out.dims) {
      return infer_error(node, "C of shape " + dims_to_string(ctx.input(2).dims) +
                                   " does not broadcast to the output shape " + dims_to_string(out.dims));
    }
  }
  return std::vector<TensorInfo>{out};
}

}  // namespace

void register_matmul_schemas(OpRegistry& registry) {
  registry.add(OpSchema{
      "MatMul", "", 2, 2, 1, 1, {}, [](const InferContext& ctx) { return infer_matmul(ctx, ctx.input(0).dtype); }});
  registry.add(OpSchema{"MatMulInteger", "", 2, 4, 1, 1, {}, [](const InferContext& ctx) {
                          return infer_matmul(ctx, DataType::kInt32);
                        }});
  // Inputs: a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point.
  registry.add(OpSchema{"QLinearMatMul", "", 8, 8, 1, 1, {}, [](const InferContext& ctx) {
                          InferContext view{ctx.node, {ctx.input(0), ctx.input(3)}, {ctx.value(0), ctx.value(3)}};
                          return infer_matmul(view, ctx.input(7).dtype);
                        }});
  // broadcast: opsets 1-6 only (C broadcasting became implicit in opset 7).
  registry.add(OpSchema{"Gemm",
                        "",
                        2,
                        3,
                        1,
                        1,
                        {{"alpha", Kind::kFloat},
                         {"beta", Kind::kFloat},
                         {"transA", Kind::kInt},
                         {"transB", Kind::kInt},
                         {"broadcast", Kind::kInt}},
                        infer_gemm});
}

}  // namespace kiln
