// Build-time tactic selection for the CUDA backend (Backend::select_tactics).
//
// For each profile and each device node whose kernel has tactics (Conv, Gemm,
// MatMul and their fused forms): the shape pass gives the node's static shapes
// at the profile's min, opt and max input shapes; the kernel lists its
// candidates at the opt shapes; each candidate is prepared and run on random
// device data on a private stream (2 warm-up runs, then the median of 5 runs
// between CUDA events); the fastest that also prepares at the min and max
// shapes is stored in the node (build/tactic_record.h). Timing cache entries
// (keyed by device, layer signature and precision mode) replace the timing when
// their tactic is still valid at all three points.
#pragma once

#include <string>

#include "build/tactic_selection.h"
#include "kiln/graph.h"

namespace kiln::cuda {

Status select_cuda_tactics(Graph& graph, TacticSelection& selection);

// What every timing cache key starts with: the current device's name and
// compute capability and the cuDNN and cuBLASLt versions, e.g.
// "NVIDIA H100 80GB HBM3 sm_90 cudnn 91000 cublaslt 120900".
Expected<std::string> cuda_device_key();

}  // namespace kiln::cuda
