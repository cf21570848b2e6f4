// RNN, LSTM and GRU: schemas and output shapes (Y, Y_h, Y_c).
#include "ir/ops/misc_ops.h"

namespace kiln {
namespace {

Expected<std::vector<TensorInfo>> infer_recurrent(const InferContext& c) {
  const Node& node = c.node;
  const TensorInfo& x = c.input(0);
  const DataType dtype = x.dtype;
  const size_t outputs = node.op_type == "LSTM" ? 3 : 2;
  const std::string direction = node.attr_string("direction", "forward");
  if (direction != "forward" && direction != "reverse" && direction != "bidirectional") {
    return infer_error(node, "direction '" + direction + "' is not forward, reverse or bidirectional");
  }
  const int64_t num_directions = direction == "bidirectional" ? 2 : 1;
  const int64_t layout = node.attr_int("layout", 0);
  int64_t hidden = node.attr_int("hidden_size", -1);
  const TensorInfo& r = c.input(2);
  if (hidden < 0 && r.dims_known && r.dims.size() == 3) hidden = r.dims[2];
  int64_t seq = -1, batch = -1;
  if (x.dims_known) {
    if (x.dims.size() != 3) {
      return infer_error(node, "X must have rank 3, got " + dims_to_string(x.dims));
    }
    seq = layout == 0 ? x.dims[0] : x.dims[1];
    batch = layout == 0 ? x.dims[1] : x.dims[0];
  }
  std::vector<TensorInfo> out(outputs);
  out[0] = TensorInfo{
      dtype, layout == 0 ? Dims{seq, num_directions, batch, hidden} : Dims{batch, seq, num_directions, hidden}, true};
  Dims state = layout == 0 ? Dims{num_directions, batch, hidden} : Dims{batch, num_directions, hidden};
  for (size_t i = 1; i < outputs; ++i) out[i] = TensorInfo{dtype, state, true};
  return out;
}

std::vector<AttributeSpec> recurrent_attributes(const std::string& op) {
  using K = Attribute::Kind;
  std::vector<AttributeSpec> a = {{"activation_alpha", K::kFloats},
                                  {"activation_beta", K::kFloats},
                                  {"activations", K::kStrings},
                                  {"clip", K::kFloat},
                                  {"direction", K::kString},
                                  {"hidden_size", K::kInt},
                                  {"layout", K::kInt}};
  if (op == "LSTM") a.push_back({"input_forget", K::kInt});
  if (op == "GRU") a.push_back({"linear_before_reset", K::kInt});
  return a;
}

}  // namespace

void register_recurrent_ops(OpRegistry& registry) {
  registry.add(OpSchema{"RNN", "", 3, 6, 0, 2, recurrent_attributes("RNN"), infer_recurrent});
  registry.add(OpSchema{"GRU", "", 3, 6, 0, 2, recurrent_attributes("GRU"), infer_recurrent});
  registry.add(OpSchema{"LSTM", "", 3, 8, 0, 3, recurrent_attributes("LSTM"), infer_recurrent});
}

}  // namespace kiln
