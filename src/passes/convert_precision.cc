// Chooses, node by node, the precision the graph's float32 arithmetic runs in
// (float32, float16 or bfloat16) and rewrites the graph to it: weights are
// converted once per precision at build time, a Cast is inserted wherever a
// value crosses from one precision to another, and graph inputs and outputs
// keep their float32 types, so callers still pass and receive float32.
#include <fnmatch.h>

#include <cmath>
#include <map>
#include <set>
#include <utility>

#include "ir/shape_inference.h"

#include "passes/passes.h"

namespace kiln {
namespace {

bool is_float_precision(DataType t) {
  return t == DataType::kFloat32 || t == DataType::kFloat16 || t == DataType::kBFloat16;
}

const char* suffix_for(DataType t) {
  return t == DataType::kFloat16 ? "_fp16" : t == DataType::kBFloat16 ? "_bf16" : "_fp32";
}

// Inputs that must stay float32 whatever the compute precision (ONNX types them
// separately from the data): Resize/Upsample roi and scales.
bool keeps_float32(const Node& consumer, size_t input_index) {
  return (consumer.op_type == "Resize" || consumer.op_type == "Upsample") && input_index >= 1;
}

// Ops that only move, select or describe their input's elements: they take the
// precision their data arrives in, so a float32 neighbour costs no Cast.
bool follows_its_input(const Node& node) {
  static const std::set<std::string> kOps = {
      "Identity", "Reshape", "Flatten", "Squeeze",   "Unsqueeze",    "Transpose",    "Slice",
      "Gather",   "Split",   "Concat",  "Expand",    "Tile",         "DepthToSpace", "SpaceToDepth",
      "Shape",    "Size",    "Cast",    "GatherElements", "GatherND"};
  return node.domain.empty() && kOps.count(node.op_type) != 0;
}

Node* add_cast(Graph& graph, Value* from, Value* to, DataType target, const std::string& name) {
  auto cast = std::make_unique<Node>();
  cast->name = name;
  cast->op_type = "Cast";
  cast->opset = std::max(graph.opset_for(""), 13);
  cast->inputs = {from};
  cast->outputs = {to};
  cast->attributes["to"] = Attribute::of_int(static_cast<int64_t>(target));
  return graph.add_node(std::move(cast));
}

// The last pattern of `layers` that matches the node's name (later entries win).
const LayerPrecision* layer_override(const std::vector<LayerPrecision>& layers, const Node& node) {
  const LayerPrecision* found = nullptr;
  for (const LayerPrecision& layer : layers) {
    if (fnmatch(layer.pattern.c_str(), node.name.c_str(), 0) == 0) found = &layer;
  }
  return found;
}

class PrecisionRewriter {
 public:
  PrecisionRewriter(Graph& graph, const PrecisionPolicy& policy) : graph_(graph), policy_(policy) {}

  Expected<PrecisionReport> run() {
    for (const auto& node : graph_.nodes()) {
      for (Value* v : node->inputs) {
        if (v && v->dtype == DataType::kFloat32) float32_values_.insert(v);
      }
      for (Value* v : node->outputs) {
        if (v && v->dtype == DataType::kFloat32) float32_values_.insert(v);
      }
    }
    KILN_RETURN_IF_ERROR(check_patterns());
    KILN_ASSIGN_OR_RETURN(std::vector<Node*> order, graph_.topological_order());
    for (Node* node : order) {
      if (!touches_float32(*node)) continue;
      KILN_ASSIGN_OR_RETURN(DataType precision, choose(*node));
      rewrite(*node, precision);
      count(precision);
    }
    restore_float32_outputs();
    graph_.remove_unused_values();
    return report_;
  }

 private:
  bool touches_float32(const Node& node) const {
    for (Value* v : node.inputs) {
      if (v && float32_values_.count(v)) return true;
    }
    for (Value* v : node.outputs) {
      if (v && float32_values_.count(v)) return true;
    }
    return false;
  }

  // A pattern that names no node is a mistake the user wants to hear about.
  Status check_patterns() const {
    for (const LayerPrecision& layer : policy_.layers) {
      if (!is_float_precision(layer.precision)) {
        return invalid_argument("layer precision for '" + layer.pattern + "' must be float32, float16 or bfloat16, not " +
                                dtype_name(layer.precision));
      }
      bool matched = false;
      for (const auto& node : graph_.nodes()) matched |= fnmatch(layer.pattern.c_str(), node->name.c_str(), 0) == 0;
      if (!matched) {
        std::string examples;
        for (size_t i = 0; i < graph_.nodes().size() && i < 3; ++i) {
          examples += (i ? ", '" : "'") + graph_.nodes()[i]->name + "'";
        }
        return invalid_argument("layer precision pattern '" + layer.pattern +
                                "' matches no layer of the graph (layer names look like " + examples + ")");
      }
    }
    return ok_status();
  }

  DataType wanted(const Node& node) const {
    // A model's own trailing cast to float32 keeps returning float32.
    if (node.op_type == "Cast" && node.outputs.size() == 1 && is_graph_output(graph_, node.outputs[0]) &&
        node.attr_int("to", 0) == static_cast<int64_t>(DataType::kFloat32)) {
      return DataType::kFloat32;
    }
    if (follows_its_input(node)) {
      for (Value* v : node.inputs) {
        if (v && !v->constant && float32_values_.count(v)) return v->dtype;  // rewritten values carry their producer's choice
      }
    }
    return policy_.default_precision;
  }

  Expected<DataType> choose(const Node& node) {
    const LayerPrecision* forced = layer_override(policy_.layers, node);
    DataType precision = forced ? forced->precision : wanted(node);
    if (precision == DataType::kFloat32 || !policy_.supports) return precision;
    Status supported = policy_.supports(node, inputs_at(node, precision));
    if (supported.ok()) return precision;
    if (forced) {
      return supported.with_context("layer precision " + std::string(dtype_name(precision)) + " asked for " +
                                    node.describe() + " by pattern '" + forced->pattern + "'");
    }
    // Backends usually name the node themselves.
    const bool named = supported.message().find("'" + node.name + "'") != std::string::npos;
    report_.fallbacks.push_back(named ? supported.message() : node.describe() + ": " + supported.message());
    return DataType::kFloat32;
  }

  // The node's inputs as they will be once it runs in `precision`.
  std::vector<TensorInfo> inputs_at(const Node& node, DataType precision) const {
    std::vector<TensorInfo> infos;
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      const Value* v = node.inputs[i];
      if (!v) {
        infos.emplace_back();
        continue;
      }
      TensorInfo info = info_of(*v);
      if (float32_values_.count(v) && !keeps_float32(node, i)) info.dtype = precision;
      infos.push_back(std::move(info));
    }
    return infos;
  }

  // A float32 tensor in `precision`; finite values beyond the half type's
  // range are clamped to its largest finite value (as TensorRT does for
  // float16) rather than rounded to infinity, and reported under `name`.
  Expected<Tensor> converted(const Tensor& source, DataType precision, const std::string& name) {
    if (source.dtype() != DataType::kFloat32 ||
        (precision != DataType::kFloat16 && precision != DataType::kBFloat16)) {
      return cast_tensor(source, precision);
    }
    const float limit = precision == DataType::kFloat16 ? 65504.f : 3.3895314e38f;
    int64_t clamped = 0;
    for (float x : source.span<const float>()) clamped += std::isfinite(x) && std::fabs(x) > limit;
    if (clamped == 0) return cast_tensor(source, precision);
    Tensor copy = source.clone();
    for (float& x : copy.span<float>()) {
      if (std::isfinite(x) && std::fabs(x) > limit) x = std::copysign(limit, x);
    }
    report_.clamped.push_back("'" + name + "' (" + std::to_string(clamped) + (clamped == 1 ? " value)" : " values)"));
    return cast_tensor(copy, precision);
  }

  Expected<Value*> constant_in(Value* v, DataType precision) {
    if (precision == DataType::kFloat32) return v;
    auto key = std::make_pair(v, precision);
    if (auto it = converted_.find(key); it != converted_.end()) return it->second;
    KILN_ASSIGN_OR_RETURN(Tensor t, converted(*v->constant, precision, v->name));
    Value* c = graph_.new_value(v->name + suffix_for(precision));
    c->dtype = precision;
    c->shape = v->shape;
    c->constant = std::move(t);
    converted_.emplace(key, c);
    return c;
  }

  Value* cast_of(Value* v, DataType precision) {
    auto key = std::make_pair(v, precision);
    if (auto it = converted_.find(key); it != converted_.end()) return it->second;
    Value* c = graph_.new_value(v->name + suffix_for(precision));
    c->dtype = precision;
    c->shape = v->shape;
    add_cast(graph_, v, c, precision, v->name + "_to" + suffix_for(precision));
    converted_.emplace(key, c);
    return c;
  }

  void rewrite(Node& node, DataType precision) {
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      Value* in = node.inputs[i];
      if (!in || !float32_values_.count(in) || keeps_float32(node, i)) continue;
      if (in->constant) {
        // Conversion of a float32 tensor to a float type cannot fail.
        node.inputs[i] = *constant_in(in, precision);
      } else if (in->dtype != precision) {
        node.inputs[i] = cast_of(in, precision);
      }
    }
    for (Value* out : node.outputs) {
      if (out && float32_values_.count(out)) out->dtype = precision;
    }
    if (precision == DataType::kFloat32) return;
    // Casts to float32 and float32 tensor attributes follow the node's precision.
    if (node.op_type == "Cast" && node.attr_int("to", 0) == static_cast<int64_t>(DataType::kFloat32)) {
      node.attributes["to"] = Attribute::of_int(static_cast<int64_t>(precision));
    }
    if (node.op_type == "ConstantOfShape") {
      if (const Attribute* a = node.attr("value"); a && a->t.dtype() == DataType::kFloat32) {
        if (auto t = converted(a->t, precision, node.name); t.ok()) {
          node.attributes["value"] = Attribute::of_tensor(std::move(*t));
        }
      }
    }
  }

  // Graph outputs produced in a lower precision: the producer writes a new
  // value that a Cast turns back into the float32 output of the same name.
  void restore_float32_outputs() {
    for (Value* out : graph_.outputs()) {
      if (!float32_values_.count(out) || out->dtype == DataType::kFloat32 || !out->producer) continue;
      const DataType precision = out->dtype;
      Node* producer = out->producer;
      Value* inside = graph_.new_value(out->name + suffix_for(precision));
      inside->dtype = precision;
      inside->shape = out->shape;
      for (Value*& o : producer->outputs) {
        if (o == out) o = inside;
      }
      inside->producer = producer;
      for (const auto& n : graph_.nodes()) {
        if (n.get() == producer) continue;
        for (Value*& v : n->inputs) {
          if (v == out) v = inside;
        }
      }
      out->dtype = DataType::kFloat32;
      add_cast(graph_, inside, out, DataType::kFloat32, out->name + "_to_fp32");
    }
  }

  void count(DataType precision) {
    if (precision == DataType::kFloat16) ++report_.float16_layers;
    else if (precision == DataType::kBFloat16) ++report_.bfloat16_layers;
    else ++report_.float32_layers;
  }

  Graph& graph_;
  const PrecisionPolicy& policy_;
  std::set<const Value*> float32_values_;  // float32 in the graph as given
  std::map<std::pair<Value*, DataType>, Value*> converted_;
  PrecisionReport report_;
};

}  // namespace

Expected<PrecisionReport> assign_float_precision(Graph& graph, const PrecisionPolicy& policy) {
  if (!is_float_precision(policy.default_precision)) {
    return invalid_argument(std::string("compute precision must be float32, float16 or bfloat16, not ") +
                            dtype_name(policy.default_precision));
  }
  return PrecisionRewriter(graph, policy).run();
}

Status convert_float_precision(Graph& graph, DataType target) {
  if (target != DataType::kFloat16 && target != DataType::kBFloat16) {
    return invalid_argument(std::string("compute precision must be float16 or bfloat16, not ") + dtype_name(target));
  }
  PrecisionPolicy policy;
  policy.default_precision = target;
  return assign_float_precision(graph, policy).status();
}

}  // namespace kiln
