// Moves 2-D convolutions, and the work connected to them that does not care
// about the layout, to channels-last (NHWC) storage.
//
// Tensor-core convolutions in half precision want NHWC activations and
// [M, kH, kW, C] filters; fed NCHW, the library transposes internally around
// every convolution. This pass finds connected regions of nodes that can run
// channels-last (convolutions, pools, elementwise ops whose other operands are
// region values, scalars or constants, Concat), keeps only the regions that
// hold enough convolutions to pay for the Transposes at their edges (see
// RegionCost), and rewrites them:
//  - Conv / FusedConv become kiln.NhwcFusedConv, pools their Nhwc variants
//    (src/ir/channels_last.h); elementwise ops and Concat keep their op type,
//    Concat's axis is renumbered;
//  - constant filters and broadcast constants are permuted here, once, at
//    build time (each a new value: the NCHW original may have other readers);
//  - a Transpose is inserted only at the region's edges: into the region for
//    every outside value it reads, out of it for every region value read
//    outside (or a graph output, which keeps its name and NCHW shape).
// Every other value keeps NCHW, so the graph's inputs and outputs are unchanged.
#include <algorithm>
#include <map>
#include <numeric>
#include <set>

#include "ir/channels_last.h"
#include "ir/pointwise_program.h"
#include "passes/passes.h"

namespace kiln {
namespace {

enum class Role { kNone, kConv, kPool, kElementwise, kConcat };

// How one input of a region node is rewritten.
enum class Operand {
  kUnchanged,   // bias, scalar, omitted
  kActivation,  // an NHWC region value, or an outside value transposed on entry (constants permuted)
  kFilter,      // [M, C/group, kH, kW] -> [M, kH, kW, C/group]
  kBroadcast,   // constant of rank <= 4: padded to rank 4 with leading 1s, then permuted
};

bool has_rank4(const Value* v) {
  if (!v) return false;
  if (v->constant) return v->constant->rank() == 4;
  return v->shape.is_ranked() && v->shape.rank() == 4;
}

bool single_element(const Value* v) {
  if (!v) return false;
  if (v->constant) return v->constant->element_count() == 1;
  return v->shape.is_ranked() && v->shape.is_static() && element_count(v->shape.known_dims()) == 1;
}

bool one_output(const Node& n) { return n.outputs.size() == 1 && n.outputs[0] && has_rank4(n.outputs[0]); }

const std::set<std::string>& broadcasting_ops() {
  static const std::set<std::string> kOps = {"Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "PRelu"};
  return kOps;
}

// The role of a node and how each of its inputs is rewritten, or kNone when it
// must stay NCHW.
struct Plan {
  Role role = Role::kNone;
  std::vector<Operand> operands;
};

Plan plan_conv(const Node& n) {
  Plan p;
  bool conv = (n.op_type == "Conv" && n.domain.empty()) || (n.op_type == "FusedConv" && n.domain == "kiln");
  if (!conv || !one_output(n) || !has_rank4(n.inputs[0]) || n.inputs[0]->constant) return p;
  if (!n.has_input(1) || !has_rank4(n.inputs[1])) return p;
  if (n.has_input(3) && !has_rank4(n.inputs[3])) return p;
  p.role = Role::kConv;
  p.operands = {Operand::kActivation, Operand::kFilter};
  for (size_t i = 2; i < n.inputs.size(); ++i) {
    p.operands.push_back(i == 3 && n.has_input(3) ? Operand::kActivation : Operand::kUnchanged);
  }
  return p;
}

Plan plan_pool(const Node& n) {
  Plan p;
  if (n.op_type == "FusedConv" || !channels_last_variant_of(n.op_type, n.domain)) return p;
  // MaxPool's Indices are NCHW offsets: such a node stays NCHW.
  if (n.outputs.size() != 1 || !one_output(n) || !has_rank4(n.inputs[0]) || n.inputs[0]->constant) return p;
  p.role = Role::kPool;
  p.operands = {Operand::kActivation};
  return p;
}

Plan plan_elementwise(const Node& n) {
  Plan p;
  if (!one_output(n)) return p;
  PointwiseOp op;
  int arity = 0;
  const bool chain = n.domain == "kiln" && n.op_type == "PointwiseChain";
  const bool unary = n.domain.empty() && pointwise_op_from_onnx(n.op_type, &op, &arity) && arity == 1;
  const bool broadcasting = n.domain.empty() && broadcasting_ops().count(n.op_type);
  if (!chain && !unary && !broadcasting) return p;
  bool reads_activation = false;
  for (size_t i = 0; i < n.inputs.size(); ++i) {
    const Value* v = n.inputs[i];
    if (!v || single_element(v)) {
      p.operands.push_back(Operand::kUnchanged);
    } else if (has_rank4(v) && !v->constant && (broadcasting || i == 0)) {
      p.operands.push_back(Operand::kActivation);
      reads_activation = true;
    } else if (broadcasting && v->constant && v->constant->rank() <= 4) {
      p.operands.push_back(Operand::kBroadcast);
    } else {
      return Plan{};  // e.g. a computed [C, 1, 1] operand, or Clip with a tensor bound
    }
  }
  if (reads_activation) p.role = Role::kElementwise;
  return p;
}

Plan plan_concat(const Node& n) {
  Plan p;
  if (n.op_type != "Concat" || !n.domain.empty() || !one_output(n)) return p;
  for (const Value* v : n.inputs) {
    if (!has_rank4(v)) return p;
    p.operands.push_back(Operand::kActivation);
  }
  p.role = Role::kConcat;
  return p;
}

Plan plan_node(const Node& n) {
  for (Plan (*f)(const Node&) : {plan_conv, plan_pool, plan_elementwise, plan_concat}) {
    Plan p = f(n);
    if (p.role != Role::kNone) return p;
  }
  return Plan{};
}

// Whether a region is worth storing NHWC. Each edge Transpose costs about what
// the library's own transposition around one NCHW convolution costs, so a
// region must hold more convolutions than half its edges: a lone convolution
// between two NCHW neighbours stays NCHW; a conv stack with one way in and one
// way out moves.
struct RegionCost {
  int convolutions = 0;
  std::set<const Value*> entries;  // outside values the region reads
  int exits = 0;                   // region values read outside (or graph outputs)
  bool pays() const { return convolutions > 0 && 2 * convolutions > static_cast<int>(entries.size()) + exits; }
};

int find_root(std::vector<int>& parent, int i) {
  while (parent[i] != i) i = parent[i] = parent[parent[i]];
  return i;
}

class Rewriter {
 public:
  explicit Rewriter(Graph& graph) : graph_(graph) {}

  // Gives the node's output an NHWC value; the NCHW value keeps its name and
  // is produced by a Transpose when anything outside the region reads it.
  void move_output(Node* node, const std::set<const Node*>& region) {
    Value* out = node->outputs[0];
    Value* nhwc = graph_.new_value(out->name + "_nhwc");
    nhwc->dtype = out->dtype;
    nhwc->shape = permute_shape(out->shape, kToChannelsLast);
    node->outputs[0] = nhwc;
    nhwc->producer = node;
    out->producer = nullptr;
    region_values_[out] = nhwc;
    bool read_outside = is_graph_output(graph_, out);
    for (Node* c : graph_.consumers(out)) read_outside |= !region.count(c);
    if (read_outside) add_transpose(nhwc, out, kToChannelsFirst);
  }

  Expected<Value*> rewrite_operand(Value* v, Operand kind) {
    switch (kind) {
      case Operand::kUnchanged:
        return v;
      case Operand::kActivation:
      case Operand::kFilter: {
        if (auto it = region_values_.find(v); it != region_values_.end()) return it->second;
        if (v->constant) return permuted_constant(v, v->constant->dims());
        return entry_transpose(v);
      }
      case Operand::kBroadcast: {
        Dims padded = v->constant->dims();
        padded.insert(padded.begin(), 4 - padded.size(), 1);
        return permuted_constant(v, padded);
      }
    }
    return v;
  }

 private:
  void add_transpose(Value* from, Value* to, const std::array<int64_t, 4>& perm) {
    auto t = std::make_unique<Node>();
    t->name = to->name + "_transpose";
    t->op_type = "Transpose";
    t->opset = std::max(graph_.opset_for(""), 13);
    t->inputs = {from};
    t->outputs = {to};
    t->attributes["perm"] = Attribute::of_ints(std::vector<int64_t>(perm.begin(), perm.end()));
    graph_.add_node(std::move(t));
  }

  Value* entry_transpose(Value* v) {
    auto it = entries_.find(v);
    if (it != entries_.end()) return it->second;
    Value* nhwc = graph_.new_value(v->name + "_nhwc");
    nhwc->dtype = v->dtype;
    nhwc->shape = permute_shape(v->shape, kToChannelsLast);
    add_transpose(v, nhwc, kToChannelsLast);
    entries_[v] = nhwc;
    return nhwc;
  }

  // The constant viewed with `dims` (same elements) and permuted to NHWC; one copy per original.
  Expected<Value*> permuted_constant(Value* v, const Dims& dims) {
    auto it = constants_.find(v);
    if (it != constants_.end()) return it->second;
    KILN_ASSIGN_OR_RETURN(Tensor viewed, v->constant->reshaped(dims));
    auto permuted = permute_tensor(viewed, kToChannelsLast);
    if (!permuted.ok()) return permuted.status().with_context("constant '" + v->name + "'");
    Value* p = graph_.new_value(v->name + "_nhwc");
    p->dtype = permuted->dtype();
    p->shape = Shape::from_dims(permuted->dims());
    p->constant = std::move(*permuted);
    constants_[v] = p;
    return p;
  }

  Graph& graph_;
  std::map<Value*, Value*> region_values_;  // NCHW value -> its NHWC replacement inside the region
  std::map<Value*, Value*> entries_;        // outside value -> its transposed copy
  std::map<Value*, Value*> constants_;      // constant -> its permuted copy
};

// Concat's axis in NCHW numbering -> the same axis in NHWC storage.
int64_t channels_last_axis(int64_t axis) {
  if (axis < 0) axis += 4;
  for (int64_t i = 0; i < 4; ++i) {
    if (kToChannelsLast[i] == axis) return i;
  }
  return axis;
}

}  // namespace

Expected<PassStats> choose_channels_last(Graph& graph) {
  PassStats stats;
  KILN_ASSIGN_OR_RETURN(auto order, graph.topological_order());
  std::map<const Node*, int> index;
  std::vector<Plan> plans(order.size());
  for (size_t i = 0; i < order.size(); ++i) {
    index[order[i]] = static_cast<int>(i);
    plans[i] = plan_node(*order[i]);
  }
  // Regions: nodes joined by the activations they pass each other.
  std::vector<int> parent(order.size());
  std::iota(parent.begin(), parent.end(), 0);
  for (size_t i = 0; i < order.size(); ++i) {
    if (plans[i].role == Role::kNone) continue;
    for (size_t k = 0; k < plans[i].operands.size(); ++k) {
      if (plans[i].operands[k] != Operand::kActivation) continue;
      const Node* producer = order[i]->inputs[k]->producer;
      if (!producer || plans[index[producer]].role == Role::kNone) continue;
      parent[find_root(parent, static_cast<int>(i))] = find_root(parent, index[producer]);
    }
  }
  // Per region: its convolutions and the Transposes its edges would need.
  std::map<int, RegionCost> costs;
  std::vector<int> root_of(order.size(), -1);
  for (size_t i = 0; i < order.size(); ++i) {
    if (plans[i].role != Role::kNone) root_of[i] = find_root(parent, static_cast<int>(i));
  }
  for (size_t i = 0; i < order.size(); ++i) {
    if (root_of[i] < 0) continue;
    RegionCost& cost = costs[root_of[i]];
    cost.convolutions += plans[i].role == Role::kConv;
    for (size_t k = 0; k < plans[i].operands.size(); ++k) {
      if (plans[i].operands[k] != Operand::kActivation && plans[i].operands[k] != Operand::kFilter) continue;
      const Value* v = order[i]->inputs[k];
      if (v->constant) continue;  // permuted at build time
      if (!v->producer || root_of[index[v->producer]] != root_of[i]) cost.entries.insert(v);
    }
    const Value* out = order[i]->outputs[0];
    bool read_outside = is_graph_output(graph, out);
    for (const Node* c : graph.consumers(out)) read_outside |= root_of[index[c]] != root_of[i];
    cost.exits += read_outside;
  }
  std::set<const Node*> region;
  std::vector<size_t> chosen;
  for (size_t i = 0; i < order.size(); ++i) {
    if (root_of[i] >= 0 && costs[root_of[i]].pays()) {
      region.insert(order[i]);
      chosen.push_back(i);
    }
  }
  if (chosen.empty()) return stats;

  Rewriter rewriter(graph);
  for (size_t i : chosen) rewriter.move_output(order[i], region);
  for (size_t i : chosen) {
    Node* n = order[i];
    const Plan& plan = plans[i];
    for (size_t k = 0; k < plan.operands.size(); ++k) {
      KILN_ASSIGN_OR_RETURN(n->inputs[k], rewriter.rewrite_operand(n->inputs[k], plan.operands[k]));
    }
    if (plan.role == Role::kConv) {
      n->op_type = "NhwcFusedConv";  // a plain Conv is a FusedConv with an empty program
      n->domain = "kiln";
    } else if (plan.role == Role::kPool) {
      n->op_type = channels_last_variant_of(n->op_type, n->domain)->op;
      n->domain = "kiln";
    } else if (plan.role == Role::kConcat) {
      n->attributes["axis"] = Attribute::of_int(channels_last_axis(n->attr_int("axis", 0)));
    }
    ++stats.changed;
  }
  graph.remove_unused_values();
  return stats;
}

}  // namespace kiln
