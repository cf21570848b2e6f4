// The IR op table: for each op its inputs/outputs arity, attribute schema and
// shape/type inference. Backends keep their own tables of kernels; this one is
// the only place that says what an op *means* shape-wise.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "kiln/graph.h"
#include "kiln/status.h"
#include "kiln/tensor.h"

namespace kiln {

// What inference knows about one tensor: its type and dims (-1 = unknown extent).
struct TensorInfo {
  DataType dtype = DataType::kUndefined;
  Dims dims;
  bool dims_known = true;  // false: rank unknown
  bool fully_known() const {
    if (!dims_known) return false;
    for (int64_t d : dims) if (d < 0) return false;
    return true;
  }
};

struct InferContext {
  const Node& node;
  // Aligned with node.inputs; an omitted input has dtype kUndefined.
  std::vector<TensorInfo> inputs;
  // Aligned with node.inputs: the value when known (weights, folded constants,
  // and every input while a CPU context executes), else nullptr.
  std::vector<const Tensor*> values;

  bool has_input(size_t i) const { return i < inputs.size() && inputs[i].dtype != DataType::kUndefined; }
  const TensorInfo& input(size_t i) const { return inputs[i]; }
  const Tensor* value(size_t i) const { return i < values.size() ? values[i] : nullptr; }
  int opset() const { return node.opset; }
};

// Returns one TensorInfo per node output (omitted outputs may get kUndefined).
// An output whose extent depends on data not known here gets -1 for that axis;
// at execution the kernel then sizes that output itself.
using InferFn = std::function<Expected<std::vector<TensorInfo>>(const InferContext&)>;

struct AttributeSpec {
  std::string name;
  Attribute::Kind kind;
  bool required = false;
};

struct OpSchema {
  std::string op_type;
  std::string domain;  // "" = ai.onnx
  int min_inputs = 1;
  int max_inputs = 1;
  int min_outputs = 1;
  int max_outputs = 1;
  std::vector<AttributeSpec> attributes;
  InferFn infer;
};

class OpRegistry {
 public:
  // The table of every op Kiln knows, filled once on first use.
  static const OpRegistry& global();

  void add(OpSchema schema);
  const OpSchema* find(const std::string& op_type, const std::string& domain) const;
  std::vector<const OpSchema*> all() const;

  // Known op, arity within range, every attribute known and of the right kind,
  // required attributes present. Errors name the node, op, domain and opset.
  Status validate(const Node& node) const;
  // Runs the op's inference; errors carry the node's description.
  Expected<std::vector<TensorInfo>> infer(const InferContext& context) const;

 private:
  std::map<std::pair<std::string, std::string>, OpSchema> schemas_;
};

// Groups of ops, each defined in src/ir/ops/<group>.cc.
void register_elementwise_ops(OpRegistry& registry);
void register_tensor_ops(OpRegistry& registry);
void register_reduction_ops(OpRegistry& registry);
void register_nn_ops(OpRegistry& registry);
void register_misc_ops(OpRegistry& registry);
void register_fused_ops(OpRegistry& registry);
// Channels-last variants of conv and pooling ops (after the fused ops they derive from).
void register_channels_last_ops(OpRegistry& registry);

// Helpers for inference functions.
// Numpy-style broadcast of several shapes; error names both shapes.
Expected<Dims> broadcast_dims(const std::vector<Dims>& shapes);
// Normalises a possibly negative axis against `rank`; error names the node.
Expected<int64_t> normalize_axis(int64_t axis, int64_t rank, const Node& node);
// Output spec with the same type/shape as input i.
inline TensorInfo same_as(const InferContext& c, size_t i) { return c.input(i); }
// An error for an inference precondition, prefixed with the node.
Status infer_error(const Node& node, const std::string& message);

}  // namespace kiln
