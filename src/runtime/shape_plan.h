// The shape pass a context runs when it sees a new set of input shapes.
//
// Values that are constants, outputs of Shape/Size, or outputs of nodes whose
// inputs are all known on the host ("shape tensors": the Shape -> Gather ->
// Concat -> Reshape chains exporters emit) are computed on the CPU here, once
// per shape set. Every other value then gets its dtype and dims from the op
// table with those host values, so execution needs no inference, and memory for
// all activations can be planned before the first kernel runs.
#pragma once

#include <map>
#include <unordered_set>
#include <vector>

#include "ir/op_registry.h"
#include "kiln/graph.h"
#include "kiln/profile.h"

namespace kiln {

struct ShapePlan {
  InputShapes input_shapes;
  // Every value reached, with dtype and dims (dims may hold -1 for extents
  // that depend on data, e.g. NonZero's output).
  std::map<const Value*, TensorInfo> infos;
  // Values computed on the host during the pass (not constants of the graph).
  std::map<const Value*, Tensor> host_values;
  // Nodes whose outputs were all computed on the host: executors skip them.
  std::unordered_set<const Node*> host_nodes;

  bool is_host_node(const Node* n) const;
  // Bytes of every non-constant, non-host value with fully known dims.
  std::map<const Value*, size_t> value_bytes() const;
};

// Host evaluation stops at outputs larger than this: big computed tensors are
// left to the executor even when their inputs are known.
constexpr int64_t kMaxHostValueElements = 1 << 16;

// Value of a Shape (start/end attributes) or Size node from its input's dims alone.
Expected<Tensor> shape_value_from_dims(const Node& node, const Dims& dims);

Expected<ShapePlan> plan_shapes(const Graph& graph, const std::vector<Node*>& order, const InputShapes& shapes);

// Arena bytes for the shapes given and the sum of all activation bytes (what
// one buffer per tensor would cost), as `kiln inspect` reports them.
struct ActivationMemory {
  size_t arena_bytes = 0;
  size_t total_bytes = 0;
};
Expected<ActivationMemory> activation_memory(const Graph& graph, const InputShapes& shapes);

}  // namespace kiln
