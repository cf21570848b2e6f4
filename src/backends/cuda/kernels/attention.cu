// Device code of kiln.Attention.
//
// Tensor-core kernel (float16/bfloat16, head size D in {32, 64, 128}): a block
// of W warps (4, or 8 above 64 queries) takes 16 W queries of one (batch,
// head); each warp keeps its 16 queries' Q fragments in registers and walks
// the keys in tiles of 64. Tiles of K and V (and of a per-query mask) come
// into shared memory through cp.async, the next tile loading while this one
// computes, and reach the tensor cores through ldmatrix (V transposed on the
// way). S = Q K^T comes out of mma.m16n8k16 in the accumulator layout, which
// for two adjacent 8-key tiles is exactly the A-operand layout of the next
// product, so P = exp(S - max) goes from registers into P V without touching
// memory. Softmax is online (running max and sum per query, in base 2).
// Scores never reach global memory.
//
// Fallback (float32, other head sizes, unaligned operands): one warp per
// query, the head size spread over the lanes, the same online softmax.
#include <cmath>

#include "backends/cuda/kernels/attention_launch.h"
#include "backends/cuda/kernels/device_math.cuh"

namespace kiln::cuda {
namespace {

constexpr int kKeys = 64;              // per tile
constexpr int kPad = 8;                // halves of padding per shared row: conflict-free ldmatrix
constexpr int kStages = 2;             // tiles in flight: the next one loads while this one computes
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kFiniteLimit = 3.4028234e38f / 1.4426950408889634f;  // the largest |x| with x * log2(e) finite

template <typename T>
__device__ __forceinline__ void mma_16816(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  if constexpr (std::is_same_v<T, __half>) {
    asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  } else {
    asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
}

// Four 8x8 matrices of 16-bit values from shared memory; lane l gives the
// address of row l % 8 of matrix l / 8. With `trans`, each comes transposed.
template <bool trans>
__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const void* row) {
  const unsigned address = static_cast<unsigned>(__cvta_generic_to_shared(row));
  if constexpr (trans) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(address));
  } else {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(address));
  }
}

// 16 bytes global -> shared without passing through registers: the first
// `bytes` (0 to 16) copied, the rest zero-filled.
__device__ __forceinline__ void copy_async_16(void* shared, const void* global, int bytes) {
  const unsigned address = static_cast<unsigned>(__cvta_generic_to_shared(shared));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(address), "l"(global), "r"(bytes));
}
__device__ __forceinline__ void copy_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int pending>
__device__ __forceinline__ void copy_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(pending));
}

// Two floats as one register of two 16-bit values, the first in the low half.
template <typename T>
__device__ __forceinline__ uint32_t pack_pair(float lo, float hi) {
  if constexpr (std::is_same_v<T, __half>) {
    __half2 h = __floats2half2_rn(lo, hi);
    return *reinterpret_cast<uint32_t*>(&h);
  } else {
    __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<uint32_t*>(&h);
  }
}

__device__ __forceinline__ uint32_t load_pair(const void* p) { return *static_cast<const uint32_t*>(p); }

// Shared memory per stage: K and V tiles ([key][size], rows padded), the
// tile's key bias (the mask, for masks that vary only along the keys,
// -inf past the last key, 0 otherwise) and, for masks that vary along the
// queries too and have contiguous keys, the block's [query][key] mask tile.
template <int D>
__host__ __device__ constexpr size_t kv_tile_bytes(size_t element) {
  return 2 * kKeys * (D + kPad) * element + kKeys * sizeof(float);
}
__host__ __device__ constexpr size_t mask_tile_bytes(int warps, size_t element) {
  return 16 * warps * (kKeys + kPad) * element;
}

template <int D>
size_t attention_shared_bytes(int warps, size_t element, bool mask_tiles) {
  return kStages * (kv_tile_bytes<D>(element) + (mask_tiles ? mask_tile_bytes(warps, element) : 0));
}

template <typename T, int D, int W>
struct Stage {
  T* k;
  T* v;
  float* key_bias;
  T* mask;  // [16 W][kKeys + kPad] when the mask goes through tiles
  __device__ Stage(char* base, int stage, bool mask_tiles) {
    const size_t stride = kv_tile_bytes<D>(sizeof(T)) + (mask_tiles ? mask_tile_bytes(W, sizeof(T)) : 0);
    char* p = base + stage * stride;
    k = reinterpret_cast<T*>(p);
    v = k + kKeys * (D + kPad);
    key_bias = reinterpret_cast<float*>(v + kKeys * (D + kPad));
    mask = reinterpret_cast<T*>(key_bias + kKeys);
  }
};

template <typename T, int D, int W>
__global__ void __launch_bounds__(W * 32, (D <= 64 ? 16 : 8) / W) attention_mma_kernel(AttentionArgs a) {
  constexpr int kQueries = 16 * W;
  extern __shared__ __align__(16) char shared[];
  const int bh = blockIdx.x;
  const int b = bh / a.heads, h = bh - b * a.heads;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int g = lane / 4, t = lane % 4;  // fragment row group and column pair
  const int row0 = blockIdx.y * kQueries + warp * 16 + g, row1 = row0 + 8;
  const T* q = static_cast<const T*>(a.q.data) + b * a.q.batch_stride + h * a.q.head_stride;
  const T* k = static_cast<const T*>(a.k.data) + b * a.k.batch_stride + h * a.k.head_stride;
  const T* v = static_cast<const T*>(a.v.data) + b * a.v.batch_stride + h * a.v.head_stride;
  const T* mask = static_cast<const T*>(a.mask);
  const int64_t mask_base = b * a.mask_strides[0] + h * a.mask_strides[1];
  // A mask that does not vary along the queries goes through the key bias.
  const bool mask_per_query = mask && a.mask_strides[2] != 0;

  auto load_tile = [&](int stage, int key0) {
    Stage<T, D, W> s(shared, stage, a.mask_tiles);
    constexpr int kChunks = kKeys * D / 8;  // 16-byte chunks per operand
    for (int c = threadIdx.x; c < kChunks; c += W * 32) {
      const int key = c / (D / 8), part = c - key * (D / 8);
      const bool valid = key0 + key < a.kv_len;
      const int64_t row = valid ? key0 + key : 0;
      copy_async_16(s.k + key * (D + kPad) + part * 8, k + row * a.k.seq_stride + part * 8, valid ? 16 : 0);
      copy_async_16(s.v + key * (D + kPad) + part * 8, v + row * a.v.seq_stride + part * 8, valid ? 16 : 0);
    }
    if (a.mask_tiles) {
      // Rows of 64 keys in 16-byte chunks; a chunk that crosses the last key
      // copies what lies before it and zero-fills the rest.
      const int query0 = blockIdx.y * kQueries;
      for (int c = threadIdx.x; c < kQueries * kKeys / 8; c += W * 32) {
        const int row = c / (kKeys / 8), part = c - row * (kKeys / 8);
        const int key = key0 + part * 8;
        const int valid_keys = query0 + row < a.q_len ? min(8, max(0, a.kv_len - key)) : 0;
        const T* source = valid_keys > 0 ? mask + mask_base + (query0 + row) * a.mask_strides[2] + key : mask;
        copy_async_16(s.mask + row * (kKeys + kPad) + part * 8, source, valid_keys * static_cast<int>(sizeof(T)));
      }
    }
    for (int key = threadIdx.x; key < kKeys; key += W * 32) {
      float bias = -INFINITY;
      if (key0 + key < a.kv_len) {
        bias = mask && !mask_per_query ? to_float(mask[mask_base + (key0 + key) * a.mask_strides[3]]) : 0.f;
      }
      s.key_bias[key] = bias;
    }
    copy_async_commit();
  };

  const int tiles = (a.kv_len + kKeys - 1) / kKeys;
  if (tiles > 0) load_tile(0, 0);
  uint32_t q_frag[D / 16][4];
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk) {
    const int col = kk * 16 + t * 2;
    q_frag[kk][0] = row0 < a.q_len ? load_pair(q + row0 * a.q.seq_stride + col) : 0u;
    q_frag[kk][1] = row1 < a.q_len ? load_pair(q + row1 * a.q.seq_stride + col) : 0u;
    q_frag[kk][2] = row0 < a.q_len ? load_pair(q + row0 * a.q.seq_stride + col + 8) : 0u;
    q_frag[kk][3] = row1 < a.q_len ? load_pair(q + row1 * a.q.seq_stride + col + 8) : 0u;
  }
  float row_max[2] = {-INFINITY, -INFINITY}, row_sum[2] = {0.f, 0.f};
  float acc[D / 8][4];
#pragma unroll
  for (int n = 0; n < D / 8; ++n) acc[n][0] = acc[n][1] = acc[n][2] = acc[n][3] = 0.f;
  // Lane l addresses row l % 8 of matrix l / 8 in the ldmatrix calls.
  const int matrix = lane / 8, matrix_row = lane % 8;

  for (int tile = 0; tile < tiles; ++tile) {
    const int key0 = tile * kKeys;
    if (tile + 1 < tiles) {
      load_tile((tile + 1) % kStages, key0 + kKeys);
      copy_async_wait<1>();
    } else {
      copy_async_wait<0>();
    }
    __syncthreads();
    const Stage<T, D, W> st(shared, tile % kStages, a.mask_tiles);

    // S = Q K^T: per 8-key group, ldmatrix gives b0/b1 of two 16-wide size steps.
    float s[kKeys / 8][4];
#pragma unroll
    for (int n = 0; n < kKeys / 8; ++n) {
      s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.f;
#pragma unroll
      for (int kk = 0; kk < D / 16; kk += 2) {
        uint32_t frag[4];
        ldmatrix_x4<false>(frag, st.k + (n * 8 + matrix_row) * (D + kPad) + kk * 16 + matrix * 8);
        mma_16816<T>(s[n], q_frag[kk], frag[0], frag[1]);
        mma_16816<T>(s[n], q_frag[kk + 1], frag[2], frag[3]);
      }
    }
    // Scale and mask in base 2; the tile's row maxima.
    float tile_max[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int n = 0; n < kKeys / 8; ++n) {
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const int column = n * 8 + t * 2 + (j & 1);
        float x = s[n][j] * a.scale + st.key_bias[column];
        if (a.mask_tiles) {
          x += to_float(st.mask[(warp * 16 + g + (j < 2 ? 0 : 8)) * (kKeys + kPad) + column]);
        } else if (mask_per_query) {
          const int row = j < 2 ? row0 : row1;
          if (row < a.q_len && key0 + column < a.kv_len) {
            x += to_float(mask[mask_base + row * a.mask_strides[2] + (key0 + column) * a.mask_strides[3]]);
          }
        }
        // The masked scores in T, as the unfused Add stores them: a mask of
        // T's lowest value then swamps the scores as it does there.
        if (mask) x = round_to<T>(x);
        // Base 2 without overflow: a finite score stays finite (a mask of
        // float32's lowest value times log2(e) would be -inf).
        if (x < -kFiniteLimit && x != -INFINITY) x = -kFiniteLimit;
        x *= kLog2e;
        s[n][j] = x;
        tile_max[j >> 1] = fmaxf(tile_max[j >> 1], x);
      }
    }
    float correction[2], base[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      tile_max[r] = fmaxf(tile_max[r], __shfl_xor_sync(0xffffffffu, tile_max[r], 1));
      tile_max[r] = fmaxf(tile_max[r], __shfl_xor_sync(0xffffffffu, tile_max[r], 2));
      const float new_max = fmaxf(row_max[r], tile_max[r]);
      base[r] = new_max == -INFINITY ? 0.f : new_max;  // all masked so far: every p is 0
      correction[r] = exp2f(row_max[r] - base[r]);
      row_max[r] = new_max;
      row_sum[r] *= correction[r];
    }
#pragma unroll
    for (int n = 0; n < kKeys / 8; ++n) {
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        s[n][j] = exp2f(s[n][j] - base[j >> 1]);
        row_sum[j >> 1] += s[n][j];
      }
    }
#pragma unroll
    for (int n = 0; n < D / 8; ++n) {
      acc[n][0] *= correction[0];
      acc[n][1] *= correction[0];
      acc[n][2] *= correction[1];
      acc[n][3] *= correction[1];
    }
    // O += P V: keys 16kk..16kk+15 are accumulator tiles 2kk and 2kk+1; the
    // transposing ldmatrix gives b0/b1 of two 8-wide size groups.
#pragma unroll
    for (int kk = 0; kk < kKeys / 16; ++kk) {
      const uint32_t p[4] = {pack_pair<T>(s[2 * kk][0], s[2 * kk][1]), pack_pair<T>(s[2 * kk][2], s[2 * kk][3]),
                             pack_pair<T>(s[2 * kk + 1][0], s[2 * kk + 1][1]),
                             pack_pair<T>(s[2 * kk + 1][2], s[2 * kk + 1][3])};
#pragma unroll
      for (int n = 0; n < D / 8; n += 2) {
        uint32_t frag[4];
        ldmatrix_x4<true>(frag, st.v + (kk * 16 + (matrix & 1) * 8 + matrix_row) * (D + kPad) + n * 8 + (matrix >> 1) * 8);
        mma_16816<T>(acc[n], p, frag[0], frag[1]);
        mma_16816<T>(acc[n + 1], p, frag[2], frag[3]);
      }
    }
    __syncthreads();  // this stage is free for the tile after next
  }

  float inverse[2];
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    row_sum[r] += __shfl_xor_sync(0xffffffffu, row_sum[r], 1);
    row_sum[r] += __shfl_xor_sync(0xffffffffu, row_sum[r], 2);
    // No key at all: the product with V is an empty sum.
    inverse[r] = row_sum[r] > 0.f ? 1.f / row_sum[r] : (a.nan_to_zero || a.kv_len == 0 ? 0.f : NAN);
  }
  T* out = static_cast<T*>(a.out) + b * a.out_batch_stride + h * a.out_head_stride;
#pragma unroll
  for (int n = 0; n < D / 8; ++n) {
    const int col = n * 8 + t * 2;
    if (row0 < a.q_len) {
      *reinterpret_cast<uint32_t*>(out + row0 * a.out_seq_stride + col) =
          pack_pair<T>(acc[n][0] * inverse[0], acc[n][1] * inverse[0]);
    }
    if (row1 < a.q_len) {
      *reinterpret_cast<uint32_t*>(out + row1 * a.out_seq_stride + col) =
          pack_pair<T>(acc[n][2] * inverse[1], acc[n][3] * inverse[1]);
    }
  }
}

constexpr int kPerLane = kMaxAttentionHeadSize / 32;

template <typename T>
__global__ void attention_rows_kernel(AttentionArgs a, int64_t rows) {
  const int64_t row_id = blockIdx.x * static_cast<int64_t>(blockDim.x / 32) + threadIdx.x / 32;
  if (row_id >= rows) return;
  const int lane = threadIdx.x % 32;
  const int i = static_cast<int>(row_id % a.q_len);
  const int64_t bh = row_id / a.q_len;
  const int b = static_cast<int>(bh / a.heads), h = static_cast<int>(bh % a.heads);
  const T* q = static_cast<const T*>(a.q.data) + b * a.q.batch_stride + h * a.q.head_stride + i * a.q.seq_stride;
  const T* k = static_cast<const T*>(a.k.data) + b * a.k.batch_stride + h * a.k.head_stride;
  const T* v = static_cast<const T*>(a.v.data) + b * a.v.batch_stride + h * a.v.head_stride;
  const T* mask = static_cast<const T*>(a.mask);
  const int64_t mask_base = b * a.mask_strides[0] + h * a.mask_strides[1] + i * a.mask_strides[2];
  float qv[kPerLane], acc[kPerLane];
#pragma unroll
  for (int j = 0; j < kPerLane; ++j) {
    const int d = lane + 32 * j;
    qv[j] = d < a.head_size ? to_float(q[d]) * a.scale : 0.f;
    acc[j] = 0.f;
  }
  float row_max = -INFINITY, row_sum = 0.f;
  for (int key = 0; key < a.kv_len; ++key) {
    const T* k_row = k + key * a.k.seq_stride;
    float partial = 0.f;
#pragma unroll
    for (int j = 0; j < kPerLane; ++j) {
      const int d = lane + 32 * j;
      if (d < a.head_size) partial += qv[j] * to_float(k_row[d]);
    }
#pragma unroll
    for (int offset = 16; offset > 0; offset /= 2) partial += __shfl_xor_sync(0xffffffffu, partial, offset);
    float x = partial;
    if (mask) x = round_to<T>(x + to_float(mask[mask_base + key * a.mask_strides[3]]));  // the Add's result, in T
    if (x == -INFINITY) continue;  // contributes nothing
    const float new_max = fmaxf(row_max, x);
    const float correction = expf(row_max - new_max), p = expf(x - new_max);
    row_max = new_max;
    row_sum = row_sum * correction + p;
    const T* v_row = v + key * a.v.seq_stride;
#pragma unroll
    for (int j = 0; j < kPerLane; ++j) {
      const int d = lane + 32 * j;
      if (d < a.value_size) acc[j] = acc[j] * correction + p * to_float(v_row[d]);
    }
  }
  const float inverse = row_sum > 0.f ? 1.f / row_sum : (a.nan_to_zero || a.kv_len == 0 ? 0.f : NAN);
  T* out = static_cast<T*>(a.out) + b * a.out_batch_stride + h * a.out_head_stride + i * a.out_seq_stride;
#pragma unroll
  for (int j = 0; j < kPerLane; ++j) {
    const int d = lane + 32 * j;
    if (d < a.value_size) out[d] = from_float<T>(acc[j] * inverse);
  }
}

// The most shared memory a launch of attention_mma_kernel<T, D, W> asks
// for, allowed once per kernel (outside any stream capture: attention_prepare).
template <typename T, int D>
cudaError_t allow_shared_memory() {
  static const cudaError_t allowed = [] {
    cudaError_t four = cudaFuncSetAttribute(attention_mma_kernel<T, D, 4>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                            static_cast<int>(attention_shared_bytes<D>(4, sizeof(T), true)));
    cudaError_t eight = cudaFuncSetAttribute(attention_mma_kernel<T, D, 8>,
                                             cudaFuncAttributeMaxDynamicSharedMemorySize,
                                             static_cast<int>(attention_shared_bytes<D>(8, sizeof(T), true)));
    return four != cudaSuccess ? four : eight;
  }();
  return allowed;
}

template <typename T, int D, int W>
void launch_mma_warps(const AttentionArgs& a, cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>(a.batch) * static_cast<unsigned>(a.heads),
                  static_cast<unsigned>((a.q_len + 16 * W - 1) / (16 * W)));
  attention_mma_kernel<T, D, W><<<grid, W * 32, attention_shared_bytes<D>(W, sizeof(T), a.mask_tiles), stream>>>(a);
}

template <typename T, int D>
void launch_mma(const AttentionArgs& a, cudaStream_t stream) {
  if (a.kernel == 8 || (a.kernel == 0 && a.q_len > 64)) {
    launch_mma_warps<T, D, 8>(a, stream);
  } else {
    launch_mma_warps<T, D, 4>(a, stream);
  }
}

template <typename T>
void launch_typed(const AttentionArgs& a, bool tensor_cores, cudaStream_t stream) {
  if constexpr (IsHalfType<T>::value) {
    if (tensor_cores) {
      switch (a.head_size) {
        case 32: launch_mma<T, 32>(a, stream); return;
        case 64: launch_mma<T, 64>(a, stream); return;
        case 128: launch_mma<T, 128>(a, stream); return;
        default: break;
      }
    }
  }
  const int64_t rows = int64_t{a.batch} * a.heads * a.q_len;
  constexpr int kRowsPerBlock = 8;
  attention_rows_kernel<T><<<static_cast<unsigned>((rows + kRowsPerBlock - 1) / kRowsPerBlock), kRowsPerBlock * 32,
                             0, stream>>>(a, rows);
}

bool rows_aligned(const AttentionOperand& x) {
  return is_aligned(x.data, 16) && x.batch_stride % 8 == 0 && x.seq_stride % 8 == 0 && x.head_stride % 8 == 0;
}

}  // namespace

cudaError_t attention_prepare(DataType dtype, int head_size) {
  auto for_type = [head_size](auto tag) {
    using T = decltype(tag);
    switch (head_size) {
      case 32: return allow_shared_memory<T, 32>();
      case 64: return allow_shared_memory<T, 64>();
      case 128: return allow_shared_memory<T, 128>();
      default: return cudaSuccess;
    }
  };
  if (dtype == DataType::kFloat16) return for_type(__half{});
  if (dtype == DataType::kBFloat16) return for_type(__nv_bfloat16{});
  return cudaSuccess;
}

bool attention_uses_tensor_cores(DataType dtype, const AttentionArgs& a) {
  if (dtype != DataType::kFloat16 && dtype != DataType::kBFloat16) return false;
  if (a.head_size != a.value_size || (a.head_size != 32 && a.head_size != 64 && a.head_size != 128)) return false;
  return rows_aligned(a.q) && rows_aligned(a.k) && rows_aligned(a.v) && is_aligned(a.out, 4) &&
         a.out_batch_stride % 2 == 0 && a.out_seq_stride % 2 == 0 && a.out_head_stride % 2 == 0 &&
         a.heads <= 65535 && int64_t{a.batch} * a.heads < (int64_t{1} << 31);
}

cudaError_t launch_attention(DataType dtype, const AttentionArgs& args, cudaStream_t stream) {
  if (int64_t{args.batch} * args.heads * args.q_len == 0) return cudaSuccess;
  if (args.head_size > kMaxAttentionHeadSize || args.value_size > kMaxAttentionHeadSize) return cudaErrorInvalidValue;
  const bool tensor_cores = args.kernel >= 0 && attention_uses_tensor_cores(dtype, args);
  AttentionArgs a = args;
  a.mask_tiles = tensor_cores && a.mask && a.mask_strides[2] != 0 && a.mask_strides[3] == 1 &&
                 is_aligned(a.mask, 16) && a.mask_strides[0] % 8 == 0 && a.mask_strides[1] % 8 == 0 &&
                 a.mask_strides[2] % 8 == 0;
  switch (dtype) {
    case DataType::kFloat32: launch_typed<float>(a, false, stream); break;
    case DataType::kFloat16: launch_typed<__half>(a, tensor_cores, stream); break;
    case DataType::kBFloat16: launch_typed<__nv_bfloat16>(a, tensor_cores, stream); break;
    default: return cudaErrorInvalidValue;
  }
  return cudaGetLastError();
}

}  // namespace kiln::cuda
