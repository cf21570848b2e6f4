// Which nodes of a graph run on the host during the shape pass and which run
// on the device. The split depends only on the graph, not on input shapes:
//   host-known values = constants, outputs of Shape and Size, and outputs of
//   nodes whose present inputs are all host-known;
//   host nodes = nodes producing host-known values (run with the CPU kernels);
//   device nodes = every other node (need a CUDA kernel).
#pragma once

#include <unordered_set>
#include <vector>

#include "kiln/graph.h"

namespace kiln::cuda {

struct GraphPartition {
  std::vector<Node*> order;                     // topological
  std::vector<bool> on_host;                    // aligned with order
  std::unordered_set<const Value*> host_known;  // includes constants
  // Constants and host-known values some device node reads (must be on the device).
  std::unordered_set<const Value*> needed_on_device;
};

GraphPartition partition_graph(const Graph& graph, std::vector<Node*> order);

// Shape and Size read only their input's dims, so they run on the host even
// when their input lives on the device.
bool reads_only_shape(const Node& node);

}  // namespace kiln::cuda
