// Device code of Trilu, GatherElements and CumSum.
#include "backends/cuda/kernels/data_movement_launch.h"
#include "backends/cuda/kernels/device_math.cuh"

namespace kiln::cuda {
namespace {

constexpr int kThreads = 256;

template <typename T>
__global__ void trilu_kernel(const T* in, T* out, int64_t count, int64_t rows, int64_t cols, int64_t k, bool upper) {
  KILN_GRID_STRIDE_LOOP(i, count) {
    const int64_t j = i % cols;
    const int64_t r = (i / cols) % rows;
    const bool keep = upper ? (j - r >= k) : (j - r <= k);
    out[i] = keep ? in[i] : T(0);
  }
}

template <typename T, typename I>
__global__ void gather_elements_kernel(const T* data, const I* indices, T* out, int64_t count, int axis,
                                       int64_t axis_extent, StridedIndex index) {
  KILN_GRID_STRIDE_LOOP(i, count) {
    int64_t rest = i, offset = 0;
    for (int d = index.rank - 1; d >= 0; --d) {
      int64_t c = rest % index.dims[d];
      rest /= index.dims[d];
      if (d == axis) {
        c = static_cast<int64_t>(indices[i]);
        if (c < 0) c += axis_extent;
        if (c < 0 || c >= axis_extent) c = 0;  // invalid models read element 0 rather than fault
      }
      offset += c * index.strides[0][d];
    }
    out[i] = data[offset];
  }
}

template <typename T, typename I>
__global__ void scatter_elements_kernel(const T* updates, const I* indices, T* out, int64_t count, int axis,
                                        int64_t axis_extent, StridedIndex index, bool add) {
  KILN_GRID_STRIDE_LOOP(i, count) {
    int64_t rest = i, offset = 0;
    for (int d = index.rank - 1; d >= 0; --d) {
      int64_t c = rest % index.dims[d];
      rest /= index.dims[d];
      if (d == axis) {
        c = static_cast<int64_t>(indices[i]);
        if (c < 0) c += axis_extent;
        if (c < 0 || c >= axis_extent) c = 0;
      }
      offset += c * index.strides[0][d];
    }
    if constexpr (std::is_same_v<T, float>) {
      if (add) {
        atomicAdd(out + offset, updates[i]);
        continue;
      }
    }
    out[offset] = updates[i];
  }
}

template <typename T>
__global__ void cumsum_kernel(const T* in, T* out, int64_t outer, int64_t extent, int64_t inner, bool exclusive,
                              bool reverse) {
  KILN_GRID_STRIDE_LOOP(index, outer * inner) {
    const int64_t o = index / inner, i = index % inner;
    const int64_t base = o * extent * inner + i;
    ComputeType<T> acc = ComputeType<T>(0);
    for (int64_t step = 0; step < extent; ++step) {
      const int64_t e = reverse ? extent - 1 - step : step;
      const ComputeType<T> x = to_compute(in[base + e * inner]);
      if (exclusive) {
        out[base + e * inner] = from_compute<T>(acc);
        acc += x;
      } else {
        acc += x;
        out[base + e * inner] = from_compute<T>(acc);
      }
    }
  }
}

}  // namespace

cudaError_t launch_trilu(size_t element_bytes, const void* in, void* out, int64_t count, int64_t rows, int64_t cols,
                         int64_t k, bool upper, cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  bool handled = dispatch_bytes(element_bytes, [&](auto tag) {
    using T = decltype(tag);
    trilu_kernel<T><<<grid_for(count), kThreads, 0, stream>>>(static_cast<const T*>(in), static_cast<T*>(out), count,
                                                              rows, cols, k, upper);
  });
  return handled ? cudaGetLastError() : cudaErrorInvalidValue;
}

cudaError_t launch_gather_elements(size_t element_bytes, const void* data, const void* indices, size_t index_bytes,
                                   void* out, int64_t count, int axis, int64_t axis_extent,
                                   const StridedIndex& index, cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  if (index_bytes != 4 && index_bytes != 8) return cudaErrorInvalidValue;
  bool handled = dispatch_bytes(element_bytes, [&](auto tag) {
    using T = decltype(tag);
    if (index_bytes == 4) {
      gather_elements_kernel<T, int32_t><<<grid_for(count), kThreads, 0, stream>>>(
          static_cast<const T*>(data), static_cast<const int32_t*>(indices), static_cast<T*>(out), count, axis,
          axis_extent, index);
    } else {
      gather_elements_kernel<T, int64_t><<<grid_for(count), kThreads, 0, stream>>>(
          static_cast<const T*>(data), static_cast<const int64_t*>(indices), static_cast<T*>(out), count, axis,
          axis_extent, index);
    }
  });
  return handled ? cudaGetLastError() : cudaErrorInvalidValue;
}

cudaError_t launch_scatter_elements(size_t element_bytes, bool add_float, const void* updates, const void* indices,
                                    size_t index_bytes, void* out, int64_t count, int axis, int64_t axis_extent,
                                    const StridedIndex& index, cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  if (index_bytes != 4 && index_bytes != 8) return cudaErrorInvalidValue;
  auto launch = [&](auto tag) {
    using T = decltype(tag);
    if (index_bytes == 4) {
      scatter_elements_kernel<T, int32_t><<<grid_for(count), kThreads, 0, stream>>>(
          static_cast<const T*>(updates), static_cast<const int32_t*>(indices), static_cast<T*>(out), count, axis,
          axis_extent, index, add_float);
    } else {
      scatter_elements_kernel<T, int64_t><<<grid_for(count), kThreads, 0, stream>>>(
          static_cast<const T*>(updates), static_cast<const int64_t*>(indices), static_cast<T*>(out), count, axis,
          axis_extent, index, add_float);
    }
  };
  if (add_float) {
    if (element_bytes != 4) return cudaErrorInvalidValue;
    launch(float{});
    return cudaGetLastError();
  }
  bool handled = dispatch_bytes(element_bytes, launch);
  return handled ? cudaGetLastError() : cudaErrorInvalidValue;
}

cudaError_t launch_cumsum(DataType dtype, const void* in, void* out, int64_t outer, int64_t extent, int64_t inner,
                          bool exclusive, bool reverse, cudaStream_t stream) {
  const int64_t count = outer * inner;
  if (count == 0 || extent == 0) return cudaSuccess;
  auto launch = [&](auto tag) {
    using T = decltype(tag);
    cumsum_kernel<T><<<grid_for(count), kThreads, 0, stream>>>(static_cast<const T*>(in), static_cast<T*>(out), outer,
                                                               extent, inner, exclusive, reverse);
  };
  switch (dtype) {
    case DataType::kFloat32: launch(float{}); break;
    case DataType::kFloat16: launch(__half{}); break;
    case DataType::kBFloat16: launch(__nv_bfloat16{}); break;
    case DataType::kFloat64: launch(double{}); break;
    case DataType::kInt32: launch(int32_t{}); break;
    case DataType::kInt64: launch(int64_t{}); break;
    default: return cudaErrorInvalidValue;
  }
  return cudaGetLastError();
}

}  // namespace kiln::cuda
