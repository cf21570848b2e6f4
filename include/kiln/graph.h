// The intermediate representation: a graph of nodes that consume and produce
// values. The importer builds it, passes rewrite it, backends execute it.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "kiln/status.h"
#include "kiln/tensor.h"
#include "kiln/types.h"

namespace kiln {

class Graph;

// A node attribute. Kinds mirror what models carry; resolved at import.
struct Attribute {
  enum class Kind { kFloat, kInt, kString, kTensor, kGraph, kFloats, kInts, kStrings };
  Kind kind = Kind::kInt;
  double f = 0;
  int64_t i = 0;
  std::string s;
  Tensor t;
  std::shared_ptr<Graph> g;
  std::vector<double> floats;
  std::vector<int64_t> ints;
  std::vector<std::string> strings;

  static Attribute of_float(double v) { Attribute a; a.kind = Kind::kFloat; a.f = v; return a; }
  static Attribute of_int(int64_t v) { Attribute a; a.kind = Kind::kInt; a.i = v; return a; }
  static Attribute of_string(std::string v) { Attribute a; a.kind = Kind::kString; a.s = std::move(v); return a; }
  static Attribute of_tensor(Tensor v) { Attribute a; a.kind = Kind::kTensor; a.t = std::move(v); return a; }
  static Attribute of_ints(std::vector<int64_t> v) { Attribute a; a.kind = Kind::kInts; a.ints = std::move(v); return a; }
  static Attribute of_floats(std::vector<double> v) { Attribute a; a.kind = Kind::kFloats; a.floats = std::move(v); return a; }
  static Attribute of_strings(std::vector<std::string> v) { Attribute a; a.kind = Kind::kStrings; a.strings = std::move(v); return a; }
};

const char* attribute_kind_name(Attribute::Kind kind);

class Node;

// An edge of the graph: produced by at most one node (or a graph input or a
// weight), consumed by any number.
struct Value {
  std::string name;
  DataType dtype = DataType::kUndefined;
  Shape shape = Shape::unranked();
  Node* producer = nullptr;
  // Set for weights (initializers) and values the passes proved constant.
  std::optional<Tensor> constant;

  bool is_constant() const { return constant.has_value(); }
};

class Node {
 public:
  std::string name;     // unique within the graph (the importer invents one when missing)
  std::string op_type;  // "Conv", "MatMul", or a Kiln fused op ("kiln.FusedConv")
  std::string domain;   // "" for the default domain
  int opset = 0;        // opset version of `domain` the node was written against
  std::vector<Value*> inputs;   // nullptr marks an omitted optional input
  std::vector<Value*> outputs;  // nullptr marks an omitted optional output
  std::map<std::string, Attribute> attributes;

  bool has_attribute(const std::string& key) const { return attributes.count(key) != 0; }
  int64_t attr_int(const std::string& key, int64_t fallback) const;
  double attr_float(const std::string& key, double fallback) const;
  std::string attr_string(const std::string& key, const std::string& fallback) const;
  std::vector<int64_t> attr_ints(const std::string& key, std::vector<int64_t> fallback = {}) const;
  std::vector<double> attr_floats(const std::string& key, std::vector<double> fallback = {}) const;
  std::vector<std::string> attr_strings(const std::string& key) const;
  const Attribute* attr(const std::string& key) const;

  // The i-th input if present (not omitted and within range).
  bool has_input(size_t i) const { return i < inputs.size() && inputs[i] != nullptr; }
  bool has_output(size_t i) const { return i < outputs.size() && outputs[i] != nullptr; }

  // "node 'conv1' (Conv)" for error messages.
  std::string describe() const;
};

class Graph {
 public:
  Graph() = default;
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;

  std::string name;
  // Default-domain opset the model imports (domain -> version).
  std::map<std::string, int> opsets;

  // Finds or creates a value with this name.
  Value* value(const std::string& name);
  Value* find_value(const std::string& name) const;
  // A new value whose name is unique (suffixes "_1", "_2", ... when taken).
  Value* new_value(const std::string& base_name);
  Node* add_node(std::unique_ptr<Node> node);
  // Unlinks a node; its output values remain (callers rewire consumers first).
  void remove_node(Node* node);

  std::vector<Value*>& inputs() { return inputs_; }
  const std::vector<Value*>& inputs() const { return inputs_; }
  std::vector<Value*>& outputs() { return outputs_; }
  const std::vector<Value*>& outputs() const { return outputs_; }
  const std::vector<std::unique_ptr<Node>>& nodes() const { return nodes_; }

  // Nodes ordered so that every producer comes before its consumers; an error
  // names a value on a cycle or a value that nothing produces.
  Expected<std::vector<Node*>> topological_order() const;
  // Nodes that read `value`.
  std::vector<Node*> consumers(const Value* value) const;
  // Replaces every use of `from` (node inputs and graph outputs) by `to`.
  void replace_all_uses(Value* from, Value* to);

  // Drops values that no node reads or writes and that are not graph inputs
  // or outputs (weights orphaned by folding, for instance); returns how many.
  size_t remove_unused_values();

  // Weights held by the graph (constant values), for counting and plans.
  std::vector<Value*> constant_values() const;
  int opset_for(const std::string& domain) const;

  std::unique_ptr<Graph> clone() const;

 private:
  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<std::unique_ptr<Value>> values_;
  std::map<std::string, Value*> values_by_name_;
  std::vector<Value*> inputs_;
  std::vector<Value*> outputs_;
  int64_t unique_counter_ = 0;
};

}  // namespace kiln
