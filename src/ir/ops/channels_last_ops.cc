// Schemas of the channels-last variants (src/ir/channels_last.h): the base
// op's arity and attributes; inference permutes the stored shapes to the base
// op's layout, runs the base inference and permutes the outputs back.
#include "ir/channels_last.h"
#include "ir/op_registry.h"

namespace kiln {
namespace {

bool is_listed(const std::vector<size_t>& list, size_t i) {
  for (size_t j : list)
    if (j == i) return true;
  return false;
}

Expected<std::vector<TensorInfo>> infer_channels_last(const ChannelsLastOp& op, const InferFn& base_infer,
                                                      const InferContext& c) {
  InferContext base{c.node, c.inputs, c.values};
  for (size_t i = 0; i < base.inputs.size(); ++i) {
    bool activation = is_listed(op.activation_inputs, i);
    if (!activation && !is_listed(op.filter_inputs, i)) continue;
    TensorInfo& info = base.inputs[i];
    if (info.dtype == DataType::kUndefined || !info.dims_known) continue;
    if (info.dims.size() != 4) {
      return infer_error(c.node, std::string(activation ? "activation" : "filter") + " input " + std::to_string(i) +
                                     " has shape " + dims_to_string(info.dims) + ", expected rank 4 (" +
                                     (activation ? "N, H, W, C" : "M, kH, kW, C/group") + ")");
    }
    info.dims = permute_dims(info.dims, kToChannelsFirst);
    // The stored data is permuted too; the base inference must not read it in its own layout.
    base.values[i] = nullptr;
  }
  KILN_ASSIGN_OR_RETURN(std::vector<TensorInfo> outputs, base_infer(base));
  if (!outputs.empty() && outputs[0].dims_known && outputs[0].dims.size() == 4) {
    outputs[0].dims = permute_dims(outputs[0].dims, kToChannelsLast);
  }
  return outputs;
}

}  // namespace

void register_channels_last_ops(OpRegistry& registry) {
  for (const ChannelsLastOp& op : channels_last_ops()) {
    const OpSchema* base = registry.find(op.base_op, op.base_domain);
    if (!base) continue;  // base op not available in this build
    OpSchema s = *base;
    s.op_type = op.op;
    s.domain = "kiln";
    s.max_outputs = 1;  // MaxPool's Indices are NCHW offsets: not offered in channels-last form
    s.min_outputs = 1;
    InferFn base_infer = base->infer;
    s.infer = [op, base_infer](const InferContext& c) { return infer_channels_last(op, base_infer, c); };
    registry.add(std::move(s));
  }
}

}  // namespace kiln
