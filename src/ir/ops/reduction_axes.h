// Which axes a Reduce* node reduces. Shared by shape inference and the
// kernels so both read the node the same way.
#pragma once

#include <vector>

#include "kiln/graph.h"
#include "kiln/status.h"
#include "kiln/tensor.h"

namespace kiln {

struct ReduceAxes {
  // False when the axes come from an input whose value is not known yet.
  bool known = true;
  // Empty axes with noop_with_empty_axes = 1: nothing is reduced, the output
  // has the input's shape and each element is "reduced" alone.
  bool noop = false;
  // One flag per input axis.
  std::vector<bool> reduced;
};

// Axes come from input 1 when the node has one (ReduceSum from opset 13, the
// other Reduce ops from 18), else from the `axes` attribute. Empty axes mean
// "all axes" unless noop_with_empty_axes is set. `axes_value` may be null
// (unknown at build time); errors name out-of-range axes.
Expected<ReduceAxes> resolve_reduce_axes(const Node& node, bool has_axes_input, const Tensor* axes_value,
                                         int64_t rank);

// Output dims of a reduction with known axes.
Dims reduce_output_dims(const Dims& input, const ReduceAxes& axes, bool keepdims);

// Axes flags for an explicit axis list (MeanVarianceNormalization and the like).
Expected<std::vector<bool>> axes_to_flags(const std::vector<int64_t>& axes, int64_t rank, const Node& node);

}  // namespace kiln
