// One context's executor on the CUDA backend (design notes in cuda_executor.cc).
#pragma once

#include <memory>

#include "backends/cuda/device_weights.h"
#include "backends/cuda/graph_partition.h"
#include "runtime/backend.h"

namespace kiln::cuda {

// `graph` outlives the executor; `weights` holds the device copy of every
// value in partition.needed_on_device that is a constant.
Expected<std::unique_ptr<BackendExecutor>> create_cuda_executor(const Graph& graph, GraphPartition partition,
                                                                std::shared_ptr<const DeviceWeights> weights);

}  // namespace kiln::cuda
