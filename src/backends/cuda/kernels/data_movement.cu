// Device code of Gather and Pad.
#include <cstring>

#include "backends/cuda/kernels/data_movement_launch.h"
#include "backends/cuda/kernels/device_math.cuh"

namespace kiln::cuda {
namespace {

constexpr int kThreads = 256;

template <typename T, typename I>
__global__ void gather_kernel(const T* data, const I* indices, T* out, int64_t count, int64_t axis_extent,
                              int64_t index_count, int64_t inner) {
  KILN_GRID_STRIDE_LOOP(i, count) {
    int64_t inner_i = i % inner;
    int64_t rest = i / inner;
    int64_t j = rest % index_count;
    int64_t outer_i = rest / index_count;
    int64_t index = static_cast<int64_t>(indices[j]);
    if (index < 0) index += axis_extent;
    // Out-of-range indices are invalid models; read element 0 rather than fault.
    if (index < 0 || index >= axis_extent) index = 0;
    out[i] = data[(outer_i * axis_extent + index) * inner + inner_i];
  }
}

template <typename T>
__global__ void pad_kernel(const T* in, T* out, int64_t count, PadParams p, T value) {
  KILN_GRID_STRIDE_LOOP(i, count) {
    int64_t linear = i;
    int64_t offset = 0;
    bool inside = true;
    for (int d = p.rank - 1; d >= 0; --d) {
      int64_t c = linear % p.out_dims[d] - p.pad_begin[d];
      linear /= p.out_dims[d];
      const int64_t n = p.in_dims[d];
      if (c < 0 || c >= n) {
        switch (p.mode) {
          case PadMode::kConstant: inside = false; break;
          case PadMode::kEdge: c = c < 0 ? 0 : n - 1; break;
          case PadMode::kWrap: c = ((c % n) + n) % n; break;
          case PadMode::kReflect: {
            if (n == 1) { c = 0; break; }
            const int64_t period = 2 * (n - 1);
            c = ((c % period) + period) % period;
            if (c >= n) c = period - c;
            break;
          }
        }
      }
      offset += c * p.in_strides[d];
    }
    out[i] = inside ? in[offset] : value;
  }
}

}  // namespace

cudaError_t launch_gather(size_t element_bytes, const void* data, const void* indices, size_t index_bytes,
                          void* out, int64_t outer, int64_t axis_extent, int64_t index_count, int64_t inner,
                          cudaStream_t stream) {
  const int64_t count = outer * index_count * inner;
  if (count == 0) return cudaSuccess;
  if (index_bytes != 4 && index_bytes != 8) return cudaErrorInvalidValue;
  bool handled = dispatch_bytes(element_bytes, [&](auto tag) {
    using T = decltype(tag);
    if (index_bytes == 4) {
      gather_kernel<T, int32_t><<<grid_for(count), kThreads, 0, stream>>>(
          static_cast<const T*>(data), static_cast<const int32_t*>(indices), static_cast<T*>(out), count,
          axis_extent, index_count, inner);
    } else {
      gather_kernel<T, int64_t><<<grid_for(count), kThreads, 0, stream>>>(
          static_cast<const T*>(data), static_cast<const int64_t*>(indices), static_cast<T*>(out), count,
          axis_extent, index_count, inner);
    }
  });
  return handled ? cudaGetLastError() : cudaErrorInvalidValue;
}

cudaError_t launch_pad(size_t element_bytes, const void* in, void* out, int64_t count, const PadParams& params,
                       cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  bool handled = dispatch_bytes(element_bytes, [&](auto tag) {
    using T = decltype(tag);
    T value;
    std::memcpy(&value, &params.value_bits, sizeof(T));
    pad_kernel<T><<<grid_for(count), kThreads, 0, stream>>>(static_cast<const T*>(in), static_cast<T*>(out), count,
                                                            params, value);
  });
  return handled ? cudaGetLastError() : cudaErrorInvalidValue;
}

}  // namespace kiln::cuda
