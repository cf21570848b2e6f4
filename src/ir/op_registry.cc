#include "ir/op_registry.h"

#include <mutex>

namespace kiln {

const OpRegistry& OpRegistry::global() {
  static const OpRegistry* registry = [] {
    auto* r = new OpRegistry();
    register_elementwise_ops(*r);
    register_tensor_ops(*r);
    register_reduction_ops(*r);
    register_nn_ops(*r);
    register_misc_ops(*r);
    register_fused_ops(*r);
    register_channels_last_ops(*r);
    return r;
  }();
  return *registry;
}

void OpRegistry::add(OpSchema schema) {
  auto key = std::make_pair(schema.domain, schema.op_type);
  schemas_[key] = std::move(schema);
}

const OpSchema* OpRegistry::find(const std::string& op_type, const std::string& domain) const {
  std::string d = domain == "ai.onnx" ? "" : domain;
  auto it = schemas_.find({d, op_type});
  return it == schemas_.end() ? nullptr : &it->second;
}

std::vector<const OpSchema*> OpRegistry::all() const {
  std::vector<const OpSchema*> out;
  for (const auto& [key, schema] : schemas_) out.push_back(&schema);
  return out;
}

Status OpRegistry::validate(const Node& node) const {
  const OpSchema* schema = find(node.op_type, node.domain);
  std::string where = node.describe() + " (domain '" + (node.domain.empty() ? "ai.onnx" : node.domain) +
                      "', opset " + std::to_string(node.opset) + ")";
  if (!schema) return unimplemented(where + ": op type '" + node.op_type + "' is not supported");
  int inputs = static_cast<int>(node.inputs.size());
  while (inputs > 0 && node.inputs[inputs - 1] == nullptr) --inputs;
  if (inputs < schema->min_inputs || inputs > schema->max_inputs) {
    return invalid_argument(where + ": has " + std::to_string(inputs) + " inputs, expected " +
                            std::to_string(schema->min_inputs) + " to " + std::to_string(schema->max_inputs));
  }
  int outputs = static_cast<int>(node.outputs.size());
  if (outputs < schema->min_outputs || outputs > schema->max_outputs) {
    return invalid_argument(where + ": has " + std::to_string(outputs) + " outputs, expected " +
                            std::to_string(schema->min_outputs) + " to " + std::to_string(schema->max_outputs));
  }
  for (const auto& [key, value] : node.attributes) {
    // "kiln.*" attributes are annotations the builder adds (chosen tactics,
    // build/tactic_record.h); any op may carry them and kernels read the ones they know.
    if (key.rfind("kiln.", 0) == 0) continue;
    const AttributeSpec* spec = nullptr;
    for (const auto& s : schema->attributes) {
      if (s.name == key) spec = &s;
    }
    if (!spec) return unimplemented(where + ": attribute '" + key + "' is not supported");
    bool compatible = spec->kind == value.kind ||
                      (spec->kind == Attribute::Kind::kInts && value.kind == Attribute::Kind::kInt) ||
                      (spec->kind == Attribute::Kind::kFloats && value.kind == Attribute::Kind::kFloat) ||
                      (spec->kind == Attribute::Kind::kFloat && value.kind == Attribute::Kind::kInt);
    if (!compatible) {
      return invalid_argument(where + ": attribute '" + key + "' is " + attribute_kind_name(value.kind) +
                              ", expected " + attribute_kind_name(spec->kind));
    }
  }
  for (const auto& s : schema->attributes) {
    if (s.required && !node.has_attribute(s.name)) {
      return invalid_argument(where + ": required attribute '" + s.name + "' is missing");
    }
  }
  return ok_status();
}

Expected<std::vector<TensorInfo>> OpRegistry::infer(const InferContext& context) const {
  const OpSchema* schema = find(context.node.op_type, context.node.domain);
  if (!schema) {
    return unimplemented(context.node.describe() + ": op type '" + context.node.op_type + "' is not supported");
  }
  auto result = schema->infer(context);
  if (!result.ok()) {
    const std::string& m = result.status().message();
    if (m.rfind("node '", 0) == 0) return result.status();
    return result.status().with_context(context.node.describe());
  }
  if (result->size() < context.node.outputs.size()) {
    result->resize(context.node.outputs.size());
  }
  return result;
}

Expected<Dims> broadcast_dims(const std::vector<Dims>& shapes) {
  size_t rank = 0;
  for (const Dims& s : shapes) rank = std::max(rank, s.size());
  Dims out(rank, 1);
  for (const Dims& s : shapes) {
    size_t offset = rank - s.size();
    for (size_t i = 0; i < s.size(); ++i) {
      int64_t d = s[i];
      int64_t& o = out[offset + i];
      if (d == 1) continue;
      if (o == 1) { o = d; continue; }
      if (d < 0) continue;           // unknown stays whatever is known
      if (o < 0) { o = d; continue; }
      if (o != d) {
        std::string all;
        for (size_t k = 0; k < shapes.size(); ++k) all += (k ? " and " : "") + dims_to_string(shapes[k]);
        return invalid_argument("shapes " + all + " do not broadcast");
      }
    }
  }
  return out;
}

Expected<int64_t> normalize_axis(int64_t axis, int64_t rank, const Node& node) {
  int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) {
    return out_of_range(node.describe() + ": axis " + std::to_string(axis) + " is out of range for rank " +
                        std::to_string(rank));
  }
  return a;
}

Status infer_error(const Node& node, const std::string& message) {
  return invalid_argument(node.describe() + ": " + message);
}

}  // namespace kiln
