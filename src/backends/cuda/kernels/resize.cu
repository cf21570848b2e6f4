// Device code of Resize (nearest on any axes, bilinear or bicubic on the last two).
#include "backends/cuda/kernels/data_movement_launch.h"
#include "backends/cuda/kernels/device_math.cuh"

namespace kiln::cuda {
namespace {

constexpr int kThreads = 256;

// ONNX's coordinate_transformation_mode: output coordinate -> input coordinate.
__device__ __forceinline__ float source_coordinate(const ResizeParams& p, int d, int64_t x) {
  const float scale = p.scales[d];
  const float out_len = static_cast<float>(p.out_dims[d]), in_len = static_cast<float>(p.in_dims[d]);
  const float xf = static_cast<float>(x);
  switch (p.coordinates) {
    case ResizeCoordinates::kHalfPixel: return (xf + 0.5f) / scale - 0.5f;
    case ResizeCoordinates::kPytorchHalfPixel: return out_len > 1 ? (xf + 0.5f) / scale - 0.5f : 0.f;
    case ResizeCoordinates::kAlignCorners: {
      // ONNX uses the unrounded resized length (input * scale) here.
      const float resized = in_len * scale;
      return resized <= 1.f ? 0.f : xf * (in_len - 1) / (resized - 1);
    }
    case ResizeCoordinates::kAsymmetric: return xf / scale;
    case ResizeCoordinates::kTfHalfPixelForNn: return (xf + 0.5f) / scale;
    case ResizeCoordinates::kHalfPixelSymmetric: {
      const float adjustment = out_len / (scale * in_len);
      const float center = in_len / 2;
      return center * (1 - adjustment) + (xf + 0.5f) / scale - 0.5f;
    }
  }
  return xf;
}

__device__ __forceinline__ int64_t nearest_index(const ResizeParams& p, int d, float x) {
  float r;
  const float f = floorf(x);
  switch (p.nearest) {
    case ResizeNearest::kRoundPreferFloor: r = (x - f == 0.5f) ? f : roundf(x); break;
    case ResizeNearest::kRoundPreferCeil: r = (x - f == 0.5f) ? f + 1 : roundf(x); break;
    case ResizeNearest::kFloor: r = f; break;
    default: r = ceilf(x); break;
  }
  int64_t i = static_cast<int64_t>(r);
  return i < 0 ? 0 : (i >= p.in_dims[d] ? p.in_dims[d] - 1 : i);
}

// Keys cubic convolution weight at distance x.
__device__ __forceinline__ float cubic_weight(float x, float a) {
  x = fabsf(x);
  if (x <= 1.f) return ((a + 2.f) * x - (a + 3.f)) * x * x + 1.f;
  if (x < 2.f) return ((a * x - 5.f * a) * x + 8.f * a) * x - 4.f * a;
  return 0.f;
}

// Four taps and weights along one axis for cubic interpolation.
__device__ __forceinline__ void cubic_taps(const ResizeParams& p, float x, int64_t n, int64_t taps[4],
                                           float weights[4]) {
  const float x0 = floorf(x);
  const float t = x - x0;
  const float distances[4] = {t + 1.f, t, 1.f - t, 2.f - t};
  float total = 0.f;
  for (int j = 0; j < 4; ++j) {
    int64_t index = static_cast<int64_t>(x0) - 1 + j;
    float w = cubic_weight(distances[j], p.cubic_a);
    if (index < 0 || index >= n) {
      if (p.exclude_outside) w = 0.f;
      index = index < 0 ? 0 : n - 1;
    }
    taps[j] = index;
    weights[j] = w;
    total += w;
  }
  if (p.exclude_outside && total != 0.f) {
    for (int j = 0; j < 4; ++j) weights[j] /= total;
  }
}

template <typename T>
__global__ void resize_kernel(const T* in, T* out, int64_t count, ResizeParams p) {
  KILN_GRID_STRIDE_LOOP(i, count) {
    int64_t coordinate[kMaxRank];
    int64_t rest = i;
    for (int d = p.rank - 1; d >= 0; --d) {
      coordinate[d] = rest % p.out_dims[d];
      rest /= p.out_dims[d];
    }
    const int spatial_begin = p.linear ? p.rank - 2 : p.rank;
    int64_t base = 0;
    for (int d = 0; d < spatial_begin; ++d) {
      int64_t c = p.linear ? coordinate[d] : nearest_index(p, d, source_coordinate(p, d, coordinate[d]));
      base = base * p.in_dims[d] + c;
    }
    if (!p.linear) {
      out[i] = in[base];
      continue;
    }
    const int h = p.rank - 2, w = p.rank - 1;
    const int64_t in_h = p.in_dims[h], in_w = p.in_dims[w];
    const float y = source_coordinate(p, h, coordinate[h]);
    const float x = source_coordinate(p, w, coordinate[w]);
    if (p.cubic) {
      int64_t rows[4], cols[4];
      float row_weights[4], col_weights[4];
      cubic_taps(p, y, in_h, rows, row_weights);
      cubic_taps(p, x, in_w, cols, col_weights);
      const T* plane = in + base * in_h * in_w;
      float acc = 0.f;
      for (int a = 0; a < 4; ++a) {
        float row = 0.f;
        for (int b = 0; b < 4; ++b) row += col_weights[b] * to_float(plane[rows[a] * in_w + cols[b]]);
        acc += row_weights[a] * row;
      }
      out[i] = from_float<T>(acc);
      continue;
    }
    auto clamp = [](int64_t v, int64_t n) { return v < 0 ? int64_t{0} : (v >= n ? n - 1 : v); };
    const int64_t y0 = static_cast<int64_t>(floorf(y)), x0 = static_cast<int64_t>(floorf(x));
    const float wy = y - static_cast<float>(y0), wx = x - static_cast<float>(x0);
    const int64_t ya = clamp(y0, in_h), yb = clamp(y0 + 1, in_h), xa = clamp(x0, in_w), xb = clamp(x0 + 1, in_w);
    const T* plane = in + base * in_h * in_w;
    const float top = to_float(plane[ya * in_w + xa]) * (1 - wx) + to_float(plane[ya * in_w + xb]) * wx;
    const float bottom = to_float(plane[yb * in_w + xa]) * (1 - wx) + to_float(plane[yb * in_w + xb]) * wx;
    out[i] = from_float<T>(top * (1 - wy) + bottom * wy);
  }
}

}  // namespace

cudaError_t launch_resize(DataType dtype, const void* in, void* out, int64_t count, const ResizeParams& params,
                          cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  auto launch = [&](auto tag) {
    using T = decltype(tag);
    resize_kernel<T><<<grid_for(count), kThreads, 0, stream>>>(static_cast<const T*>(in), static_cast<T*>(out), count,
                                                               params);
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
