// Writes a few small valid plans into a folder: the plan fuzzer's seed corpus.
// Usage: make_plan_seeds <folder>
#include <cstdio>
#include <string>

#include "kiln/plan.h"

namespace {

kiln::Tensor floats(kiln::Dims dims, float start) {
  kiln::Tensor t = kiln::Tensor::empty(kiln::DataType::kFloat32, std::move(dims));
  for (int64_t i = 0; i < t.element_count(); ++i) t.data<float>()[i] = start + 0.5f * static_cast<float>(i);
  return t;
}

kiln::Node* add_node(kiln::Graph& g, const std::string& name, const std::string& op, std::vector<kiln::Value*> in,
                     std::vector<kiln::Value*> out) {
  auto node = std::make_unique<kiln::Node>();
  node->name = name;
  node->op_type = op;
  node->opset = 17;
  node->inputs = std::move(in);
  node->outputs = std::move(out);
  return g.add_node(std::move(node));
}

bool save(const kiln::Graph& g, kiln::PlanMetadata meta, const std::string& path) {
  kiln::describe_graph_io(g, &meta);
  kiln::Status s = kiln::save_plan(g, meta, path);
  if (!s.ok()) std::fprintf(stderr, "%s: %s\n", path.c_str(), s.to_string().c_str());
  return s.ok();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <folder>\n", argv[0]);
    return 2;
  }
  const std::string folder = argv[1];
  bool ok = true;
  {  // empty graph: input straight to output
    kiln::Graph g;
    kiln::Value* x = g.value("x");
    x->dtype = kiln::DataType::kFloat32;
    x->shape = kiln::Shape::from_dims({2, 2});
    g.inputs() = {x};
    g.outputs() = {x};
    ok &= save(g, {}, folder + "/identity.kiln");
  }
  {  // MatMul + Add with weights, a dynamic batch and two profiles
    kiln::Graph g;
    g.name = "mlp";
    g.opsets[""] = 17;
    kiln::Value* x = g.value("x");
    x->dtype = kiln::DataType::kFloat32;
    x->shape = kiln::Shape({kiln::Dim::symbolic("batch"), kiln::Dim::known(4)});
    kiln::Value* w = g.value("w");
    w->constant = floats({4, 3}, -1.0f);
    kiln::Value* b = g.value("b");
    b->constant = floats({3}, 0.25f);
    kiln::Value* h = g.value("h");
    kiln::Value* y = g.value("y");
    add_node(g, "matmul", "MatMul", {x, w}, {h});
    add_node(g, "add", "Add", {h, b}, {y});
    g.inputs() = {x};
    g.outputs() = {y};
    kiln::PlanMetadata meta;
    meta.device_architecture = "x86_64";
    meta.profiles.push_back(*kiln::parse_profile_spec("x:1x4,4x4,8x4"));
    meta.profiles.push_back(*kiln::parse_profile_spec("x:9x4,16x4,32x4"));
    meta.properties["kiln_version"] = "0.1.0";
    ok &= save(g, meta, folder + "/mlp.kiln");
  }
  {  // every attribute kind, omitted inputs/outputs, string and int tensors
    kiln::Graph g;
    g.opsets = {{"", 13}, {"com.example", 1}};
    kiln::Value* x = g.value("x");
    x->dtype = kiln::DataType::kInt64;
    x->shape = kiln::Shape::unranked();
    kiln::Value* labels = g.value("labels");
    labels->constant = kiln::Tensor::strings({2}, {"yes", "no"});
    kiln::Value* ids = g.value("ids");
    ids->constant = kiln::Tensor::from_vector<int64_t>(kiln::DataType::kInt64, {3}, {1, -2, 3});
    kiln::Value* y = g.value("y");
    kiln::Node* n = add_node(g, "custom", "Thing", {x, nullptr, labels, ids}, {y, nullptr});
    n->domain = "com.example";
    n->attributes["f"] = kiln::Attribute::of_float(1.5);
    n->attributes["i"] = kiln::Attribute::of_int(-7);
    n->attributes["s"] = kiln::Attribute::of_string("text");
    n->attributes["t"] = kiln::Attribute::of_tensor(floats({2}, 3.0f));
    n->attributes["fs"] = kiln::Attribute::of_floats({0.5, 2.0});
    n->attributes["is"] = kiln::Attribute::of_ints({1, 2, 3});
    n->attributes["ss"] = kiln::Attribute::of_strings({"a", "b"});
    g.inputs() = {x};
    g.outputs() = {y};
    kiln::PlanMetadata meta;
    meta.backend = kiln::BackendKind::kCuda;
    meta.device_architecture = "sm_90";
    meta.precision_flags = kiln::kPlanPrecisionFp16 | kiln::kPlanPrecisionTf32;
    ok &= save(g, meta, folder + "/attributes.kiln");
  }
  return ok ? 0 : 1;
}
