// Runs the graph's float32 arithmetic in float16 or bfloat16: weights are
// converted once at build time, graph inputs are cast on entry and graph
// outputs cast back, so callers keep passing and receiving float32.
#include "passes/passes.h"

namespace kiln {
namespace {

// Inputs that must stay float32 whatever the compute precision (ONNX types them
// separately from the data): Resize/Upsample roi and scales.
bool keeps_float32(const Node& consumer, size_t input_index) {
  if ((consumer.op_type == "Resize" || consumer.op_type == "Upsample") && input_index >= 1) return true;
  return false;
}

Expected<Tensor> convert_constant(const Tensor& t, DataType target) { return cast_tensor(t, target); }

Node* add_cast(Graph& graph, Value* from, Value* to, DataType target, const std::string& name) {
  auto cast = std::make_unique<Node>();
  cast->name = name;
  cast->op_type = "Cast";
  cast->opset = graph.opset_for("");
  if (cast->opset < 13) cast->opset = 13;
  cast->inputs = {from};
  cast->outputs = {to};
  cast->attributes["to"] = Attribute::of_int(static_cast<int64_t>(target));
  return graph.add_node(std::move(cast));
}

}  // namespace

Status convert_float_precision(Graph& graph, DataType target) {
  if (target != DataType::kFloat16 && target != DataType::kBFloat16) {
    return invalid_argument(std::string("compute precision must be float16 or bfloat16, not ") + dtype_name(target));
  }
  // Constants: one converted copy per float32 weight, shared by its consumers.
  std::map<Value*, Value*> converted;
  for (const auto& node : graph.nodes()) {
    for (size_t i = 0; i < node->inputs.size(); ++i) {
      Value* in = node->inputs[i];
      if (!in || !in->constant || in->constant->dtype() != DataType::kFloat32 || keeps_float32(*node, i)) continue;
      auto it = converted.find(in);
      if (it == converted.end()) {
        KILN_ASSIGN_OR_RETURN(Tensor t, convert_constant(*in->constant, target));
        Value* v = graph.new_value(in->name + (target == DataType::kFloat16 ? "_fp16" : "_bf16"));
        v->dtype = target;
        v->shape = in->shape;
        v->constant = std::move(t);
        it = converted.emplace(in, v).first;
      }
      node->inputs[i] = it->second;
    }
    // Casts to float32 and float32 tensor attributes follow the new precision.
    if (node->op_type == "Cast" && node->attr_int("to", 0) == static_cast<int64_t>(DataType::kFloat32)) {
      node->attributes["to"] = Attribute::of_int(static_cast<int64_t>(target));
    }
    if (node->op_type == "ConstantOfShape") {
      if (const Attribute* a = node->attr("value"); a && a->t.dtype() == DataType::kFloat32) {
        KILN_ASSIGN_OR_RETURN(Tensor t, convert_constant(a->t, target));
        node->attributes["value"] = Attribute::of_tensor(std::move(t));
      }
    }
  }
  // Graph inputs: cast on entry.
  for (Value* in : graph.inputs()) {
    if (in->dtype != DataType::kFloat32) continue;
    Value* inside = graph.new_value(in->name + "_lowp");
    inside->dtype = target;
    inside->shape = in->shape;
    graph.replace_all_uses(in, inside);
    // replace_all_uses also rewrote graph outputs that were the input itself; keep those as they were.
    for (Value*& out : graph.outputs()) if (out == inside) out = in;
    add_cast(graph, in, inside, target, in->name + "_to_lowp");
  }
  // Graph outputs: the producer writes a low-precision value, cast back to float32.
  for (Value* out : graph.outputs()) {
    if (out->dtype != DataType::kFloat32 || !out->producer) continue;
    if (out->producer->op_type == "Cast" && out->producer->attr_int("to", 0) == static_cast<int64_t>(target) &&
        out->producer->outputs.size() == 1) {
      // A model's own trailing cast to float: keep it returning float32.
      out->producer->attributes["to"] = Attribute::of_int(static_cast<int64_t>(DataType::kFloat32));
      continue;
    }
    Node* producer = out->producer;
    Value* inside = graph.new_value(out->name + "_lowp");
    inside->dtype = target;
    inside->shape = out->shape;
    for (Value*& o : producer->outputs) if (o == out) o = inside;
    inside->producer = producer;
    for (const auto& n : graph.nodes()) {
      if (n.get() == producer) continue;
      for (Value*& v : n->inputs) if (v == out) v = inside;
    }
    add_cast(graph, inside, out, DataType::kFloat32, out->name + "_to_float32");
  }
  // Every other float32 value now carries the low precision; inference re-derives the rest.
  for (const auto& node : graph.nodes()) {
    bool is_exit_cast = node->op_type == "Cast" && node->attr_int("to", 0) == static_cast<int64_t>(DataType::kFloat32);
    if (is_exit_cast) continue;
    for (Value* out : node->outputs) {
      if (out && out->dtype == DataType::kFloat32) out->dtype = target;
    }
  }
  graph.remove_unused_values();
  return ok_status();
}

}  // namespace kiln
