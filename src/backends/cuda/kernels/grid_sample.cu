// Device code of GridSample (2-D, nearest or bilinear).
#include "backends/cuda/kernels/data_movement_launch.h"
#include "backends/cuda/kernels/device_math.cuh"

namespace kiln::cuda {
namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ float unnormalize(float g, int64_t size, bool align_corners) {
  return align_corners ? (g + 1.f) / 2.f * static_cast<float>(size - 1)
                       : ((g + 1.f) * static_cast<float>(size) - 1.f) / 2.f;
}

// Reflects x into [low, high] (ONNX's reflection padding).
__device__ __forceinline__ float reflect(float x, float low, float high) {
  const float span = high - low;
  if (span <= 0.f) return low;
  float d = fabsf(x - low);
  const float flips = floorf(d / span);
  const float rest = d - flips * span;
  return (static_cast<int64_t>(flips) % 2 == 0) ? low + rest : high - rest;
}

__device__ __forceinline__ float pad_coordinate(float x, int64_t size, const GridSampleParams& p) {
  if (p.padding == 1) return fminf(fmaxf(x, 0.f), static_cast<float>(size - 1));
  if (p.padding == 2) {
    x = p.align_corners ? reflect(x, 0.f, static_cast<float>(size - 1))
                        : reflect(x, -0.5f, static_cast<float>(size) - 0.5f);
    return fminf(fmaxf(x, 0.f), static_cast<float>(size - 1));
  }
  return x;
}

template <typename T>
__device__ __forceinline__ float fetch(const T* plane, int64_t y, int64_t x, const GridSampleParams& p) {
  if (y < 0 || y >= p.in_h || x < 0 || x >= p.in_w) {
    if (p.padding == 0) return 0.f;
    y = y < 0 ? 0 : (y >= p.in_h ? p.in_h - 1 : y);
    x = x < 0 ? 0 : (x >= p.in_w ? p.in_w - 1 : x);
  }
  return to_float(plane[y * p.in_w + x]);
}

template <typename T>
__global__ void grid_sample_kernel(const T* in, const T* grid, T* out, GridSampleParams p) {
  KILN_GRID_STRIDE_LOOP(index, p.n * p.c * p.out_h * p.out_w) {
    const int64_t j = index % p.out_w;
    const int64_t i = (index / p.out_w) % p.out_h;
    const int64_t c = (index / (p.out_w * p.out_h)) % p.c;
    const int64_t n = index / (p.out_w * p.out_h * p.c);
    const T* g = grid + ((n * p.out_h + i) * p.out_w + j) * 2;
    const float x = pad_coordinate(unnormalize(to_float(g[0]), p.in_w, p.align_corners), p.in_w, p);
    const float y = pad_coordinate(unnormalize(to_float(g[1]), p.in_h, p.align_corners), p.in_h, p);
    const T* plane = in + (n * p.c + c) * p.in_h * p.in_w;
    float value;
    if (p.nearest) {
      value = fetch(plane, static_cast<int64_t>(rintf(y)), static_cast<int64_t>(rintf(x)), p);
    } else {
      const float x0 = floorf(x), y0 = floorf(y);
      const float wx = x - x0, wy = y - y0;
      const int64_t xi = static_cast<int64_t>(x0), yi = static_cast<int64_t>(y0);
      value = (fetch(plane, yi, xi, p) * (1 - wx) + fetch(plane, yi, xi + 1, p) * wx) * (1 - wy) +
              (fetch(plane, yi + 1, xi, p) * (1 - wx) + fetch(plane, yi + 1, xi + 1, p) * wx) * wy;
    }
    out[index] = from_float<T>(value);
  }
}

}  // namespace

cudaError_t launch_grid_sample(DataType dtype, const void* in, const void* grid, void* out,
                               const GridSampleParams& params, cudaStream_t stream) {
  const int64_t count = params.n * params.c * params.out_h * params.out_w;
  if (count == 0) return cudaSuccess;
  auto launch = [&](auto tag) {
    using T = decltype(tag);
    grid_sample_kernel<T><<<grid_for(count), kThreads, 0, stream>>>(static_cast<const T*>(in),
                                                                    static_cast<const T*>(grid),
                                                                    static_cast<T*>(out), params);
  };
  switch (dtype) {
    case DataType::kFloat32: launch(float{}); break;
    case DataType::kFloat16: launch(__half{}); break;
    case DataType::kBFloat16: launch(__nv_bfloat16{}); break;
    default: return cudaErrorInvalidValue;
  }
  return cudaGetLastError();
}

}  // namespace kiln::cuda
