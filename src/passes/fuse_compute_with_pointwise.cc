#include "passes/passes.h"
#include "passes/pointwise_region.h"

namespace kiln {
namespace {

// MatMul whose output feeds an Add with a constant bias broadcast along the
// last axis ([N] or [1..,N]) absorbs the bias as its third input.
bool absorb_matmul_bias(Graph& graph, Node* matmul) {
  Value* y = matmul->outputs[0];
  auto consumers = graph.consumers(y);
  if (consumers.size() != 1 || is_graph_output(graph, y)) return false;
  Node* add = consumers[0];
  if (add->op_type != "Add" || !add->domain.empty() || add->inputs.size() != 2) return false;
  Value* bias = add->inputs[0] == y ? add->inputs[1] : add->inputs[0];
  if (!bias || !bias->constant || bias->constant->dtype() != DataType::kFloat32) return false;
  const Dims& bd = bias->constant->dims();
  if (bd.empty() || bias->constant->element_count() != bd.back()) return false;
  if (!y->shape.is_ranked() || y->shape.rank() < bd.size() || y->shape.rank() == 0) return false;
  const Dim& n = y->shape.dims().back();
  if (!n.is_known() || n.value != bd.back()) return false;
  Value* flat = graph.new_value(bias->name + "_vector");
  flat->dtype = DataType::kFloat32;
  flat->shape = Shape::from_dims({bd.back()});
  flat->constant = *bias->constant->reshaped({bd.back()});
  matmul->inputs.resize(2);
  matmul->inputs.push_back(flat);
  Value* out = add->outputs[0];
  graph.remove_node(add);
  matmul->outputs[0] = out;
  out->producer = matmul;
  y->producer = nullptr;
  return true;
}

// Can z be added to y without growing y? Rejected per axis only when it
// provably would (or could not broadcast): y known as 1 and z not, or both
// known and different with z not 1. Axes with an unknown extent are accepted:
// exporters give one axis different symbols along a residual path (and a
// Reshape computed from Shape ops leaves it unknown). The fused node's shape
// inference and kernels still handle a residual that turns out larger.
bool residual_fits(const Shape& z, const Shape& y) {
  if (!z.is_ranked() || !y.is_ranked() || z.rank() != y.rank()) return false;
  for (size_t d = 0; d < y.rank(); ++d) {
    const Dim& zd = z[d];
    const Dim& yd = y[d];
    if (zd.is_known() && zd.value == 1) continue;
    if (yd.is_known() && yd.value == 1) return false;
    if (zd.is_known() && yd.is_known() && zd.value != yd.value) return false;
  }
  return true;
}

// A Conv or MatMul (+ bias) whose output y feeds only Add(y, z), z a computed
// float32 tensor, absorbs z as its fourth input (the residual of ResNet and
// transformer blocks); kernels add it before the pointwise program (cuBLASLt
// reads it as C). MatMul residuals must also fit y's shape as far as the
// build can tell (residual_fits); a Conv takes any residual (the CPU kernel
// broadcasts it, the CUDA one requires the output's shape and says so).
bool absorb_residual(Graph& graph, Node* compute, bool must_fit) {
  Value* y = compute->outputs[0];
  auto consumers = graph.consumers(y);
  if (consumers.size() != 1 || is_graph_output(graph, y)) return false;
  Node* add = consumers[0];
  if (add->op_type != "Add" || !add->domain.empty() || add->inputs.size() != 2) return false;
  if (add->inputs[0] == add->inputs[1]) return false;
  Value* z = add->inputs[0] == y ? add->inputs[1] : add->inputs[0];
  Value* out = add->outputs[0];
  if (!z || z->constant || !out) return false;
  for (const Value* v : {z, y, out}) {
    if (v->dtype != DataType::kFloat32) return false;
  }
  if (must_fit && !residual_fits(z->shape, y->shape)) return false;
  compute->inputs.resize(3, nullptr);
  compute->inputs.push_back(z);
  graph.remove_node(add);
  compute->outputs[0] = out;
  out->producer = compute;
  y->producer = nullptr;
  return true;
}

}  // namespace

Expected<PassStats> fuse_compute_with_pointwise(Graph& graph) {
  PassStats stats;
  auto compute = nodes_where(graph, [](const Node& n) {
    return n.outputs.size() == 1 && (is_op(&n, "Conv") || is_op(&n, "Gemm") || is_op(&n, "MatMul"));
  });
  for (Node* n : compute) {
    if (n->outputs[0]->dtype != DataType::kFloat32) continue;
    bool changed = false;
    std::string fused_op = n->op_type == "Conv" ? "FusedConv" : n->op_type == "Gemm" ? "FusedGemm" : "FusedMatMul";
    if (n->op_type == "MatMul") {
      changed |= absorb_matmul_bias(graph, n);
      changed |= absorb_residual(graph, n, /*must_fit=*/true);
    }
    if (n->op_type == "Conv") changed |= absorb_residual(graph, n, /*must_fit=*/false);
    KILN_ASSIGN_OR_RETURN(auto order, graph.topological_order());
    PointwiseRegion region = find_pointwise_region(graph, order, n->outputs[0], /*start_must_be_internal=*/true);
    if (region.nodes.empty() && !changed) continue;
    n->op_type = fused_op;
    n->domain = "kiln";
    region.program.store(*n);
    if (!region.nodes.empty()) {
      Value* old_out = n->outputs[0];
      for (Node* r : region.nodes) graph.remove_node(r);
      n->outputs[0] = region.result;
      region.result->producer = n;
      old_out->producer = nullptr;
    }
    stats.changed += 1 + static_cast<int>(region.nodes.size());
  }
  return stats;
}

Expected<PassStats> fuse_pointwise_chains(Graph& graph) {
  PassStats stats;
  bool progress = true;
  while (progress) {
    progress = false;
    KILN_ASSIGN_OR_RETURN(auto order, graph.topological_order());
    std::vector<Value*> starts(graph.inputs().begin(), graph.inputs().end());
    for (Node* n : order) {
      for (Value* out : n->outputs) if (out) starts.push_back(out);
    }
    for (Value* start : starts) {
      PointwiseRegion region = find_pointwise_region(graph, order, start, /*start_must_be_internal=*/false);
      if (region.nodes.size() < 2) continue;
      auto chain = std::make_unique<Node>();
      chain->name = region.nodes.front()->name + "_chain";
      chain->op_type = "PointwiseChain";
      chain->domain = "kiln";
      chain->opset = 1;
      chain->inputs = {start};
      chain->outputs = {region.result};
      region.program.store(*chain);
      for (Node* r : region.nodes) graph.remove_node(r);
      graph.add_node(std::move(chain));
      stats.changed += static_cast<int>(region.nodes.size());
      progress = true;
      break;  // the order changed; look again
    }
  }
  return stats;
}

}  // namespace kiln
