// Schemas of NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss.
#include "ir/ops/reduction_groups.h"

namespace kiln {
namespace {

using Kind = Attribute::Kind;

Expected<std::vector<TensorInfo>> infer_loss(const InferContext& c) {
  const TensorInfo& scores = c.input(0);
  const TensorInfo& target = c.input(1);
  const std::string reduction = c.node.attr_string("reduction", "mean");
  if (reduction != "none" && reduction != "sum" && reduction != "mean") {
    return infer_error(c.node, "reduction '" + reduction + "' is not one of none, sum, mean");
  }
  if (target.dtype != DataType::kUndefined && target.dtype != DataType::kInt32 &&
      target.dtype != DataType::kInt64) {
    return infer_error(c.node, std::string("target must be int32 or int64, got ") + dtype_name(target.dtype));
  }
  if (scores.dims_known && target.dims_known) {
    bool consistent = scores.dims.size() >= 2 && target.dims.size() + 1 == scores.dims.size();
    for (size_t i = 0; consistent && i < target.dims.size(); ++i) {
      const int64_t s = scores.dims[i == 0 ? 0 : i + 1];
      const int64_t t = target.dims[i];
      consistent = s < 0 || t < 0 || s == t;
    }
    if (!consistent) {
      return infer_error(c.node, "scores shape " + dims_to_string(scores.dims) +
                                     " does not match target shape " + dims_to_string(target.dims) +
                                     " (expected scores N x C x d1..dk and target N x d1..dk)");
    }
  }
  TensorInfo loss{scores.dtype, {}, true};
  if (reduction == "none") {
    loss.dims = target.dims;
    loss.dims_known = target.dims_known;
  }
  std::vector<TensorInfo> out{loss};
  if (c.node.outputs.size() > 1) out.push_back(scores);  // log_prob
  return out;
}

}  // namespace

void register_loss_ops(OpRegistry& registry) {
  registry.add(OpSchema{"NegativeLogLikelihoodLoss", "", 2, 3, 1, 1,
                        {{"reduction", Kind::kString}, {"ignore_index", Kind::kInt}}, infer_loss});
  registry.add(OpSchema{"SoftmaxCrossEntropyLoss", "", 2, 3, 1, 2,
                        {{"reduction", Kind::kString}, {"ignore_index", Kind::kInt}}, infer_loss});
}

}  // namespace kiln
