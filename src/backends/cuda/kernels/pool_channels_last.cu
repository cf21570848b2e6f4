// Device code of 2-D pooling on channels-last [N, H, W, C] storage. Each thread
// owns V neighbouring channels of one output pixel and reads them as one vector
// (16 bytes when C allows), so a warp's window step is a few fully used memory
// transactions; index arithmetic is done once per V outputs, in 32 bits where
// the tensor is small enough.
#include <cstdint>
#include <type_traits>

#include "backends/cuda/kernels/device_math.cuh"
#include "backends/cuda/kernels/fast_index.cuh"
#include "backends/cuda/kernels/reduction_launch.h"

namespace kiln::cuda {
namespace {

constexpr int kThreads = 256;

// Window geometry in the narrowest integer type the launch allows.
template <typename Index>
struct Geometry {
  Index in_h, in_w, out_h, out_w, vectors_per_pixel;
  int kernel_h, kernel_w, stride_h, stride_w, pad_top, pad_left, dilation_h, dilation_w;
  Index padded_h_end, padded_w_end;  // in + bottom/right padding: where count_include_pad windows are clipped
};

template <typename T, int V, typename Index>
__global__ void pool2d_nhwc_kernel(const Pack<T, V>* in, Pack<T, V>* out, Geometry<Index> g, Index total,
                                   bool is_max, bool count_include_pad) {
  for (Index index = blockIdx.x * static_cast<Index>(blockDim.x) + threadIdx.x; index < total;
       index += static_cast<Index>(blockDim.x) * gridDim.x) {
    const Index vector = index % g.vectors_per_pixel;
    Index pixel = index / g.vectors_per_pixel;
    const Index ow = pixel % g.out_w;
    pixel /= g.out_w;
    const Index oh = pixel % g.out_h;
    const Index n = pixel / g.out_h;
    const Pack<T, V>* image = in + n * g.in_h * g.in_w * g.vectors_per_pixel + vector;
    const int64_t h0 = static_cast<int64_t>(oh) * g.stride_h - g.pad_top;
    const int64_t w0 = static_cast<int64_t>(ow) * g.stride_w - g.pad_left;

    float acc[V];
#pragma unroll
    for (int v = 0; v < V; ++v) acc[v] = is_max ? -INFINITY : 0.f;
    int valid = 0;
    for (int kh = 0; kh < g.kernel_h; ++kh) {
      const int64_t h = h0 + static_cast<int64_t>(kh) * g.dilation_h;
      if (h < 0 || h >= static_cast<int64_t>(g.in_h)) continue;
      for (int kw = 0; kw < g.kernel_w; ++kw) {
        const int64_t w = w0 + static_cast<int64_t>(kw) * g.dilation_w;
        if (w < 0 || w >= static_cast<int64_t>(g.in_w)) continue;
        const Pack<T, V> x = image[(static_cast<Index>(h) * g.in_w + static_cast<Index>(w)) * g.vectors_per_pixel];
#pragma unroll
        for (int v = 0; v < V; ++v) {
          const float value = to_float(x.v[v]);
          acc[v] = is_max ? fmaxf(acc[v], value) : acc[v] + value;
        }
        ++valid;
      }
    }
    if (!is_max) {
      int64_t divisor = valid;
      if (count_include_pad) {
        const int64_t h_end = min(h0 + static_cast<int64_t>(g.kernel_h), static_cast<int64_t>(g.padded_h_end));
        const int64_t w_end = min(w0 + static_cast<int64_t>(g.kernel_w), static_cast<int64_t>(g.padded_w_end));
        divisor = (h_end - h0) * (w_end - w0);
      }
      const float scale = divisor > 0 ? 1.f / static_cast<float>(divisor) : 0.f;
#pragma unroll
      for (int v = 0; v < V; ++v) acc[v] *= scale;
    }
    Pack<T, V> y;
#pragma unroll
    for (int v = 0; v < V; ++v) y.v[v] = from_float<T>(acc[v]);
    out[index] = y;
  }
}

template <typename T, int V, typename Index>
void launch(const void* in, void* out, const PoolParams& p, cudaStream_t stream) {
  Geometry<Index> g;
  g.in_h = static_cast<Index>(p.in_h);
  g.in_w = static_cast<Index>(p.in_w);
  g.out_h = static_cast<Index>(p.out_h);
  g.out_w = static_cast<Index>(p.out_w);
  g.vectors_per_pixel = static_cast<Index>(p.channels / V);
  g.kernel_h = static_cast<int>(p.kernel_h);
  g.kernel_w = static_cast<int>(p.kernel_w);
  g.stride_h = static_cast<int>(p.stride_h);
  g.stride_w = static_cast<int>(p.stride_w);
  g.pad_top = static_cast<int>(p.pad_top);
  g.pad_left = static_cast<int>(p.pad_left);
  g.dilation_h = static_cast<int>(p.dilation_h);
  g.dilation_w = static_cast<int>(p.dilation_w);
  g.padded_h_end = static_cast<Index>(p.in_h + p.pad_bottom);
  g.padded_w_end = static_cast<Index>(p.in_w + p.pad_right);
  const int64_t batch = p.batch_channels / p.channels;
  const Index total = static_cast<Index>(batch * p.out_h * p.out_w * (p.channels / V));
  pool2d_nhwc_kernel<T, V, Index><<<grid_for(static_cast<int64_t>(total)), kThreads, 0, stream>>>(
      static_cast<const Pack<T, V>*>(in), static_cast<Pack<T, V>*>(out), g, total, p.is_max,
      p.count_include_pad);
}

// Picks the widest vector the channel count and both pointers allow, and 32-bit
// indices when every offset (input or output, in vectors) fits them.
template <typename T>
void launch_widest(const void* in, void* out, const PoolParams& p, cudaStream_t stream) {
  const int64_t batch = p.batch_channels / p.channels;
  const bool small = batch * p.in_h * p.in_w * p.channels < (int64_t{1} << 31) &&
                     batch * p.out_h * p.out_w * p.channels < (int64_t{1} << 31);
  auto with_width = [&](auto width) {
    constexpr int V = decltype(width)::value;
    if (small) {
      launch<T, V, uint32_t>(in, out, p, stream);
    } else {
      launch<T, V, int64_t>(in, out, p, stream);
    }
  };
  constexpr int kWide = 16 / sizeof(T);
  if (p.channels % kWide == 0 && is_aligned(in, 16) && is_aligned(out, 16)) {
    with_width(std::integral_constant<int, kWide>{});
  } else if (p.channels % 2 == 0 && is_aligned(in, 2 * sizeof(T)) && is_aligned(out, 2 * sizeof(T))) {
    with_width(std::integral_constant<int, 2>{});
  } else {
    with_width(std::integral_constant<int, 1>{});
  }
}

}  // namespace

cudaError_t launch_pool2d_channels_last(DataType dtype, const void* in, void* out, const PoolParams& params,
                                        cudaStream_t stream) {
  if (params.in_d != 1 || params.out_d != 1 || params.kernel_d != 1 || params.channels <= 0) {
    return cudaErrorInvalidValue;
  }
  if (params.batch_channels * params.out_h * params.out_w == 0) return cudaSuccess;
  switch (dtype) {
    case DataType::kFloat32: launch_widest<float>(in, out, params, stream); break;
    case DataType::kFloat16: launch_widest<__half>(in, out, params, stream); break;
    case DataType::kBFloat16: launch_widest<__nv_bfloat16>(in, out, params, stream); break;
    case DataType::kFloat64: launch_widest<double>(in, out, params, stream); break;
    default: return cudaErrorInvalidValue;
  }
  return cudaGetLastError();
}

}  // namespace kiln::cuda
