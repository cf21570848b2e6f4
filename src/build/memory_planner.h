// Activation memory planner: packs intermediate tensors into one arena so that
// tensors alive at the same time never share bytes, and tensors whose
// lifetimes are disjoint reuse the same bytes.
//
// Heuristic: greedy by size with best fit (as TFLite's and TensorRT's planners
// do). Tensors are placed largest first; each goes into the smallest gap left
// between already placed tensors whose lifetimes overlap its own, or above
// all of them when no gap is large enough.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <vector>

#include "kiln/graph.h"
#include "kiln/status.h"

namespace kiln {

// Offsets are multiples of this (enough for any vector load and for cuBLAS/cuDNN).
constexpr size_t kArenaAlignment = 256;

// One tensor to place. Steps are positions in the execution order; the tensor
// is alive on steps first_use..last_use, both inclusive.
struct TensorLifetime {
  int64_t id = 0;  // caller's handle, unique within one call
  size_t bytes = 0;
  int64_t first_use = 0;
  int64_t last_use = 0;
};

struct MemoryPlan {
  // offsets[i] is where lifetimes[i] (the input order) starts in the arena.
  std::vector<size_t> offsets;
  std::map<int64_t, size_t> offset_by_id;
  // Bytes the arena needs (a multiple of the alignment, 0 when nothing is placed).
  size_t arena_bytes = 0;
  // Sum of the tensors' sizes: what one buffer per tensor would cost.
  size_t total_tensor_bytes = 0;
};

// Errors: duplicate ids, first_use > last_use, alignment not a power of two.
Expected<MemoryPlan> plan_memory(const std::vector<TensorLifetime>& lifetimes, size_t alignment = kArenaAlignment);

struct GraphMemoryPlan {
  MemoryPlan plan;
  // Arena offset of every planned value.
  std::map<const Value*, size_t> offsets;
  // The lifetimes that were planned (id = index into `values`), for inspection.
  std::vector<const Value*> values;
  std::vector<TensorLifetime> lifetimes;
};

// Plans the values listed in `bytes` (typically every non-constant value whose
// size is known for the shapes being planned). Steps follow the graph's
// topological order: node k runs at step k. Graph inputs live from step 0,
// graph outputs until the last step, every other value from its producer's
// step to its last consumer's step. Constants are never planned (weights live
// elsewhere) even when listed; values absent from `bytes` are not planned
// (e.g. outputs with data-dependent extents that their kernel allocates).
// Byte sizes of every non-constant value whose declared shape is fully static
// and whose dtype has a fixed size (not string or undefined): the `bytes`
// argument of plan_graph_memory once shapes were inferred for the shapes being
// planned (e.g. a profile's max shapes set on the graph inputs).
std::map<const Value*, size_t> static_value_bytes(const Graph& graph);

Expected<GraphMemoryPlan> plan_graph_memory(const Graph& graph, const std::map<const Value*, size_t>& bytes,
                                            size_t alignment = kArenaAlignment);

}  // namespace kiln
