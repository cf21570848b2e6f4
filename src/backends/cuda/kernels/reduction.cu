// Device code of reductions, softmax, normalisations and pooling. All
// accumulate in float whatever the storage type.
#include <cfloat>

#include "backends/cuda/kernels/device_math.cuh"
#include "backends/cuda/kernels/reduction_launch.h"

namespace kiln::cuda {
namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ float warp_sum(float v) {
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_down_sync(0xffffffffu, v, offset);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
  for (int offset = 16; offset > 0; offset >>= 1) v = fmaxf(v, __shfl_down_sync(0xffffffffu, v, offset));
  return v;
}

// Block-wide sum or max; every thread gets the result. blockDim.x is a multiple of 32.
template <bool kMax>
__device__ float block_reduce(float v) {
  __shared__ float partial[32];
  __shared__ float result;
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  v = kMax ? warp_max(v) : warp_sum(v);
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  if (warp == 0) {
    const int warps = blockDim.x / 32;
    float w = lane < warps ? partial[lane] : (kMax ? -FLT_MAX : 0.f);
    w = kMax ? warp_max(w) : warp_sum(w);
    if (lane == 0) result = w;
  }
  __syncthreads();
  float r = result;
  __syncthreads();  // partial/result may be reused by the next call
  return r;
}

__device__ __forceinline__ float reduce_init(ReduceOp op) {
  switch (op) {
    case ReduceOp::kMax: return -INFINITY;
    case ReduceOp::kMin: return INFINITY;
    case ReduceOp::kProd: return 1.f;
    default: return 0.f;
  }
}
__device__ __forceinline__ float reduce_map(ReduceOp op, float x) {
  switch (op) {
    case ReduceOp::kSumSquare:
    case ReduceOp::kL2: return x * x;
    case ReduceOp::kL1: return fabsf(x);
    default: return x;
  }
}
__device__ __forceinline__ float reduce_combine(ReduceOp op, float a, float b) {
  switch (op) {
    case ReduceOp::kMax: return fmaxf(a, b);
    case ReduceOp::kMin: return fminf(a, b);
    case ReduceOp::kProd: return a * b;
    default: return a + b;
  }
}
__device__ __forceinline__ float reduce_finish(ReduceOp op, float acc, float max_value, int64_t extent) {
  switch (op) {
    case ReduceOp::kMean: return acc / static_cast<float>(extent);
    case ReduceOp::kL2: return sqrtf(acc);
    case ReduceOp::kLogSum: return logf(acc);
    case ReduceOp::kLogSumExp: return max_value + logf(acc);
    default: return acc;
  }
}

// inner == 1: one thread per output, looping over the extent (small extents)
// or one block per row (large extents); inner > 1: one thread per output.
template <typename T>
__global__ void reduce_columns_kernel(const T* in, T* out, int64_t outer, int64_t extent, int64_t inner,
                                      ReduceOp op) {
  KILN_GRID_STRIDE_LOOP(index, outer * inner) {
    const int64_t o = index / inner, i = index % inner;
    const T* base = in + o * extent * inner + i;
    float max_value = 0.f;
    if (op == ReduceOp::kLogSumExp) {
      max_value = -INFINITY;
      for (int64_t e = 0; e < extent; ++e) max_value = fmaxf(max_value, to_float(base[e * inner]));
      if (isinf(max_value)) max_value = 0.f;
    }
    float acc = reduce_init(op);
    for (int64_t e = 0; e < extent; ++e) {
      float x = to_float(base[e * inner]);
      x = op == ReduceOp::kLogSumExp ? expf(x - max_value) : reduce_map(op, x);
      acc = reduce_combine(op, acc, x);
    }
    out[index] = from_float<T>(reduce_finish(op, acc, max_value, extent));
  }
}

template <typename T>
__global__ void reduce_rows_kernel(const T* in, T* out, int64_t extent, ReduceOp op) {
  const T* row = in + blockIdx.x * extent;
  float max_value = 0.f;
  if (op == ReduceOp::kLogSumExp) {
    float m = -INFINITY;
    for (int64_t e = threadIdx.x; e < extent; e += blockDim.x) m = fmaxf(m, to_float(row[e]));
    max_value = block_reduce<true>(m);
    if (isinf(max_value)) max_value = 0.f;
  }
  float acc = reduce_init(op);
  for (int64_t e = threadIdx.x; e < extent; e += blockDim.x) {
    float x = to_float(row[e]);
    x = op == ReduceOp::kLogSumExp ? expf(x - max_value) : reduce_map(op, x);
    acc = reduce_combine(op, acc, x);
  }
  // Combine across the block with shared memory (ops other than sum and max too).
  __shared__ float partial[kThreads];
  partial[threadIdx.x] = acc;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride >>= 1) {
    if (threadIdx.x < stride) partial[threadIdx.x] = reduce_combine(op, partial[threadIdx.x], partial[threadIdx.x + stride]);
    __syncthreads();
  }
  if (threadIdx.x == 0) out[blockIdx.x] = from_float<T>(reduce_finish(op, partial[0], max_value, extent));
}

template <typename T>
__global__ void arg_reduce_kernel(const T* in, int64_t* out, int64_t outer, int64_t extent, int64_t inner,
                                  bool is_max, bool select_last) {
  KILN_GRID_STRIDE_LOOP(index, outer * inner) {
    const int64_t o = index / inner, i = index % inner;
    const T* base = in + o * extent * inner + i;
    float best = to_float(base[0]);
    int64_t best_index = 0;
    for (int64_t e = 1; e < extent; ++e) {
      float x = to_float(base[e * inner]);
      bool better = is_max ? (select_last ? x >= best : x > best) : (select_last ? x <= best : x < best);
      if (better) {
        best = x;
        best_index = e;
      }
    }
    out[index] = best_index;
  }
}

template <typename T>
__global__ void hardmax_kernel(const T* in, T* out, int64_t outer, int64_t extent, int64_t inner) {
  KILN_GRID_STRIDE_LOOP(index, outer * inner) {
    const int64_t o = index / inner, i = index % inner;
    const int64_t base = o * extent * inner + i;
    float best = to_float(in[base]);
    int64_t best_index = 0;
    for (int64_t e = 1; e < extent; ++e) {
      float x = to_float(in[base + e * inner]);
      if (x > best) {
        best = x;
        best_index = e;
      }
    }
    for (int64_t e = 0; e < extent; ++e) out[base + e * inner] = from_float<T>(e == best_index ? 1.f : 0.f);
  }
}

template <typename T>
__global__ void softmax_rows_kernel(const T* in, T* out, int64_t extent, bool log) {
  const T* row = in + blockIdx.x * extent;
  T* out_row = out + blockIdx.x * extent;
  float m = -INFINITY;
  for (int64_t e = threadIdx.x; e < extent; e += blockDim.x) m = fmaxf(m, to_float(row[e]));
  m = block_reduce<true>(m);
  float s = 0.f;
  for (int64_t e = threadIdx.x; e < extent; e += blockDim.x) s += expf(to_float(row[e]) - m);
  s = block_reduce<false>(s);
  const float log_s = logf(s);
  for (int64_t e = threadIdx.x; e < extent; e += blockDim.x) {
    float x = to_float(row[e]) - m;
    out_row[e] = from_float<T>(log ? x - log_s : expf(x) / s);
  }
}

template <typename T>
__global__ void softmax_columns_kernel(const T* in, T* out, int64_t outer, int64_t extent, int64_t inner, bool log) {
  KILN_GRID_STRIDE_LOOP(index, outer * inner) {
    const int64_t o = index / inner, i = index % inner;
    const int64_t base = o * extent * inner + i;
    float m = -INFINITY;
    for (int64_t e = 0; e < extent; ++e) m = fmaxf(m, to_float(in[base + e * inner]));
    float s = 0.f;
    for (int64_t e = 0; e < extent; ++e) s += expf(to_float(in[base + e * inner]) - m);
    const float log_s = logf(s);
    for (int64_t e = 0; e < extent; ++e) {
      float x = to_float(in[base + e * inner]) - m;
      out[base + e * inner] = from_float<T>(log ? x - log_s : expf(x) / s);
    }
  }
}

template <typename T>
__global__ void row_normalize_kernel(const T* in, T* out, const T* scale, const T* bias, float* mean_out,
                                     float* inv_std_out, int64_t extent, int64_t channels, float epsilon) {
  const int64_t r = blockIdx.x;
  const T* row = in + r * extent;
  T* out_row = out + r * extent;
  float s = 0.f;
  for (int64_t e = threadIdx.x; e < extent; e += blockDim.x) s += to_float(row[e]);
  const float mean = block_reduce<false>(s) / static_cast<float>(extent);
  float v = 0.f;
  for (int64_t e = threadIdx.x; e < extent; e += blockDim.x) {
    float d = to_float(row[e]) - mean;
    v += d * d;
  }
  const float inv_std = rsqrtf(block_reduce<false>(v) / static_cast<float>(extent) + epsilon);
  if (threadIdx.x == 0) {
    if (mean_out) mean_out[r] = mean;
    if (inv_std_out) inv_std_out[r] = inv_std;
  }
  for (int64_t e = threadIdx.x; e < extent; e += blockDim.x) {
    const int64_t p = channels > 0 ? r % channels : e;
    float y = (to_float(row[e]) - mean) * inv_std * to_float(scale[p]);
    if (bias) y += to_float(bias[p]);
    out_row[e] = from_float<T>(y);
  }
}

template <typename T>
__global__ void lrn_kernel(const T* in, T* out, int64_t count, int64_t channels, int64_t inner, int64_t size,
                           float alpha, float beta, float bias) {
  KILN_GRID_STRIDE_LOOP(i, count) {
    const int64_t c = (i / inner) % channels;
    const int64_t first = max(int64_t{0}, c - (size - 1) / 2);
    const int64_t last = min(channels - 1, c + size / 2);
    const int64_t channel0 = i - c * inner;
    float square_sum = 0.f;
    for (int64_t k = first; k <= last; ++k) {
      const float v = to_float(in[channel0 + k * inner]);
      square_sum += v * v;
    }
    out[i] = from_float<T>(to_float(in[i]) / powf(bias + alpha / static_cast<float>(size) * square_sum, beta));
  }
}

template <typename T>
__global__ void batch_norm_kernel(const T* in, T* out, const T* scale, const T* bias, const T* mean,
                                  const T* variance, int64_t count, int64_t channels, int64_t inner, float epsilon) {
  KILN_GRID_STRIDE_LOOP(i, count) {
    const int64_t c = (i / inner) % channels;
    float y = (to_float(in[i]) - to_float(mean[c])) * rsqrtf(to_float(variance[c]) + epsilon);
    out[i] = from_float<T>(y * to_float(scale[c]) + to_float(bias[c]));
  }
}

// One pooling window over a [depth, height, width] volume whose neighbouring
// elements along width are `stride` apart (1 for NCHW, C for channels-last).
// Returns the max or average; `best` gets the flat spatial offset of the max.
template <typename T>
__device__ float pool_window(const T* volume, const PoolParams& p, int64_t stride, int64_t od, int64_t oh,
                             int64_t ow, int64_t* best) {
  const int64_t d0 = od * p.stride_d - p.pad_front;
  const int64_t h0 = oh * p.stride_h - p.pad_top, w0 = ow * p.stride_w - p.pad_left;
  float acc = p.is_max ? -INFINITY : 0.f;
  int64_t valid = 0;
  for (int64_t kd = 0; kd < p.kernel_d; ++kd) {
    const int64_t dd = d0 + kd * p.dilation_d;
    if (dd < 0 || dd >= p.in_d) continue;
    for (int64_t kh = 0; kh < p.kernel_h; ++kh) {
      const int64_t h = h0 + kh * p.dilation_h;
      if (h < 0 || h >= p.in_h) continue;
      for (int64_t kw = 0; kw < p.kernel_w; ++kw) {
        const int64_t w = w0 + kw * p.dilation_w;
        if (w < 0 || w >= p.in_w) continue;
        const float x = to_float(volume[((dd * p.in_h + h) * p.in_w + w) * stride]);
        if (p.is_max && (valid == 0 || x > acc)) {
          *best = p.column_major_indices ? (w * p.in_h + h) * p.in_d + dd : (dd * p.in_h + h) * p.in_w + w;
        }
        acc = p.is_max ? fmaxf(acc, x) : acc + x;
        ++valid;
      }
    }
  }
  if (!p.is_max) {
    int64_t divisor = valid;
    if (p.count_include_pad) {
      // The window clipped to the padded input (ceil_mode windows may overhang it).
      const int64_t d_end = min(d0 + p.kernel_d, p.in_d + p.pad_back);
      const int64_t h_end = min(h0 + p.kernel_h, p.in_h + p.pad_bottom);
      const int64_t w_end = min(w0 + p.kernel_w, p.in_w + p.pad_right);
      divisor = (d_end - d0) * (h_end - h0) * (w_end - w0);
    }
    acc = divisor > 0 ? acc / static_cast<float>(divisor) : 0.f;
  }
  return acc;
}

template <typename T>
__global__ void pool2d_kernel(const T* in, T* out, PoolParams p, int64_t* indices) {
  KILN_GRID_STRIDE_LOOP(index, p.batch_channels * p.out_d * p.out_h * p.out_w) {
    const int64_t ow = index % p.out_w;
    const int64_t oh = (index / p.out_w) % p.out_h;
    const int64_t od = (index / (p.out_w * p.out_h)) % p.out_d;
    const int64_t nc = index / (p.out_w * p.out_h * p.out_d);
    const T* volume = in + nc * p.in_d * p.in_h * p.in_w;
    int64_t best = 0;
    out[index] = from_float<T>(pool_window(volume, p, 1, od, oh, ow, &best));
    if (indices) indices[index] = nc * p.in_d * p.in_h * p.in_w + best;
  }
}

template <typename Fn>
bool dispatch_float(DataType dtype, Fn&& fn) {
  switch (dtype) {
    case DataType::kFloat32: fn(float{}); return true;
    case DataType::kFloat16: fn(__half{}); return true;
    case DataType::kBFloat16: fn(__nv_bfloat16{}); return true;
    case DataType::kFloat64: fn(double{}); return true;  // accumulates in float
    default: return false;
  }
}

unsigned grid_rows(int64_t rows) { return static_cast<unsigned>(rows); }

}  // namespace

cudaError_t launch_reduce(DataType dtype, ReduceOp op, const void* in, void* out, int64_t outer, int64_t extent,
                          int64_t inner, cudaStream_t stream) {
  if (outer * inner == 0) return cudaSuccess;
  bool handled = dispatch_float(dtype, [&](auto tag) {
    using T = decltype(tag);
    if (inner == 1 && extent >= 64 && outer < 2147483647) {
      reduce_rows_kernel<T><<<grid_rows(outer), kThreads, 0, stream>>>(static_cast<const T*>(in),
                                                                       static_cast<T*>(out), extent, op);
    } else {
      reduce_columns_kernel<T><<<grid_for(outer * inner), kThreads, 0, stream>>>(
          static_cast<const T*>(in), static_cast<T*>(out), outer, extent, inner, op);
    }
  });
  return handled ? cudaGetLastError() : cudaErrorInvalidValue;
}

cudaError_t launch_arg_reduce(DataType dtype, bool is_max, bool select_last, const void* in, int64_t* out,
                              int64_t outer, int64_t extent, int64_t inner, cudaStream_t stream) {
  if (outer * inner == 0) return cudaSuccess;
  bool handled = dispatch_float(dtype, [&](auto tag) {
    using T = decltype(tag);
    arg_reduce_kernel<T><<<grid_for(outer * inner), kThreads, 0, stream>>>(static_cast<const T*>(in), out, outer,
                                                                           extent, inner, is_max, select_last);
  });
  return handled ? cudaGetLastError() : cudaErrorInvalidValue;
}

cudaError_t launch_hardmax(DataType dtype, const void* in, void* out, int64_t outer, int64_t extent, int64_t inner,
                           cudaStream_t stream) {
  if (outer * inner * extent == 0) return cudaSuccess;
  bool handled = dispatch_float(dtype, [&](auto tag) {
    using T = decltype(tag);
    hardmax_kernel<T><<<grid_for(outer * inner), kThreads, 0, stream>>>(static_cast<const T*>(in),
                                                                        static_cast<T*>(out), outer, extent, inner);
  });
  return handled ? cudaGetLastError() : cudaErrorInvalidValue;
}

cudaError_t launch_softmax(DataType dtype, bool log, const void* in, void* out, int64_t outer, int64_t extent,
                           int64_t inner, cudaStream_t stream) {
  if (outer * inner * extent == 0) return cudaSuccess;
  bool handled = dispatch_float(dtype, [&](auto tag) {
    using T = decltype(tag);
    if (inner == 1 && outer < 2147483647) {
      softmax_rows_kernel<T><<<grid_rows(outer), kThreads, 0, stream>>>(static_cast<const T*>(in),
                                                                        static_cast<T*>(out), extent, log);
    } else {
      softmax_columns_kernel<T><<<grid_for(outer * inner), kThreads, 0, stream>>>(
          static_cast<const T*>(in), static_cast<T*>(out), outer, extent, inner, log);
    }
  });
  return handled ? cudaGetLastError() : cudaErrorInvalidValue;
}

cudaError_t launch_row_normalize(DataType dtype, const void* in, void* out, const void* scale, const void* bias,
                                 float* mean, float* inv_std, int64_t rows, int64_t extent, int64_t channels,
                                 float epsilon, cudaStream_t stream) {
  if (rows == 0 || extent == 0) return cudaSuccess;
  if (rows >= 2147483647) return cudaErrorInvalidValue;
  bool handled = dispatch_float(dtype, [&](auto tag) {
    using T = decltype(tag);
    row_normalize_kernel<T><<<grid_rows(rows), kThreads, 0, stream>>>(
        static_cast<const T*>(in), static_cast<T*>(out), static_cast<const T*>(scale), static_cast<const T*>(bias),
        mean, inv_std, extent, channels, epsilon);
  });
  return handled ? cudaGetLastError() : cudaErrorInvalidValue;
}

cudaError_t launch_lrn(DataType dtype, const void* in, void* out, int64_t count, int64_t channels, int64_t inner,
                       int64_t size, float alpha, float beta, float bias, cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  bool handled = dispatch_float(dtype, [&](auto tag) {
    using T = decltype(tag);
    lrn_kernel<T><<<grid_for(count), kThreads, 0, stream>>>(static_cast<const T*>(in), static_cast<T*>(out), count,
                                                            channels, inner, size, alpha, beta, bias);
  });
  return handled ? cudaGetLastError() : cudaErrorInvalidValue;
}

cudaError_t launch_batch_norm(DataType dtype, const void* in, void* out, const void* scale, const void* bias,
                              const void* mean, const void* variance, int64_t count, int64_t channels,
                              int64_t inner, float epsilon, cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  bool handled = dispatch_float(dtype, [&](auto tag) {
    using T = decltype(tag);
    batch_norm_kernel<T><<<grid_for(count), kThreads, 0, stream>>>(
        static_cast<const T*>(in), static_cast<T*>(out), static_cast<const T*>(scale), static_cast<const T*>(bias),
        static_cast<const T*>(mean), static_cast<const T*>(variance), count, channels, inner < 1 ? 1 : inner,
        epsilon);
  });
  return handled ? cudaGetLastError() : cudaErrorInvalidValue;
}

cudaError_t launch_pool2d(DataType dtype, const void* in, void* out, const PoolParams& params, cudaStream_t stream,
                          int64_t* indices) {
  if (params.channels_last) return launch_pool2d_channels_last(dtype, in, out, params, stream);
  const int64_t count = params.batch_channels * params.out_d * params.out_h * params.out_w;
  if (count == 0) return cudaSuccess;
  bool handled = dispatch_float(dtype, [&](auto tag) {
    using T = decltype(tag);
    pool2d_kernel<T><<<grid_for(count), kThreads, 0, stream>>>(static_cast<const T*>(in), static_cast<T*>(out),
                                                               params, indices);
  });
  return handled ? cudaGetLastError() : cudaErrorInvalidValue;
}

}  // namespace kiln::cuda
