#include "kiln/graph.h"

#include <algorithm>
#include <set>
#include <unordered_map>

namespace kiln {

const char* attribute_kind_name(Attribute::Kind kind) {
  switch (kind) {
    case Attribute::Kind::kFloat: return "float";
    case Attribute::Kind::kInt: return "int";
    case Attribute::Kind::kString: return "string";
    case Attribute::Kind::kTensor: return "tensor";
    case Attribute::Kind::kGraph: return "graph";
    case Attribute::Kind::kFloats: return "floats";
    case Attribute::Kind::kInts: return "ints";
    case Attribute::Kind::kStrings: return "strings";
  }
  return "?";
}

const Attribute* Node::attr(const std::string& key) const {
  auto it = attributes.find(key);
  return it == attributes.end() ? nullptr : &it->second;
}

int64_t Node::attr_int(const std::string& key, int64_t fallback) const {
  const Attribute* a = attr(key);
  if (!a) return fallback;
  if (a->kind == Attribute::Kind::kFloat) return static_cast<int64_t>(a->f);
  return a->i;
}

double Node::attr_float(const std::string& key, double fallback) const {
  const Attribute* a = attr(key);
  if (!a) return fallback;
  if (a->kind == Attribute::Kind::kInt) return static_cast<double>(a->i);
  return a->f;
}

std::string Node::attr_string(const std::string& key, const std::string& fallback) const {
  const Attribute* a = attr(key);
  return a ? a->s : fallback;
}

std::vector<int64_t> Node::attr_ints(const std::string& key, std::vector<int64_t> fallback) const {
  const Attribute* a = attr(key);
  if (!a) return fallback;
  if (a->kind == Attribute::Kind::kInt) return {a->i};
  return a->ints;
}

std::vector<double> Node::attr_floats(const std::string& key, std::vector<double> fallback) const {
  const Attribute* a = attr(key);
  if (!a) return fallback;
  if (a->kind == Attribute::Kind::kFloat) return {a->f};
  return a->floats;
}

std::vector<std::string> Node::attr_strings(const std::string& key) const {
  const Attribute* a = attr(key);
  return a ? a->strings : std::vector<std::string>{};
}

std::string Node::describe() const {
  std::string op = domain.empty() ? op_type : domain + "." + op_type;
  return "node '" + name + "' (" + op + ")";
}

Value* Graph::find_value(const std::string& value_name) const {
  auto it = values_by_name_.find(value_name);
  return it == values_by_name_.end() ? nullptr : it->second;
}

Value* Graph::value(const std::string& value_name) {
  if (Value* v = find_value(value_name)) return v;
  auto v = std::make_unique<Value>();
  v->name = value_name;
  Value* raw = v.get();
  values_.push_back(std::move(v));
  values_by_name_[value_name] = raw;
  return raw;
}

Value* Graph::new_value(const std::string& base_name) {
  std::string candidate = base_name;
  while (find_value(candidate)) candidate = base_name + "_" + std::to_string(++unique_counter_);
  return value(candidate);
}

Node* Graph::add_node(std::unique_ptr<Node> node) {
  Node* raw = node.get();
  for (Value* out : raw->outputs) {
    if (out) out->producer = raw;
  }
  nodes_.push_back(std::move(node));
  return raw;
}

void Graph::remove_node(Node* node) {
  for (Value* out : node->outputs) {
    if (out && out->producer == node) out->producer = nullptr;
  }
  nodes_.erase(std::remove_if(nodes_.begin(), nodes_.end(),
                              [&](const std::unique_ptr<Node>& n) { return n.get() == node; }),
               nodes_.end());
}

Expected<std::vector<Node*>> Graph::topological_order() const {
  std::unordered_map<const Node*, int> pending;
  std::unordered_map<const Value*, std::vector<Node*>> readers;
  for (const auto& n : nodes_) {
    int count = 0;
    std::set<const Value*> seen;
    for (Value* in : n->inputs) {
      if (!in || in->producer == nullptr || !seen.insert(in).second) continue;
      ++count;
      readers[in].push_back(n.get());
    }
    pending[n.get()] = count;
  }
  std::vector<Node*> order;
  std::vector<Node*> ready;
  for (const auto& n : nodes_) {
    if (pending[n.get()] == 0) ready.push_back(n.get());
  }
  // Keep the original order among ready nodes so execution is deterministic.
  size_t head = 0;
  std::vector<Node*> queue = ready;
  std::unordered_map<const Node*, size_t> position;
  for (size_t i = 0; i < nodes_.size(); ++i) position[nodes_[i].get()] = i;
  while (head < queue.size()) {
    Node* n = queue[head++];
    order.push_back(n);
    std::vector<Node*> unlocked;
    for (Value* out : n->outputs) {
      if (!out) continue;
      for (Node* r : readers[out]) {
        if (--pending[r] == 0) unlocked.push_back(r);
      }
    }
    std::sort(unlocked.begin(), unlocked.end(),
              [&](Node* a, Node* b) { return position[a] < position[b]; });
    queue.insert(queue.end(), unlocked.begin(), unlocked.end());
  }
  if (order.size() != nodes_.size()) {
    for (const auto& n : nodes_) {
      if (pending[n.get()] > 0) {
        return invalid_argument("graph '" + name + "' has a cycle through " + n->describe());
      }
    }
  }
  return order;
}

std::vector<Node*> Graph::consumers(const Value* v) const {
  std::vector<Node*> out;
  for (const auto& n : nodes_) {
    for (Value* in : n->inputs) {
      if (in == v) { out.push_back(n.get()); break; }
    }
  }
  return out;
}

void Graph::replace_all_uses(Value* from, Value* to) {
  for (const auto& n : nodes_) {
    for (Value*& in : n->inputs) {
      if (in == from) in = to;
    }
  }
  for (Value*& out : outputs_) {
    if (out == from) out = to;
  }
}

size_t Graph::remove_unused_values() {
  std::set<const Value*> used(inputs_.begin(), inputs_.end());
  used.insert(outputs_.begin(), outputs_.end());
  for (const auto& n : nodes_) {
    for (Value* v : n->inputs) if (v) used.insert(v);
    for (Value* v : n->outputs) if (v) used.insert(v);
  }
  size_t before = values_.size();
  for (auto it = values_by_name_.begin(); it != values_by_name_.end();) {
    if (!used.count(it->second)) it = values_by_name_.erase(it);
    else ++it;
  }
  values_.erase(std::remove_if(values_.begin(), values_.end(),
                               [&](const std::unique_ptr<Value>& v) { return !used.count(v.get()); }),
                values_.end());
  return before - values_.size();
}

std::vector<Value*> Graph::constant_values() const {
  std::vector<Value*> out;
  for (const auto& v : values_) {
    if (v->is_constant()) out.push_back(v.get());
  }
  return out;
}

int Graph::opset_for(const std::string& domain) const {
  auto it = opsets.find(domain);
  if (it != opsets.end()) return it->second;
  if (domain == "ai.onnx") return opset_for("");
  return 0;
}

std::unique_ptr<Graph> Graph::clone() const {
  auto g = std::make_unique<Graph>();
  g->name = name;
  g->opsets = opsets;
  g->unique_counter_ = unique_counter_;
  for (const auto& v : values_) {
    Value* c = g->value(v->name);
    c->dtype = v->dtype;
    c->shape = v->shape;
    c->constant = v->constant;
  }
  for (const auto& n : nodes_) {
    auto c = std::make_unique<Node>();
    c->name = n->name;
    c->op_type = n->op_type;
    c->domain = n->domain;
    c->opset = n->opset;
    c->attributes = n->attributes;
    for (Value* in : n->inputs) c->inputs.push_back(in ? g->find_value(in->name) : nullptr);
    for (Value* out : n->outputs) c->outputs.push_back(out ? g->find_value(out->name) : nullptr);
    g->add_node(std::move(c));
  }
  for (Value* v : inputs_) g->inputs_.push_back(g->find_value(v->name));
  for (Value* v : outputs_) g->outputs_.push_back(g->find_value(v->name));
  return g;
}

}  // namespace kiln
