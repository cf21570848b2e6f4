// One context's executor on the CUDA backend (design notes in cuda_executor.cc).
#pragma once

#include <memory>

#include "backends/cuda/device_weights.h"
#include "backends/cuda/graph_partition.h"
#include "runtime/backend.h"

namespace kiln::cuda {

// `graph` outlives the executor; `weights` holds the device copy of every
// value in partition.needed_on_device that is a constant.
// KILN_CUDA_GRAPHS=1 / KILN_CUDA_DISABLE_TF32=1 in the environment override `options`.
Expected<std::unique_ptr<BackendExecutor>> create_cuda_executor(const Graph& graph, GraphPartition partition,
                                                                std::shared_ptr<const DeviceWeights> weights,
                                                                const ExecutionOptions& options);

}  // namespace kiln::cuda
