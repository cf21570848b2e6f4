// 32-bit output-driven indexing for the memory-bound kernels (element-wise,
// broadcast, Where, strided copies). Two host steps make the per-element index
// cheap: collapse_index merges the axes that every operand walks the same way
// (a same-shape Add becomes one axis, a [B,1,1,S] mask over [B,H,S,S] three),
// and make_fast_index replaces each division by an axis extent with a
// multiply-high and a shift. Plain C++: shared by .cc and .cu files.
#pragma once

#include <cstddef>
#include <cstdint>

#include "backends/cuda/kernels/launch_types.h"

namespace kiln::cuda {

// n / divisor == (umulhi(n, multiplier) + n) >> shift for every n < 2^31
// (Granlund and Montgomery, "Division by invariant integers using multiplication").
struct FastDivisor {
  uint32_t divisor = 1;
  uint32_t multiplier = 1;
  uint32_t shift = 0;
};

// divisor must be in [1, 2^31).
FastDivisor make_fast_divisor(uint32_t divisor);

struct FastIndex {
  int rank = 1;
  FastDivisor dims[kMaxRank];
  uint32_t strides[3][kMaxRank] = {};
  uint32_t offsets[3] = {};
};

// The same mapping from output element to operand offsets (for `operands`
// operands) over as few axes as possible: unit axes dropped, neighbours merged
// where every operand's outer stride equals its inner stride times the inner extent.
StridedIndex collapse_index(const StridedIndex& index, int operands);

// Fills `fast` from a collapsed index; false when the elements or some
// operand's offsets do not fit the 32-bit path (2^31 or more, or a negative
// stride), so the caller keeps the 64-bit kernels.
bool make_fast_index(const StridedIndex& index, int operands, FastIndex* fast);

// An operand of a vectorised launch: its pointer and element size.
struct VectorOperand {
  const void* data = nullptr;
  size_t element_bytes = 0;
};

// The widest width in {max_width, 1} (max_width a power of two) at which each
// thread may move `width` consecutive output elements with one aligned
// load per operand: the innermost extent is a multiple of it, every operand
// either walks the innermost axis contiguously (aligned, all its other strides
// multiples of the width) or does not move along it (stride 0, one load
// broadcast), and the output is aligned.
int vector_width(const FastIndex& index, const VectorOperand* operands, int count, const void* out,
                 size_t out_element_bytes, int max_width);

// Blocks for a grid-stride loop over `items`: enough to fill the current
// device several times over, no more.
unsigned grid_for_device(int64_t items, int threads = 256);

}  // namespace kiln::cuda
