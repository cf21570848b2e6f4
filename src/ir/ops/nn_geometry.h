// Sliding-window geometry shared by the IR inference and the CPU kernels of
// Conv, ConvTranspose, ConvInteger and the pooling ops: resolves auto_pad,
// defaults strides/dilations/pads and computes output extents, so that shape
// inference and kernels can never disagree about where a window sits.
#pragma once

#include <string>

#include "kiln/graph.h"
#include "kiln/status.h"
#include "kiln/types.h"

namespace kiln {

enum class AutoPad { kNotSet, kSameUpper, kSameLower, kValid };

Expected<AutoPad> parse_auto_pad(const Node& node);

// Per spatial axis. Extents of -1 are unknown (build time); the output extent
// of such an axis is then -1 as well and its pads are meaningless.
struct WindowGeometry {
  Dims input;   // spatial extents of the input
  Dims kernel;  // spatial kernel extents
  Dims strides;
  Dims dilations;
  Dims pads_begin;
  Dims pads_end;
  Dims output;          // spatial extents of the output
  Dims output_padding;  // ConvTranspose only: extra cells at the end of each axis

  size_t rank() const { return input.size(); }
};

// Conv-style and pooling geometry. `ceil_mode` rounds the output extent up (pools).
Expected<WindowGeometry> forward_window_geometry(const Node& node, const Dims& input_spatial, const Dims& kernel,
                                                 bool ceil_mode);

// ConvTranspose geometry (output_shape, output_padding and auto_pad resolved into pads).
Expected<WindowGeometry> transposed_window_geometry(const Node& node, const Dims& input_spatial, const Dims& kernel);

// MatMul with numpy semantics: a 1-D A gains a leading 1, a 1-D B a trailing 1
// (both removed from the output again); batch axes broadcast.
struct MatMulShape {
  Dims batch;    // broadcast batch extents
  Dims a_batch;  // A's batch extents, left-padded with 1 to batch.size()
  Dims b_batch;
  int64_t m = 0, k = 0, n = 0;
  Dims output;
};

// Extents of -1 stay unknown in the result; a known mismatch of K is an error.
Expected<MatMulShape> matmul_shape(const Node& node, const Dims& a, const Dims& b);

}  // namespace kiln
