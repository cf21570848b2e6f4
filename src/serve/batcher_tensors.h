// Joining requests into one batch and handing each request its share of the
// batch's outputs. Both work along axis 0 and copy rows; string tensors are
// joined element-wise.
#pragma once

#include <cstdint>
#include <vector>

#include "kiln/engine.h"
#include "kiln/session.h"
#include "kiln/status.h"

namespace kiln {

// One TensorMap per request, all holding every engine input with the same
// trailing dims per input (the batcher groups requests that way). Returns the
// inputs of the whole batch, each the requests' tensors concatenated in order.
// With `pinned` (CUDA engines) the joined tensors are page-locked, so the
// context copies them to the device without a staging copy.
Expected<TensorMap> join_requests(const std::vector<const TensorMap*>& requests, const std::vector<IoDesc>& inputs,
                                  bool pinned = false);

// Splits the outputs of a batch of `batch_sizes` (one entry per request, in
// batch order) into per-request outputs. An output whose axis 0 equals the
// batch total is cut into rows per request; any other output (no batch axis)
// is shared whole by every request.
std::vector<Outputs> split_outputs(const Outputs& outputs, const std::vector<int64_t>& batch_sizes);

}  // namespace kiln
