// Kiln's own ops, produced by the fusion passes (domain "kiln").
#include "ir/op_registry.h"
#include "ir/ops/elementwise_ops.h"

namespace kiln {
namespace {

void add_program_attributes(std::vector<AttributeSpec>& attributes) {
  attributes.push_back({"pw_code", Attribute::Kind::kInts, false});
  attributes.push_back({"pw_params", Attribute::Kind::kFloats, false});
  attributes.push_back({"pw_constants", Attribute::Kind::kFloats, false});
}

// The output of a fused op whose residual (added before the program, numpy
// broadcasting, as the Add it replaced) may be larger than the base op's
// output: an axis of the product that is 1, or unknown, takes the residual's
// extent when that can be other than 1. Where both are unknown the product's
// axis stays, so build-time shapes keep their names; at run time every extent
// is known and this is plain broadcasting.
TensorInfo grown_by_residual(TensorInfo out, const TensorInfo& residual) {
  if (!out.dims_known || !residual.dims_known) return out;
  if (residual.dims.size() > out.dims.size()) {
    out.dims.insert(out.dims.begin(), residual.dims.begin(),
                    residual.dims.begin() + static_cast<std::ptrdiff_t>(residual.dims.size() - out.dims.size()));
  }
  const size_t offset = out.dims.size() - residual.dims.size();
  for (size_t d = 0; d < residual.dims.size(); ++d) {
    int64_t& extent = out.dims[offset + d];
    const int64_t other = residual.dims[d];
    if ((extent == 1 && other != 1) || (extent < 0 && other > 1)) extent = other;
  }
  return out;
}

// A fused op has the base op's inputs, attributes and shapes plus a pointwise
// program; `residual_input` (or -1) is the input added to the base op's output.
void add_fused_variant(OpRegistry& registry, const std::string& base, const std::string& fused, int extra_inputs,
                       int residual_input = -1) {
  const OpSchema* schema = registry.find(base, "");
  if (!schema) return;  // base op not available in this build
  OpSchema s = *schema;
  s.op_type = fused;
  s.domain = "kiln";
  s.max_inputs += extra_inputs;
  add_program_attributes(s.attributes);
  InferFn base_infer = schema->infer;
  int base_max_inputs = schema->max_inputs;
  s.infer = [base_infer, base_max_inputs, residual_input](const InferContext& c) -> Expected<std::vector<TensorInfo>> {
    if (static_cast<int>(c.inputs.size()) <= base_max_inputs) return base_infer(c);
    InferContext base{c.node, {c.inputs.begin(), c.inputs.begin() + base_max_inputs},
                      {c.values.begin(), c.values.begin() + base_max_inputs}};
    KILN_ASSIGN_OR_RETURN(std::vector<TensorInfo> outputs, base_infer(base));
    if (residual_input >= 0 && c.has_input(static_cast<size_t>(residual_input)) && !outputs.empty()) {
      outputs[0] = grown_by_residual(std::move(outputs[0]), c.input(static_cast<size_t>(residual_input)));
    }
    return outputs;
  };
  registry.add(std::move(s));
}

}  // namespace

void register_fused_ops(OpRegistry& registry) {
  add_fused_variant(registry, "Conv", "FusedConv", 1, 3);  // + residual added before the program
  add_fused_variant(registry, "Gemm", "FusedGemm", 0);
  add_fused_variant(registry, "MatMul", "FusedMatMul", 2, 3);  // + bias along the last axis, + residual

  OpSchema chain;
  chain.op_type = "PointwiseChain";
  chain.domain = "kiln";
  add_program_attributes(chain.attributes);
  chain.infer = [](const InferContext& c) -> Expected<std::vector<TensorInfo>> { return std::vector<TensorInfo>{c.input(0)}; };
  registry.add(std::move(chain));

  // Softmax over the last axis of X + Mask (numpy broadcasting, as the Add it
  // replaces; Mask optional), with NaN results replaced by 0 when nan_to_zero
  // is set: the attention-score pattern Add -> Softmax -> Where(IsNaN(p), 0, p).
  OpSchema masked_softmax;
  masked_softmax.op_type = "MaskedSoftmax";
  masked_softmax.domain = "kiln";
  masked_softmax.min_inputs = 1;
  masked_softmax.max_inputs = 2;
  masked_softmax.attributes.push_back({"nan_to_zero", Attribute::Kind::kInt, false});
  masked_softmax.infer = [](const InferContext& c) -> Expected<std::vector<TensorInfo>> {
    KILN_ASSIGN_OR_RETURN(TensorInfo out, broadcast_info(c, c.input(0).dtype));
    return std::vector<TensorInfo>{out};
  };
  registry.add(std::move(masked_softmax));

  // Scaled dot-product attention on [batch, sequence, heads, head size]
  // operands, as the exported subgraph computes it: with Qt = Q transposed to
  // [B, H, Sq, D], Kt = K to [B, H, D, Skv] and Vt = V to [B, H, Skv, Dv],
  // P = softmax(scale * Qt x Kt + Mask) over the last axis (NaN -> 0 with
  // nan_to_zero) and the output is P x Vt transposed back to [B, Sq, H, Dv].
  // Mask (optional) broadcasts to [B, H, Sq, Skv] as the Add it replaces did.
  OpSchema attention;
  attention.op_type = "Attention";
  attention.domain = "kiln";
  attention.min_inputs = 3;
  attention.max_inputs = 4;
  attention.attributes.push_back({"scale", Attribute::Kind::kFloat, false});
  attention.attributes.push_back({"nan_to_zero", Attribute::Kind::kInt, false});
  attention.infer = [](const InferContext& c) -> Expected<std::vector<TensorInfo>> {
    const TensorInfo &q = c.input(0), &k = c.input(1), &v = c.input(2);
    for (const TensorInfo* t : {&q, &k, &v}) {
      if (t->dims_known && t->dims.size() != 4) {
        return invalid_argument(c.node.describe() + ": Attention operands are [batch, sequence, heads, head size], got " +
                                dims_to_string(t->dims));
      }
      if (t->dtype != q.dtype) return invalid_argument(c.node.describe() + ": Q, K and V differ in type");
    }
    TensorInfo out;
    out.dtype = q.dtype;
    out.dims_known = q.dims_known && v.dims_known;
    if (out.dims_known) out.dims = {q.dims[0], q.dims[1], q.dims[2], v.dims[3]};
    return std::vector<TensorInfo>{out};
  };
  registry.add(std::move(attention));
}

}  // namespace kiln
