// Finds the largest region of float32 elementwise nodes fed by one value that
// can be rewritten into a PointwiseProgram with a single result.
#pragma once

#include <vector>

#include "ir/pointwise_program.h"
#include "kiln/graph.h"

namespace kiln {

struct PointwiseRegion {
  std::vector<Node*> nodes;  // in topological order
  Value* result = nullptr;   // the one value read outside the region
  PointwiseProgram program;
};

// `start` feeds the region. With `start_must_be_internal`, the region is only
// valid if nothing outside it reads `start` (fusing into the start's producer).
// Returns a region with no nodes when none qualifies.
PointwiseRegion find_pointwise_region(const Graph& graph, const std::vector<Node*>& order, Value* start,
                                      bool start_must_be_internal);

}  // namespace kiln
