// Graph rewrites run by the builder. Each pass lives in its own file and keeps
// the graph computing exactly what it computed before.
#pragma once

#include "kiln/graph.h"
#include "kiln/status.h"

namespace kiln {

// The pass pipeline the builder runs when optimisation is on.
Status run_default_passes(Graph& graph);

// Removes nodes whose outputs nothing reads (graph outputs are read).
Status eliminate_dead_nodes(Graph& graph);

}  // namespace kiln
