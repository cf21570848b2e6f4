// Device code of GatherND, ScatterND and TopK.
#include "backends/cuda/kernels/data_movement_launch.h"
#include "backends/cuda/kernels/device_math.cuh"

namespace kiln::cuda {
namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ int64_t nd_position(const NdIndexParams& p, const int64_t* indices, int64_t row) {
  int64_t position = 0;
  for (int j = 0; j < p.q; ++j) {
    int64_t index = indices[row * p.q + j];
    if (index < 0) index += p.dims[j];
    if (index < 0 || index >= p.dims[j]) index = 0;  // invalid models read element 0 rather than fault
    position += index * p.row_strides[j];
  }
  return position;
}

template <typename T>
__global__ void gather_nd_kernel(const T* data, const int64_t* indices, T* out, NdIndexParams p) {
  KILN_GRID_STRIDE_LOOP(i, p.rows * p.slice) {
    const int64_t row = i / p.slice, s = i % p.slice;
    out[i] = data[nd_position(p, indices, row) + s];
  }
}

template <typename T>
__global__ void scatter_nd_kernel(const T* updates, const int64_t* indices, T* out, NdIndexParams p) {
  KILN_GRID_STRIDE_LOOP(i, p.rows * p.slice) {
    const int64_t row = i / p.slice, s = i % p.slice;
    out[nd_position(p, indices, row) + s] = updates[i];
  }
}

// One thread per row; k passes over the row, each taking the best element
// that ranks after the previous pick (value, then lower index first).
template <typename T>
__global__ void top_k_kernel(const T* in, T* values, int64_t* indices, int64_t outer, int64_t extent, int64_t inner,
                             int64_t k, bool largest) {
  KILN_GRID_STRIDE_LOOP(row, outer * inner) {
    const int64_t o = row / inner, i = row % inner;
    const T* base = in + o * extent * inner + i;
    float previous = 0.f;
    int64_t previous_index = -1;
    for (int64_t r = 0; r < k; ++r) {
      float best = 0.f;
      int64_t best_index = -1;
      for (int64_t e = 0; e < extent; ++e) {
        const float v = to_float(base[e * inner]);
        if (previous_index >= 0) {
          const bool after = largest ? (v < previous || (v == previous && e > previous_index))
                                     : (v > previous || (v == previous && e > previous_index));
          if (!after) continue;
        }
        if (best_index < 0 || (largest ? v > best : v < best)) {
          best = v;
          best_index = e;
        }
      }
      const int64_t out = (o * k + r) * inner + i;
      values[out] = best_index >= 0 ? base[best_index * inner] : T(0);
      indices[out] = best_index;
      previous = best;
      previous_index = best_index;
    }
  }
}

}  // namespace

cudaError_t launch_gather_nd(size_t element_bytes, const void* data, const int64_t* indices, void* out,
                             const NdIndexParams& params, cudaStream_t stream) {
  const int64_t count = params.rows * params.slice;
  if (count == 0) return cudaSuccess;
  bool handled = dispatch_bytes(element_bytes, [&](auto tag) {
    using T = decltype(tag);
    gather_nd_kernel<T><<<grid_for(count), kThreads, 0, stream>>>(static_cast<const T*>(data), indices,
                                                                  static_cast<T*>(out), params);
  });
  return handled ? cudaGetLastError() : cudaErrorInvalidValue;
}

cudaError_t launch_scatter_nd(size_t element_bytes, const void* updates, const int64_t* indices, void* out,
                              const NdIndexParams& params, cudaStream_t stream) {
  const int64_t count = params.rows * params.slice;
  if (count == 0) return cudaSuccess;
  bool handled = dispatch_bytes(element_bytes, [&](auto tag) {
    using T = decltype(tag);
    scatter_nd_kernel<T><<<grid_for(count), kThreads, 0, stream>>>(static_cast<const T*>(updates), indices,
                                                                   static_cast<T*>(out), params);
  });
  return handled ? cudaGetLastError() : cudaErrorInvalidValue;
}

cudaError_t launch_top_k(DataType dtype, const void* in, void* values, int64_t* indices, int64_t outer,
                         int64_t extent, int64_t inner, int64_t k, bool largest, cudaStream_t stream) {
  const int64_t count = outer * inner;
  if (count == 0 || k == 0) return cudaSuccess;
  auto launch = [&](auto tag) {
    using T = decltype(tag);
    top_k_kernel<T><<<grid_for(count), kThreads, 0, stream>>>(static_cast<const T*>(in), static_cast<T*>(values),
                                                              indices, outer, extent, inner, k, largest);
  };
  switch (dtype) {
    case DataType::kFloat32: launch(float{}); break;
    case DataType::kFloat16: launch(__half{}); break;
    case DataType::kBFloat16: launch(__nv_bfloat16{}); break;
    case DataType::kInt32: launch(int32_t{}); break;
    case DataType::kInt64: launch(int64_t{}); break;
    default: return cudaErrorInvalidValue;
  }
  return cudaGetLastError();
}

}  // namespace kiln::cuda
