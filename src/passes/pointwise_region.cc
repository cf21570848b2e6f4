#include "passes/pointwise_region.h"

#include <algorithm>
#include <cfloat>
#include <map>
#include <set>

#include "passes/passes.h"

namespace kiln {
namespace {

constexpr size_t kMaxRegionNodes = 32;

bool scalar_float_constant(const Value* v) {
  return v && v->constant && v->constant->dtype() == DataType::kFloat32 && v->constant->element_count() == 1;
}

// Parameters of a unary op with attributes; false when the node is not absorbable.
bool unary_parameters(const Node& n, PointwiseOp op, float* p0, float* p1) {
  switch (op) {
    case PointwiseOp::kLeakyRelu: *p0 = static_cast<float>(n.attr_float("alpha", 0.01)); return true;
    case PointwiseOp::kElu: *p0 = static_cast<float>(n.attr_float("alpha", 1.0)); return true;
    case PointwiseOp::kCelu: *p0 = static_cast<float>(n.attr_float("alpha", 1.0)); return true;
    case PointwiseOp::kThresholdedRelu: *p0 = static_cast<float>(n.attr_float("alpha", 1.0)); return true;
    case PointwiseOp::kSelu:
      *p0 = static_cast<float>(n.attr_float("alpha", 1.67326319217681884765625));
      *p1 = static_cast<float>(n.attr_float("gamma", 1.05070102214813232421875));
      return true;
    case PointwiseOp::kHardSigmoid:
      *p0 = static_cast<float>(n.attr_float("alpha", 0.2));
      *p1 = static_cast<float>(n.attr_float("beta", 0.5));
      return true;
    case PointwiseOp::kClip:
      if (n.opset < 11) {
        *p0 = static_cast<float>(n.attr_float("min", -FLT_MAX));
        *p1 = static_cast<float>(n.attr_float("max", FLT_MAX));
        return true;
      }
      *p0 = -FLT_MAX;
      *p1 = FLT_MAX;
      if (n.has_input(1)) {
        if (!scalar_float_constant(n.inputs[1])) return false;
        *p0 = n.inputs[1]->constant->data<float>()[0];
      }
      if (n.has_input(2)) {
        if (!scalar_float_constant(n.inputs[2])) return false;
        *p1 = n.inputs[2]->constant->data<float>()[0];
      }
      return true;
    default: return true;
  }
}

bool float_value(const Value* v) { return v && (v->dtype == DataType::kFloat32); }

}  // namespace

PointwiseRegion find_pointwise_region(const Graph& graph, const std::vector<Node*>& order, Value* start,
                                      bool start_must_be_internal) {
  PointwiseRegion best;
  if (!float_value(start)) return best;
  std::set<const Value*> region_values{start};
  std::vector<Node*> nodes;
  auto start_it = start->producer ? std::find(order.begin(), order.end(), start->producer) : order.begin();
  if (start->producer && start_it != order.end()) ++start_it;
  for (auto it = start_it; it != order.end() && nodes.size() < kMaxRegionNodes; ++it) {
    Node* n = *it;
    if (!n->domain.empty() || n->outputs.size() != 1 || !n->outputs[0] || !float_value(n->outputs[0])) continue;
    PointwiseOp op;
    int arity;
    if (!pointwise_op_from_onnx(n->op_type, &op, &arity)) continue;
    size_t data_inputs = op == PointwiseOp::kClip ? 1 : static_cast<size_t>(arity);
    size_t present = 0;
    for (Value* in : n->inputs) present += in != nullptr;
    if (op != PointwiseOp::kClip && present != data_inputs) continue;
    bool touches_region = false, ok = true;
    for (size_t i = 0; i < data_inputs; ++i) {
      Value* in = n->has_input(i) ? n->inputs[i] : nullptr;
      if (in && region_values.count(in)) touches_region = true;
      else if (!scalar_float_constant(in)) ok = false;
    }
    float p0 = 0, p1 = 0;
    if (!ok || !touches_region || !unary_parameters(*n, op, &p0, &p1)) continue;
    nodes.push_back(n);
    region_values.insert(n->outputs[0]);
  }
  // Take the longest prefix whose only externally read value is its last output.
  for (size_t k = nodes.size(); k >= 1; --k) {
    std::set<const Node*> members(nodes.begin(), nodes.begin() + k);
    std::vector<const Value*> values{start};
    for (size_t i = 0; i < k; ++i) values.push_back(nodes[i]->outputs[0]);
    std::vector<Value*> exits;
    bool start_external = false;
    for (const Value* v : values) {
      bool external = is_graph_output(graph, v);
      for (Node* c : graph.consumers(v)) external |= !members.count(c);
      if (!external) continue;
      if (v == start) start_external = true;
      else exits.push_back(const_cast<Value*>(v));
    }
    if (exits.size() != 1 || (start_must_be_internal && start_external)) continue;
    if (exits[0] != nodes[k - 1]->outputs[0]) continue;
    // Every region value other than the start must be computed inside: build the program.
    PointwiseRegion region;
    region.nodes.assign(nodes.begin(), nodes.begin() + k);
    region.result = exits[0];
    std::map<const Value*, int32_t> reg{{start, 0}};
    for (size_t i = 0; i < k; ++i) {
      Node* n = nodes[i];
      PointwiseOp op;
      int arity;
      pointwise_op_from_onnx(n->op_type, &op, &arity);
      PointwiseInstruction ins;
      ins.op = op;
      unary_parameters(*n, op, &ins.p0, &ins.p1);
      auto operand = [&](size_t idx) -> int32_t {
        Value* in = n->inputs[idx];
        auto r = reg.find(in);
        if (r != reg.end()) return r->second;
        region.program.constants.push_back(in->constant->data<float>()[0]);
        return -static_cast<int32_t>(region.program.constants.size());
      };
      ins.a = operand(0);
      if (arity == 2) ins.b = operand(1);
      region.program.code.push_back(ins);
      reg[n->outputs[0]] = static_cast<int32_t>(i + 1);
    }
    return region;
  }
  return best;
}

}  // namespace kiln
