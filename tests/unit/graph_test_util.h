// Small helpers to build IR graphs by hand in tests.
#pragma once

#include <random>
#include <string>
#include <vector>

#include "kiln/graph.h"
#include "kiln/tensor.h"

namespace kiln::testing {

inline Tensor random_tensor(Dims dims, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  Tensor t = Tensor::empty(DataType::kFloat32, std::move(dims));
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  for (float& v : t.span<float>()) v = dist(gen);
  return t;
}

class GraphMaker {
 public:
  GraphMaker() : graph_(std::make_unique<Graph>()) { graph_->opsets[""] = 17; }

  Value* input(const std::string& name, Dims dims, DataType dtype = DataType::kFloat32) {
    Value* v = graph_->value(name);
    v->dtype = dtype;
    v->shape = Shape::from_dims(dims);
    graph_->inputs().push_back(v);
    return v;
  }
  Value* constant(const std::string& name, Tensor t) {
    Value* v = graph_->value(name);
    v->dtype = t.dtype();
    v->shape = Shape::from_dims(t.dims());
    v->constant = std::move(t);
    return v;
  }
  Value* scalar(const std::string& name, float x) {
    return constant(name, Tensor::from_vector<float>(DataType::kFloat32, {}, {x}));
  }
  // Adds a node with one output named `out` and returns that output.
  Value* node(const std::string& op, std::vector<Value*> inputs, const std::string& out,
              std::map<std::string, Attribute> attrs = {}) {
    auto n = std::make_unique<Node>();
    n->name = out + "_node";
    n->op_type = op;
    n->opset = 17;
    n->inputs = std::move(inputs);
    Value* o = graph_->value(out);
    o->dtype = DataType::kFloat32;
    n->outputs = {o};
    n->attributes = std::move(attrs);
    graph_->add_node(std::move(n));
    return o;
  }
  void output(Value* v) { graph_->outputs().push_back(v); }
  Graph& graph() { return *graph_; }
  std::unique_ptr<Graph> take() { return std::move(graph_); }

 private:
  std::unique_ptr<Graph> graph_;
};

// y = Relu(x @ W) with x: [batch, in] (symbolic batch) and W: [in, out] random.
inline std::unique_ptr<Graph> matmul_relu_graph(int64_t in, int64_t out, uint32_t seed = 1) {
  GraphMaker m;
  Value* x = m.input("x", {1, in});
  x->shape = Shape({Dim::symbolic("batch"), Dim::known(in)});
  Value* w = m.constant("w", random_tensor({in, out}, seed));
  Value* mm = m.node("MatMul", {x, w}, "mm");
  m.output(m.node("Relu", {mm}, "y"));
  return m.take();
}

inline Attribute ints(std::vector<int64_t> values) { return Attribute::of_ints(std::move(values)); }

inline int count_ops(const Graph& g, const std::string& op) {
  int n = 0;
  for (const auto& node : g.nodes()) n += node->op_type == op;
  return n;
}

}  // namespace kiln::testing
