// Device side of fast_index.h: division by an axis extent, operand offsets of
// an output element, and aligned packs of consecutive elements.
#pragma once

#include "backends/cuda/kernels/fast_index.h"

namespace kiln::cuda {

__device__ __forceinline__ uint32_t fast_divide(const FastDivisor& d, uint32_t n) {
  return (__umulhi(n, d.multiplier) + n) >> d.shift;
}

// Offsets in each of the first N operands of output element `linear`.
template <int N>
__device__ __forceinline__ void fast_offsets(const FastIndex& index, uint32_t linear, uint32_t (&offset)[N]) {
#pragma unroll
  for (int k = 0; k < N; ++k) offset[k] = index.offsets[k];
  for (int d = index.rank - 1; d > 0; --d) {
    const uint32_t quotient = fast_divide(index.dims[d], linear);
    const uint32_t coordinate = linear - quotient * index.dims[d].divisor;
    linear = quotient;
#pragma unroll
    for (int k = 0; k < N; ++k) offset[k] += coordinate * index.strides[k][d];
  }
#pragma unroll
  for (int k = 0; k < N; ++k) offset[k] += linear * index.strides[k][0];
}

// V consecutive elements moved by one load or store (V * sizeof(T) is a power of two up to 16).
template <typename T, int V>
struct alignas(sizeof(T) * V) Pack {
  T v[V];
};

// Element `offset` and the V - 1 after it when the operand walks the innermost
// axis (`contiguous`), else element `offset` repeated (a broadcast operand).
template <int V, typename T>
__device__ __forceinline__ Pack<T, V> load_pack(const T* base, uint32_t offset, bool contiguous) {
  if (V == 1 || contiguous) return *reinterpret_cast<const Pack<T, V>*>(base + offset);
  Pack<T, V> p;
  const T value = base[offset];
#pragma unroll
  for (int j = 0; j < V; ++j) p.v[j] = value;
  return p;
}

template <int V, typename T>
__device__ __forceinline__ void store_pack(T* base, uint32_t offset, const Pack<T, V>& p) {
  *reinterpret_cast<Pack<T, V>*>(base + offset) = p;
}

// Elements per pack for the widest element among a kernel's operands: 16 bytes, at most 8 elements.
template <typename T>
constexpr int kPackWidth = sizeof(T) >= 16 ? 1 : (16 / sizeof(T) > 8 ? 8 : static_cast<int>(16 / sizeof(T)));

#define KILN_FAST_GRID_LOOP(p, count)                                                              \
  for (uint32_t p = blockIdx.x * blockDim.x + threadIdx.x; p < (count); p += blockDim.x * gridDim.x)

}  // namespace kiln::cuda
