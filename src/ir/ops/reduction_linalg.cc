// Schemas of Einsum and Det.
#include "ir/ops/reduction_einsum_equation.h"
#include "ir/ops/reduction_groups.h"

namespace kiln {
namespace {

using Kind = Attribute::Kind;

Expected<std::vector<TensorInfo>> infer_einsum(const InferContext& c) {
  TensorInfo out{c.input(0).dtype, {}, false};
  std::vector<size_t> ranks;
  std::vector<Dims> dims;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    if (c.input(i).dtype != out.dtype) {
      return infer_error(c.node, std::string("einsum operands must share one type, operand ") + std::to_string(i) +
                                     " is " + dtype_name(c.input(i).dtype) + ", operand 0 is " +
                                     dtype_name(out.dtype));
    }
    if (!c.input(i).dims_known) return std::vector<TensorInfo>{out};
    ranks.push_back(c.input(i).dims.size());
    dims.push_back(c.input(i).dims);
  }
  KILN_ASSIGN_OR_RETURN(EinsumEquation equation,
                        parse_einsum_equation(c.node.attr_string("equation", ""), ranks, c.node));
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> extents, einsum_label_extents(equation, dims, c.node));
  for (int label : equation.output_labels) out.dims.push_back(extents[static_cast<size_t>(label)]);
  out.dims_known = true;
  return std::vector<TensorInfo>{out};
}

Expected<std::vector<TensorInfo>> infer_det(const InferContext& c) {
  const TensorInfo& x = c.input(0);
  if (!x.dims_known) return std::vector<TensorInfo>{TensorInfo{x.dtype, {}, false}};
  const size_t rank = x.dims.size();
  if (rank < 2 || (x.dims[rank - 1] >= 0 && x.dims[rank - 2] >= 0 && x.dims[rank - 1] != x.dims[rank - 2])) {
    return infer_error(c.node, "Det needs square matrices in the last two axes, got shape " +
                                   dims_to_string(x.dims));
  }
  return std::vector<TensorInfo>{TensorInfo{x.dtype, Dims(x.dims.begin(), x.dims.end() - 2), true}};
}

}  // namespace

void register_linalg_ops(OpRegistry& registry) {
  registry.add(OpSchema{"Einsum", "", 1, 1 << 20, 1, 1, {{"equation", Kind::kString, true}}, infer_einsum});
  registry.add(OpSchema{"Det", "", 1, 1, 1, 1, {}, infer_det});
}

}  // namespace kiln
