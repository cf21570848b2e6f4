// Device code of reductions, softmax, normalisations and pooling. All
// accumulate in float whatever the storage type.
#include <cfloat>

#include "backends/cuda/kernels/device_math.cuh"
#include "backends/cuda/kernels/fast_index.cuh"
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

// Sum or max over each aligned group of kLanes lanes; every lane gets its group's result.
template <int kLanes = 32>
__device__ __forceinline__ float warp_all_sum(float v) {
  for (int offset = kLanes / 2; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}
template <int kLanes = 32>
__device__ __forceinline__ float warp_all_max(float v) {
  for (int offset = kLanes / 2; offset > 0; offset >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
  return v;
}

// Rows of at most 32 * kPacks * V elements: one warp per row, read once into
// registers as V-element packs (extent a multiple of V, rows aligned).
constexpr int kWarpRowThreads = 128;

// An additive mask (kiln.MaskedSoftmax) is read at mask_rows' offset of the
// row, contiguous along the row or one value for the whole row.
struct SoftmaxMask {
  const void* data = nullptr;
  FastIndex rows;
  bool contiguous = true;
  bool nan_to_zero = false;
};

// Short rows (one pack per lane fills fewer than 32 lanes) share a warp:
// kLanes lanes per row, so that each warp keeps 32 loads in flight.
template <typename T, int V, int kPacks, int kLanes>
__global__ void softmax_warp_kernel(const T* in, T* out, uint32_t rows, uint32_t extent, bool log, SoftmaxMask mask) {
  constexpr uint32_t kRowsPerWarp = 32 / kLanes;
  const uint32_t row =
      (blockIdx.x * (kWarpRowThreads / 32) + threadIdx.x / 32) * kRowsPerWarp + threadIdx.x % 32 / kLanes;
  const uint32_t lane = threadIdx.x % kLanes;
  // Lanes past the last row compute nothing but still join the shuffles.
  const bool valid = row < rows;
  const size_t base = static_cast<size_t>(valid ? row : 0) * extent;
  const T* source = in + base;
  T* target = out + base;
  const T* mask_data = static_cast<const T*>(mask.data);
  uint32_t mask_offset[1] = {0};
  if (mask_data) fast_offsets(mask.rows, valid ? row : 0, mask_offset);
  float x[kPacks][V];
  float m = -INFINITY;
#pragma unroll
  for (int p = 0; p < kPacks; ++p) {
    const uint32_t e = (p * kLanes + lane) * V;
    if (valid && e < extent) {
      const Pack<T, V> v = load_pack<V>(source, e, true);
      Pack<T, V> b;
      if (mask_data) b = load_pack<V>(mask_data, mask_offset[0] + (mask.contiguous ? e : 0), mask.contiguous);
#pragma unroll
      for (int j = 0; j < V; ++j) {
        x[p][j] = to_float(v.v[j]);
        if (mask_data) x[p][j] = round_to<T>(x[p][j] + to_float(b.v[j]));  // the Add's result, in T
        m = fmaxf(m, x[p][j]);
      }
    }
  }
  m = warp_all_max<kLanes>(m);
  float s = 0.f;
#pragma unroll
  for (int p = 0; p < kPacks; ++p) {
    if (valid && (p * kLanes + lane) * V < extent) {
#pragma unroll
      for (int j = 0; j < V; ++j) {
        x[p][j] -= m;
        s += expf(x[p][j]);
      }
    }
  }
  s = warp_all_sum<kLanes>(s);
  const float log_s = logf(s), inverse = 1.f / s;
#pragma unroll
  for (int p = 0; p < kPacks; ++p) {
    const uint32_t e = (p * kLanes + lane) * V;
    if (valid && e < extent) {
      Pack<T, V> r;
#pragma unroll
      for (int j = 0; j < V; ++j) {
        float y = log ? x[p][j] - log_s : expf(x[p][j]) * inverse;
        if (mask.nan_to_zero && isnan(y)) y = 0.f;
        r.v[j] = from_float<T>(y);
      }
      store_pack<V>(target, e, r);
    }
  }
}

// LayerNormalization rows (scale and bias along the row) the same way; mean
// and variance from the registers in two passes.
template <typename T, int V, int kPacks>
__global__ void layer_norm_warp_kernel(const T* in, T* out, const T* scale, const T* bias, float* mean_out,
                                       float* inv_std_out, uint32_t rows, uint32_t extent, float epsilon) {
  const uint32_t row = blockIdx.x * (kWarpRowThreads / 32) + threadIdx.x / 32;
  const uint32_t lane = threadIdx.x % 32;
  if (row >= rows) return;
  const T* source = in + static_cast<size_t>(row) * extent;
  T* target = out + static_cast<size_t>(row) * extent;
  float x[kPacks][V];
  float s = 0.f;
#pragma unroll
  for (int p = 0; p < kPacks; ++p) {
    const uint32_t e = (p * 32 + lane) * V;
    if (e < extent) {
      const Pack<T, V> v = load_pack<V>(source, e, true);
#pragma unroll
      for (int j = 0; j < V; ++j) {
        x[p][j] = to_float(v.v[j]);
        s += x[p][j];
      }
    }
  }
  const float mean = warp_all_sum(s) / static_cast<float>(extent);
  float q = 0.f;
#pragma unroll
  for (int p = 0; p < kPacks; ++p) {
    if ((p * 32 + lane) * V < extent) {
#pragma unroll
      for (int j = 0; j < V; ++j) {
        x[p][j] -= mean;
        q += x[p][j] * x[p][j];
      }
    }
  }
  const float inv_std = rsqrtf(warp_all_sum(q) / static_cast<float>(extent) + epsilon);
  if (lane == 0) {
    if (mean_out) mean_out[row] = mean;
    if (inv_std_out) inv_std_out[row] = inv_std;
  }
#pragma unroll
  for (int p = 0; p < kPacks; ++p) {
    const uint32_t e = (p * 32 + lane) * V;
    if (e < extent) {
      const Pack<T, V> g = load_pack<V>(scale, e, true);
      Pack<T, V> b;
      if (bias) b = load_pack<V>(bias, e, true);
      Pack<T, V> r;
#pragma unroll
      for (int j = 0; j < V; ++j) {
        float y = x[p][j] * inv_std * to_float(g.v[j]);
        if (bias) y += to_float(b.v[j]);
        r.v[j] = from_float<T>(y);
      }
      store_pack<V>(target, e, r);
    }
  }
}

// kiln.MaskedSoftmax rows too long for one warp: one block per row.
template <typename T>
__global__ void masked_softmax_rows_kernel(const T* in, const T* mask, T* out, int64_t extent, StridedIndex mask_rows,
                                           int64_t mask_column_stride, bool nan_to_zero) {
  const T* row = in + blockIdx.x * extent;
  T* out_row = out + blockIdx.x * extent;
  const T* mask_row = mask ? mask + strided_offset(mask_rows, 0, blockIdx.x) : nullptr;
  auto value = [&](int64_t e) {
    return mask_row ? round_to<T>(to_float(row[e]) + to_float(mask_row[e * mask_column_stride])) : to_float(row[e]);
  };
  float m = -INFINITY;
  for (int64_t e = threadIdx.x; e < extent; e += blockDim.x) m = fmaxf(m, value(e));
  m = block_reduce<true>(m);
  float s = 0.f;
  for (int64_t e = threadIdx.x; e < extent; e += blockDim.x) s += expf(value(e) - m);
  s = block_reduce<false>(s);
  for (int64_t e = threadIdx.x; e < extent; e += blockDim.x) {
    float y = expf(value(e) - m) / s;
    if (nan_to_zero && isnan(y)) y = 0.f;
    out_row[e] = from_float<T>(y);
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


// Calls fn(V, kPacks) (as integral constants) for the warp-per-row kernels:
// V = 16-byte packs when the extent and every pointer allow, else 1; kPacks
// the power of two that covers the row. False when the row is too long for
// registers (more than 32 elements per lane) or the count too large.
template <typename T, typename Fn>
bool dispatch_warp_rows(int64_t rows, int64_t extent, std::initializer_list<const void*> pointers, Fn&& fn,
                        bool packs_allowed = true) {
  if (rows >= (int64_t{1} << 31) || extent > 1024 || extent < 1) return false;
  constexpr int W = kPackWidth<T>;
  bool vector = packs_allowed && extent % W == 0;
  for (const void* p : pointers) vector &= p == nullptr || is_aligned(p, sizeof(T) * W);
  auto with_width = [&](auto width) {
    constexpr int V = decltype(width)::value;
    const int64_t packs = (extent + 32 * V - 1) / (32 * V);
    auto run = [&](auto packs_tag) {
      constexpr int P = decltype(packs_tag)::value;
      if constexpr (P * V <= 32) {
        fn(width, packs_tag);
        return true;
      }
      return false;
    };
    if (packs <= 1) return run(std::integral_constant<int, 1>{});
    if (packs <= 2) return run(std::integral_constant<int, 2>{});
    if (packs <= 4) return run(std::integral_constant<int, 4>{});
    if (packs <= 8) return run(std::integral_constant<int, 8>{});
    if (packs <= 16) return run(std::integral_constant<int, 16>{});
    return run(std::integral_constant<int, 32>{});
  };
  if (vector && W > 1) return with_width(std::integral_constant<int, W>{});
  return with_width(std::integral_constant<int, 1>{});
}

unsigned warp_row_blocks(int64_t rows, int rows_per_warp = 1) {
  const int64_t per_block = kWarpRowThreads / 32 * rows_per_warp;
  return static_cast<unsigned>((rows + per_block - 1) / per_block);
}

// softmax_warp_kernel with as few lanes per row as one pack each needs (8, 16 or 32).
template <typename T, int V, int P>
void launch_softmax_warp(const void* in, void* out, int64_t rows, int64_t extent, bool log, const SoftmaxMask& mask,
                         cudaStream_t stream) {
  auto launch = [&](auto lanes_tag) {
    constexpr int kLanes = decltype(lanes_tag)::value;
    softmax_warp_kernel<T, V, P, kLanes><<<warp_row_blocks(rows, 32 / kLanes), kWarpRowThreads, 0, stream>>>(
        static_cast<const T*>(in), static_cast<T*>(out), static_cast<uint32_t>(rows), static_cast<uint32_t>(extent),
        log, mask);
  };
  if (P == 1 && extent <= 8 * V) launch(std::integral_constant<int, 8>{});
  else if (P == 1 && extent <= 16 * V) launch(std::integral_constant<int, 16>{});
  else launch(std::integral_constant<int, 32>{});
}

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
    if (inner == 1 && dispatch_warp_rows<T>(outer, extent, {in, out}, [&](auto width, auto packs) {
          constexpr int V = decltype(width)::value, P = decltype(packs)::value;
          launch_softmax_warp<T, V, P>(in, out, outer, extent, log, SoftmaxMask{}, stream);
        })) {
      return;
    }
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

cudaError_t launch_masked_softmax(DataType dtype, const void* in, const void* mask, void* out, int64_t rows,
                                  int64_t extent, const StridedIndex& mask_rows, int64_t mask_column_stride,
                                  bool nan_to_zero, cudaStream_t stream) {
  if (rows * extent == 0) return cudaSuccess;
  if (rows >= 2147483647) return cudaErrorInvalidValue;
  SoftmaxMask fast_mask;
  fast_mask.data = mask;
  fast_mask.contiguous = mask_column_stride != 0;
  fast_mask.nan_to_zero = nan_to_zero;
  bool fast = !mask || make_fast_index(collapse_index(mask_rows, 1), 1, &fast_mask.rows);
  bool handled = dispatch_float(dtype, [&](auto tag) {
    using T = decltype(tag);
    constexpr int W = kPackWidth<T>;
    // Packs of the mask must be aligned too: its pointer and every row offset.
    const void* mask_pointer = nullptr;
    bool mask_allows_packs = true;
    if (mask && fast_mask.contiguous) {
      mask_pointer = mask;
      for (int d = 0; d < fast_mask.rows.rank; ++d) mask_allows_packs &= fast_mask.rows.strides[0][d] % W == 0;
      mask_allows_packs &= fast_mask.rows.offsets[0] % W == 0;
    }
    if (fast && dispatch_warp_rows<T>(
                    rows, extent, {in, out, mask_pointer},
                    [&](auto width, auto packs) {
                      constexpr int V = decltype(width)::value, P = decltype(packs)::value;
                      launch_softmax_warp<T, V, P>(in, out, rows, extent, false, fast_mask, stream);
                    },
                    mask_allows_packs)) {
      return;
    }
    masked_softmax_rows_kernel<T><<<grid_rows(rows), kThreads, 0, stream>>>(
        static_cast<const T*>(in), static_cast<const T*>(mask), static_cast<T*>(out), extent, mask_rows,
        mask_column_stride, nan_to_zero);
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
    // Layer normalisation (scale along the row) of short rows: one warp per row.
    if (channels == 0 && dispatch_warp_rows<T>(rows, extent, {in, out, scale, bias}, [&](auto width, auto packs) {
          constexpr int V = decltype(width)::value, P = decltype(packs)::value;
          layer_norm_warp_kernel<T, V, P><<<warp_row_blocks(rows), kWarpRowThreads, 0, stream>>>(
              static_cast<const T*>(in), static_cast<T*>(out), static_cast<const T*>(scale),
              static_cast<const T*>(bias), mean, inv_std, static_cast<uint32_t>(rows), static_cast<uint32_t>(extent),
              epsilon);
        })) {
      return;
    }
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
