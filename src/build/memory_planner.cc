#include "build/memory_planner.h"

#include <algorithm>
#include <limits>
#include <numeric>
#include <set>

namespace kiln {

namespace {

bool lifetimes_overlap(const TensorLifetime& a, const TensorLifetime& b) {
  return a.first_use <= b.last_use && b.first_use <= a.last_use;
}

// Rounds up to the alignment; false when that would overflow.
bool round_up(size_t bytes, size_t alignment, size_t* rounded) {
  if (bytes > std::numeric_limits<size_t>::max() - (alignment - 1)) return false;
  *rounded = (bytes + alignment - 1) / alignment * alignment;
  return true;
}

}  // namespace

Expected<MemoryPlan> plan_memory(const std::vector<TensorLifetime>& lifetimes, size_t alignment) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0) {
    return invalid_argument("memory plan alignment must be a power of two, got " + std::to_string(alignment));
  }
  MemoryPlan plan;
  plan.offsets.assign(lifetimes.size(), 0);
  std::vector<size_t> padded(lifetimes.size(), 0);
  std::set<int64_t> ids;
  for (size_t i = 0; i < lifetimes.size(); ++i) {
    const TensorLifetime& t = lifetimes[i];
    if (!ids.insert(t.id).second)
      return invalid_argument("memory plan: tensor id " + std::to_string(t.id) + " appears twice");
    if (t.first_use > t.last_use) {
      return invalid_argument("memory plan: tensor " + std::to_string(t.id) + " is first used at step " +
                              std::to_string(t.first_use) + ", after its last use at step " +
                              std::to_string(t.last_use));
    }
    if (!round_up(t.bytes, alignment, &padded[i]) ||
        plan.total_tensor_bytes > std::numeric_limits<size_t>::max() - t.bytes) {
      return resource_exhausted("memory plan: tensor sizes overflow the address space");
    }
    plan.total_tensor_bytes += t.bytes;
  }

  // Largest first: big tensors shape the arena, small ones fill the gaps they leave.
  std::vector<size_t> order(lifetimes.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (lifetimes[a].bytes != lifetimes[b].bytes) return lifetimes[a].bytes > lifetimes[b].bytes;
    if (lifetimes[a].first_use != lifetimes[b].first_use) return lifetimes[a].first_use < lifetimes[b].first_use;
    return lifetimes[a].id < lifetimes[b].id;
  });

  // Placed tensors, kept sorted by offset so gaps are found in one sweep.
  std::vector<size_t> placed;
  for (size_t index : order) {
    const TensorLifetime& tensor = lifetimes[index];
    if (tensor.bytes == 0) continue;  // offset 0, occupies nothing
    const size_t size = padded[index];
    size_t best_offset = 0;
    size_t best_gap = std::numeric_limits<size_t>::max();
    bool found_gap = false;
    size_t frontier = 0;  // end of the highest live-overlapping tensor seen so far
    for (size_t other : placed) {
      if (!lifetimes_overlap(tensor, lifetimes[other])) continue;
      const size_t other_offset = plan.offsets[other];
      if (other_offset > frontier) {
        const size_t gap = other_offset - frontier;
        if (gap >= size && gap < best_gap) {
          best_gap = gap;
          best_offset = frontier;
          found_gap = true;
        }
      }
      frontier = std::max(frontier, other_offset + padded[other]);
    }
    const size_t offset = found_gap ? best_offset : frontier;
    if (offset > std::numeric_limits<size_t>::max() - size) {
      return resource_exhausted("memory plan: arena would overflow the address space");
    }
    plan.offsets[index] = offset;
    plan.arena_bytes = std::max(plan.arena_bytes, offset + size);
    auto position = std::upper_bound(placed.begin(), placed.end(), offset,
                                     [&](size_t value, size_t p) { return value < plan.offsets[p]; });
    placed.insert(position, index);
  }
  for (size_t i = 0; i < lifetimes.size(); ++i) plan.offset_by_id[lifetimes[i].id] = plan.offsets[i];
  return plan;
}

std::map<const Value*, size_t> static_value_bytes(const Graph& graph) {
  std::map<const Value*, size_t> bytes;
  auto consider = [&](const Value* value) {
    if (!value || value->is_constant() || !value->shape.is_static()) return;
    size_t size = dtype_size(value->dtype);
    if (size == 0) return;
    for (const Dim& dim : value->shape.dims()) {
      const auto extent = static_cast<size_t>(dim.value);
      // A size past the address space cannot be planned; its kernel will report it.
      if (extent != 0 && size > std::numeric_limits<size_t>::max() / extent) return;
      size *= extent;
    }
    bytes[value] = size;
  };
  for (const Value* value : graph.inputs()) consider(value);
  for (const auto& node : graph.nodes()) {
    for (const Value* value : node->outputs) consider(value);
  }
  for (const Value* value : graph.outputs()) consider(value);
  return bytes;
}

Expected<GraphMemoryPlan> plan_graph_memory(const Graph& graph, const std::map<const Value*, size_t>& bytes,
                                            size_t alignment) {
  KILN_ASSIGN_OR_RETURN(std::vector<Node*> order, graph.topological_order());
  const int64_t last_step = order.empty() ? 0 : static_cast<int64_t>(order.size()) - 1;

  std::map<const Node*, int64_t> step_of;
  for (size_t i = 0; i < order.size(); ++i) step_of[order[i]] = static_cast<int64_t>(i);
  std::set<const Value*> graph_inputs(graph.inputs().begin(), graph.inputs().end());
  std::set<const Value*> graph_outputs(graph.outputs().begin(), graph.outputs().end());

  // Last step that reads each value.
  std::map<const Value*, int64_t> last_read;
  for (size_t i = 0; i < order.size(); ++i) {
    for (const Value* input : order[i]->inputs) {
      if (input) last_read[input] = std::max(last_read.count(input) ? last_read[input] : 0, static_cast<int64_t>(i));
    }
  }

  // A deterministic order (inputs, then node outputs in execution order) so
  // that the same graph always gets the same plan, whatever the pointers.
  std::vector<const Value*> candidates(graph.inputs().begin(), graph.inputs().end());
  for (const Node* node : order) candidates.insert(candidates.end(), node->outputs.begin(), node->outputs.end());
  candidates.insert(candidates.end(), graph.outputs().begin(), graph.outputs().end());
  for (const auto& [value, size] : bytes) candidates.push_back(value);

  GraphMemoryPlan result;
  std::set<const Value*> seen;
  for (const Value* value : candidates) {
    if (!value || value->is_constant() || !seen.insert(value).second) continue;
    auto size_it = bytes.find(value);
    if (size_it == bytes.end()) continue;
    const size_t size = size_it->second;
    TensorLifetime lifetime;
    lifetime.id = static_cast<int64_t>(result.values.size());
    lifetime.bytes = size;
    auto producer = value->producer ? step_of.find(value->producer) : step_of.end();
    // Inputs (and values nothing in the graph produces) exist before the first node runs.
    lifetime.first_use = graph_inputs.count(value) || producer == step_of.end() ? 0 : producer->second;
    lifetime.last_use = lifetime.first_use;
    if (auto it = last_read.find(value); it != last_read.end()) {
      lifetime.last_use = std::max(lifetime.last_use, it->second);
    }
    if (graph_outputs.count(value)) lifetime.last_use = last_step;
    result.values.push_back(value);
    result.lifetimes.push_back(lifetime);
  }
  KILN_ASSIGN_OR_RETURN(result.plan, plan_memory(result.lifetimes, alignment));
  for (size_t i = 0; i < result.values.size(); ++i) result.offsets[result.values[i]] = result.plan.offsets[i];
  return result;
}

}  // namespace kiln
