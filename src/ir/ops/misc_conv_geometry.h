// Output extents and padding of a convolution window (QLinearConv), from the
// node's kernel_shape/strides/dilations/pads/auto_pad attributes.
#pragma once

#include "kiln/graph.h"
#include "kiln/status.h"

namespace kiln {

struct ConvGeometry {
  Dims kernel;  // per spatial axis
  Dims strides;
  Dims dilations;
  Dims pads_begin;
  Dims pads_end;
  Dims output_spatial;  // -1 where the input extent is unknown
};

// `input_spatial` and `weight_spatial` may hold -1 (unknown).
Expected<ConvGeometry> conv_geometry(const Node& node, const Dims& input_spatial, const Dims& weight_spatial);

}  // namespace kiln
