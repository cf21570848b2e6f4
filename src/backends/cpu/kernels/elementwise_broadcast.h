// Numpy-style multidirectional broadcasting for CPU kernels: a plan that maps
// every output element to one element of each input, and loops that walk it
// row by row (OpenMP across rows, or across chunks of one long row).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "kiln/status.h"
#include "kiln/types.h"

namespace kiln::cpu {

// Loops over fewer elements than this stay on one thread: forking costs more.
inline constexpr int64_t kParallelElementThreshold = int64_t{1} << 15;

// How N inputs map onto their broadcast output. Adjacent axes that every input
// walks contiguously (or not at all) are merged, so the innermost loop is as
// long as possible: equal shapes become one flat row.
struct BroadcastPlan {
  Dims output_dims;                               // the broadcast shape, in the inputs' rank
  int64_t total = 0;                              // output elements
  int64_t inner = 1;                              // extent of the innermost merged axis
  Dims outer_dims;                                // merged axes above the inner one
  std::vector<std::vector<int64_t>> outer_strides;  // [input][outer axis], element strides, 0 = broadcast
  std::vector<int64_t> inner_strides;             // per input: 1, or 0 when broadcast along the inner axis
};

// Fails (naming the shapes) when the dims do not broadcast.
Expected<BroadcastPlan> make_broadcast_plan(const std::vector<Dims>& input_dims);

// Calls row(output_offset, input_offsets, count) over the whole output, where the
// row's element i is output[output_offset + i] and input k's element is
// input_offsets[k] + i * plan.inner_strides[k]. Rows run in parallel when large;
// a few long rows are cut into chunks so that equal shapes still use every thread.
template <size_t N, typename RowFn>
void for_each_broadcast_row(const BroadcastPlan& plan, RowFn&& row) {
  if (plan.total == 0) return;
  const int64_t inner = plan.inner;
  const int64_t rows = plan.total / inner;
  const int64_t outer_rank = static_cast<int64_t>(plan.outer_dims.size());
  // Chunks of at least kParallelElementThreshold / 4 elements per task.
  const int64_t min_chunk = kParallelElementThreshold / 4;
  const int64_t chunks_per_row = rows >= 64 || inner < 2 * min_chunk ? 1 : inner / min_chunk;
  const int64_t chunk = (inner + chunks_per_row - 1) / chunks_per_row;
  const int64_t tasks = rows * chunks_per_row;
#pragma omp parallel for schedule(static) if (plan.total >= kParallelElementThreshold)
  for (int64_t task = 0; task < tasks; ++task) {
    const int64_t r = task / chunks_per_row;
    const int64_t begin = (task % chunks_per_row) * chunk;
    const int64_t count = std::min(chunk, inner - begin);
    std::array<int64_t, N> offsets{};
    int64_t rest = r;
    for (int64_t axis = outer_rank - 1; axis >= 0 && rest > 0; --axis) {
      const int64_t extent = plan.outer_dims[axis];
      const int64_t index = rest % extent;
      rest /= extent;
      for (size_t k = 0; k < N; ++k) offsets[k] += index * plan.outer_strides[k][axis];
    }
    for (size_t k = 0; k < N; ++k) offsets[k] += begin * plan.inner_strides[k];
    if (count > 0) row(r * inner + begin, offsets, count);
  }
}

// out[i] = fn(a[.], b[.]) over the broadcast of a and b. The four stride cases
// get their own loops so the compiler can vectorise each.
template <typename A, typename B, typename O, typename Fn>
void broadcast_binary(const BroadcastPlan& plan, const A* a, const B* b, O* out, Fn&& fn) {
  const bool a_moves = plan.inner_strides[0] != 0;
  const bool b_moves = plan.inner_strides[1] != 0;
  for_each_broadcast_row<2>(plan, [&](int64_t o, const std::array<int64_t, 2>& off, int64_t count) {
    const A* pa = a + off[0];
    const B* pb = b + off[1];
    O* po = out + o;
    if (a_moves && b_moves) {
      for (int64_t i = 0; i < count; ++i) po[i] = fn(pa[i], pb[i]);
    } else if (a_moves) {
      const B y = *pb;
      for (int64_t i = 0; i < count; ++i) po[i] = fn(pa[i], y);
    } else if (b_moves) {
      const A x = *pa;
      for (int64_t i = 0; i < count; ++i) po[i] = fn(x, pb[i]);
    } else {
      const O v = fn(*pa, *pb);
      for (int64_t i = 0; i < count; ++i) po[i] = v;
    }
  });
}

// out[i] = fn(a[.], b[.], c[.]) over the broadcast of three inputs.
template <typename A, typename B, typename C, typename O, typename Fn>
void broadcast_ternary(const BroadcastPlan& plan, const A* a, const B* b, const C* c, O* out, Fn&& fn) {
  const int64_t sa = plan.inner_strides[0], sb = plan.inner_strides[1], sc = plan.inner_strides[2];
  for_each_broadcast_row<3>(plan, [&](int64_t o, const std::array<int64_t, 3>& off, int64_t count) {
    const A* pa = a + off[0];
    const B* pb = b + off[1];
    const C* pc = c + off[2];
    O* po = out + o;
    if (sa && sb && sc) {
      for (int64_t i = 0; i < count; ++i) po[i] = fn(pa[i], pb[i], pc[i]);
    } else {
      for (int64_t i = 0; i < count; ++i) po[i] = fn(pa[i * sa], pb[i * sb], pc[i * sc]);
    }
  });
}

// out[i] = fn(in[i]) for equal shapes, in parallel when large.
template <typename I, typename O, typename Fn>
void map_elements(const I* in, O* out, int64_t count, Fn&& fn) {
#pragma omp parallel for schedule(static) if (count >= kParallelElementThreshold)
  for (int64_t i = 0; i < count; ++i) out[i] = fn(in[i]);
}

}  // namespace kiln::cpu
