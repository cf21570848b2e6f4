// Schemas of the normalisation ops.
#include "ir/ops/reduction_groups.h"
#include "ir/ops/reduction_normalization.h"

namespace kiln {
namespace {

using Kind = Attribute::Kind;

Expected<std::vector<TensorInfo>> infer_batch_norm(const InferContext& c) {
  std::vector<TensorInfo> out{c.input(0)};
  // Extra outputs (training mode) have the shape and type of the running mean/var.
  for (size_t i = 1; i < c.node.outputs.size(); ++i) out.push_back(c.input(i == 2 || i == 4 ? 4 : 3));
  return out;
}

Expected<std::vector<TensorInfo>> infer_same_as_input(const InferContext& c) {
  return std::vector<TensorInfo>{c.input(0)};
}

// Ops over an N x C x ... input.
Expected<std::vector<TensorInfo>> infer_channels_first(const InferContext& c) {
  if (c.input(0).dims_known && c.input(0).dims.size() < 2) {
    return infer_error(c.node, "input must have at least 2 axes (N, C, ...), got shape " +
                                   dims_to_string(c.input(0).dims));
  }
  return std::vector<TensorInfo>{c.input(0)};
}

Expected<std::vector<TensorInfo>> infer_layer_norm(const InferContext& c) {
  const TensorInfo& x = c.input(0);
  TensorInfo stats{layer_norm_stash_type(c.node, x.dtype), {}, false};
  if (x.dims_known) {
    const int64_t rank = static_cast<int64_t>(x.dims.size());
    KILN_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(c.node.attr_int("axis", -1), rank, c.node));
    stats.dims = x.dims;
    for (int64_t i = axis; i < rank; ++i) stats.dims[i] = 1;
    stats.dims_known = true;
  }
  return std::vector<TensorInfo>{x, stats, stats};
}

}  // namespace

DataType layer_norm_stash_type(const Node& node, DataType input_type) {
  const int64_t stash = node.attr_int("stash_type", 1);
  if (dtype_is_valid(static_cast<int32_t>(stash)) && dtype_is_float(static_cast<DataType>(stash))) {
    return static_cast<DataType>(stash);
  }
  return input_type;
}

void register_normalization_ops(OpRegistry& registry) {
  registry.add(OpSchema{"BatchNormalization", "", 5, 5, 1, 5,
                        {{"epsilon", Kind::kFloat},
                         {"momentum", Kind::kFloat},
                         {"spatial", Kind::kInt},
                         {"is_test", Kind::kInt},
                         {"consumed_inputs", Kind::kInts},
                         {"training_mode", Kind::kInt}},
                        infer_batch_norm});
  registry.add(OpSchema{"InstanceNormalization", "", 3, 3, 1, 1,
                        {{"epsilon", Kind::kFloat}, {"consumed_inputs", Kind::kInts}}, infer_channels_first});
  registry.add(OpSchema{"LayerNormalization", "", 2, 3, 1, 3,
                        {{"axis", Kind::kInt}, {"epsilon", Kind::kFloat}, {"stash_type", Kind::kInt}},
                        infer_layer_norm});
  registry.add(OpSchema{"GroupNormalization", "", 3, 3, 1, 1,
                        {{"epsilon", Kind::kFloat}, {"num_groups", Kind::kInt, true}, {"stash_type", Kind::kInt}},
                        infer_channels_first});
  registry.add(OpSchema{"LRN", "", 1, 1, 1, 1,
                        {{"alpha", Kind::kFloat}, {"beta", Kind::kFloat}, {"bias", Kind::kFloat},
                         {"size", Kind::kInt, true}},
                        infer_channels_first});
  registry.add(OpSchema{"MeanVarianceNormalization", "", 1, 1, 1, 1,
                        {{"axes", Kind::kInts}, {"across_channels", Kind::kInt}, {"normalize_variance", Kind::kInt}},
                        infer_same_as_input});
}

}  // namespace kiln
