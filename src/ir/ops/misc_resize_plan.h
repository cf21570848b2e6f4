// How Resize/Upsample map input extents to output extents. Shared by shape
// inference (output dims) and the CPU kernel (per-axis scales and ROI), so the
// two can never disagree.
#pragma once

#include <optional>
#include <vector>

#include "kiln/graph.h"
#include "kiln/status.h"
#include "kiln/tensor.h"

namespace kiln {

struct ResizePlan {
  Dims output_dims;
  std::vector<double> scales;     // per axis, output/input (as the model states it)
  std::vector<double> roi_start;  // per axis, normalised ROI (tf_crop_and_resize)
  std::vector<double> roi_end;
};

// `inputs` is aligned with node.inputs and holds the known values (nullptr when
// unknown or omitted). Returns nullopt when a value the plan needs is unknown.
Expected<std::optional<ResizePlan>> plan_resize(const Node& node, const Dims& input_dims,
                                                const std::vector<const Tensor*>& inputs);

}  // namespace kiln
