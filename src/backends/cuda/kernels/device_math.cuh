// Device helpers shared by the .cu files: float conversion of storage types
// and the pointwise opcode interpreter.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "backends/cuda/kernels/launch_types.h"

namespace kiln::cuda {

// Calls fn with a value of the unsigned type as wide as one element, for
// kernels that only move bytes; false for widths no type matches.
template <typename Fn>
bool dispatch_bytes(size_t element_bytes, Fn&& fn) {
  switch (element_bytes) {
    case 1: fn(uint8_t{}); return true;
    case 2: fn(uint16_t{}); return true;
    case 4: fn(uint32_t{}); return true;
    case 8: fn(uint64_t{}); return true;
    default: return false;
  }
}

template <typename T>
struct IsHalfType : std::false_type {};
template <> struct IsHalfType<__half> : std::true_type {};
template <> struct IsHalfType<__nv_bfloat16> : std::true_type {};

template <typename T>
__device__ __forceinline__ float to_float(T v) {
  if constexpr (std::is_same_v<T, __half>) return __half2float(v);
  else if constexpr (std::is_same_v<T, __nv_bfloat16>) return __bfloat162float(v);
  else return static_cast<float>(v);
}

template <typename T>
__device__ __forceinline__ T from_float(float v) {
  if constexpr (std::is_same_v<T, __half>) return __float2half(v);
  else if constexpr (std::is_same_v<T, __nv_bfloat16>) return __float2bfloat16(v);
  else return static_cast<T>(v);
}

// x as the storage type T would hold it (rounded for the 16-bit float types):
// a sum the unfused graph would have stored in T before reading it back.
template <typename T>
__device__ __forceinline__ float round_to(float x) {
  if constexpr (IsHalfType<T>::value) return to_float(from_float<T>(x));
  else return x;
}

// Arithmetic happens in float for the 16-bit float types, natively otherwise.
template <typename T>
using ComputeType = std::conditional_t<IsHalfType<T>::value, float, T>;

template <typename T>
__device__ __forceinline__ ComputeType<T> to_compute(T v) {
  if constexpr (IsHalfType<T>::value) return to_float(v);
  else return v;
}
template <typename T>
__device__ __forceinline__ T from_compute(ComputeType<T> v) {
  if constexpr (IsHalfType<T>::value) return from_float<T>(v);
  else return v;
}

__device__ __forceinline__ float apply_pointwise(int32_t op, float a, float b, float p0, float p1) {
  switch (op) {
    case kPwRelu: return a > 0.f ? a : 0.f;
    case kPwSigmoid: return 1.f / (1.f + expf(-a));
    case kPwTanh: return tanhf(a);
    case kPwErf: return erff(a);
    case kPwExp: return expf(a);
    case kPwLog: return logf(a);
    case kPwSqrt: return sqrtf(a);
    case kPwAbs: return fabsf(a);
    case kPwNeg: return -a;
    case kPwReciprocal: return 1.f / a;
    case kPwFloor: return floorf(a);
    case kPwCeil: return ceilf(a);
    case kPwSoftplus: return log1pf(expf(a));
    case kPwSoftsign: return a / (1.f + fabsf(a));
    case kPwHardSwish: return a * fminf(fmaxf(a / 6.f + 0.5f, 0.f), 1.f);
    case kPwSign: return a > 0.f ? 1.f : (a < 0.f ? -1.f : 0.f);
    case kPwLeakyRelu: return a >= 0.f ? a : p0 * a;
    case kPwElu: return a >= 0.f ? a : p0 * (expf(a) - 1.f);
    case kPwSelu: return a > 0.f ? p1 * a : p1 * p0 * (expf(a) - 1.f);
    case kPwHardSigmoid: return fminf(fmaxf(p0 * a + p1, 0.f), 1.f);
    case kPwClip: return fminf(p1, fmaxf(p0, a));
    case kPwCelu: return fmaxf(0.f, a) + fminf(0.f, p0 * (expf(a / p0) - 1.f));
    case kPwThresholdedRelu: return a > p0 ? a : 0.f;
    case kPwAdd: return a + b;
    case kPwSub: return a - b;
    case kPwMul: return a * b;
    case kPwDiv: return a / b;
    case kPwPow: return powf(a, b);
    case kPwMax: return fmaxf(a, b);
    case kPwMin: return fminf(a, b);
    default: return a;
  }
}

// Offset of output element `linear` in input `k` of a StridedIndex.
__device__ __forceinline__ int64_t strided_offset(const StridedIndex& index, int k, int64_t linear) {
  int64_t offset = index.offsets[k];
  for (int d = index.rank - 1; d >= 0; --d) {
    int64_t extent = index.dims[d];
    int64_t coordinate = linear % extent;
    linear /= extent;
    offset += coordinate * index.strides[k][d];
  }
  return offset;
}

#define KILN_GRID_STRIDE_LOOP(i, count) \
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < (count); \
       i += static_cast<int64_t>(blockDim.x) * gridDim.x)

}  // namespace kiln::cuda
