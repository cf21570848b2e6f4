#pragma once

#include "ir/op_registry.h"
#include "kiln/graph.h"

namespace kiln {

// The TensorInfo a value is declared with (dtype and known dims).
TensorInfo info_of(const Value& value);
Shape shape_of(const TensorInfo& info);

// Propagates types and shapes through the graph in topological order, using
// weights as known values. Declared graph inputs keep their symbolic dims;
// inferred dims that depend on unknown extents stay unknown.
Status infer_graph_shapes(Graph& graph);

}  // namespace kiln
