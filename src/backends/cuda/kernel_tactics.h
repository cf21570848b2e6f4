// Helpers for kernels with tactics (convolution, matmul): which tactic a
// prepare call should try first, and how it reports one that does not fit.
#pragma once

#include <optional>
#include <string>

#include "backends/cuda/cuda_kernels.h"

namespace kiln::cuda {

struct RequestedTactic {
  KernelTactic tactic;
  bool forced = false;  // the builder asked for exactly this one (PrepareArgs::tactic)
};

// The tactic prepare should try before its heuristic: PrepareArgs::tactic, else
// the node's stored entry that covers the actual input dims in the precision
// mode of `dtype` (with the context's TF32 setting). nullopt: use the heuristic.
std::optional<RequestedTactic> requested_tactic(const PrepareArgs& args, DataType dtype);

// When a requested tactic turns out not to be valid for the actual shapes:
// for a forced one, an error naming the node and tactic (the builder skips the
// candidate); for a stored one, a warning on stderr (once per node and tactic
// in this process) and OK, so the caller falls back to its heuristic.
Status reject_tactic(const Node& node, const RequestedTactic& requested, const std::string& why);

}  // namespace kiln::cuda
