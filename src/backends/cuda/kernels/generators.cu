// Device code of Range, ConstantOfShape (fill), EyeLike and OneHot.
#include "backends/cuda/kernels/data_movement_launch.h"
#include "backends/cuda/kernels/device_math.cuh"

namespace kiln::cuda {
namespace {

constexpr int kThreads = 256;

template <typename T>
__global__ void range_kernel(T* out, int64_t count, double start, double delta) {
  KILN_GRID_STRIDE_LOOP(i, count) {
    if constexpr (std::is_integral_v<T>) {
      out[i] = static_cast<T>(static_cast<int64_t>(start) + i * static_cast<int64_t>(delta));
    } else {
      out[i] = static_cast<T>(start + static_cast<double>(i) * delta);
    }
  }
}

template <typename T>
__global__ void fill_kernel(T* out, int64_t count, T value) {
  KILN_GRID_STRIDE_LOOP(i, count) { out[i] = value; }
}

template <typename T>
__global__ void eye_kernel(T* out, int64_t rows, int64_t cols, int64_t k, T one) {
  KILN_GRID_STRIDE_LOOP(i, rows * cols) {
    const int64_t r = i / cols, c = i % cols;
    out[i] = (c - r == k) ? one : T(0);
  }
}

template <typename T, typename I>
__global__ void one_hot_kernel(const I* indices, const T* values, T* out, int64_t outer, int64_t depth, int64_t inner) {
  KILN_GRID_STRIDE_LOOP(i, outer * depth * inner) {
    const int64_t in = i % inner;
    const int64_t j = (i / inner) % depth;
    const int64_t o = i / (inner * depth);
    int64_t index = static_cast<int64_t>(indices[o * inner + in]);
    if (index < 0) index += depth;
    out[i] = values[index == j ? 1 : 0];
  }
}

}  // namespace

cudaError_t launch_range(DataType dtype, double start, double delta, void* out, int64_t count, cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  auto launch = [&](auto tag) {
    using T = decltype(tag);
    range_kernel<T><<<grid_for(count), kThreads, 0, stream>>>(static_cast<T*>(out), count, start, delta);
  };
  switch (dtype) {
    case DataType::kFloat32: launch(float{}); break;
    case DataType::kFloat64: launch(double{}); break;
    case DataType::kInt16: launch(int16_t{}); break;
    case DataType::kInt32: launch(int32_t{}); break;
    case DataType::kInt64: launch(int64_t{}); break;
    default: return cudaErrorInvalidValue;
  }
  return cudaGetLastError();
}

cudaError_t launch_fill(size_t element_bytes, uint64_t value_bits, void* out, int64_t count, cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  bool handled = dispatch_bytes(element_bytes, [&](auto tag) {
    using T = decltype(tag);
    T value;
    memcpy(&value, &value_bits, sizeof(T));
    fill_kernel<T><<<grid_for(count), kThreads, 0, stream>>>(static_cast<T*>(out), count, value);
  });
  return handled ? cudaGetLastError() : cudaErrorInvalidValue;
}

cudaError_t launch_eye(size_t element_bytes, uint64_t one_bits, void* out, int64_t rows, int64_t cols, int64_t k,
                       cudaStream_t stream) {
  if (rows * cols == 0) return cudaSuccess;
  bool handled = dispatch_bytes(element_bytes, [&](auto tag) {
    using T = decltype(tag);
    T one;
    memcpy(&one, &one_bits, sizeof(T));
    eye_kernel<T><<<grid_for(rows * cols), kThreads, 0, stream>>>(static_cast<T*>(out), rows, cols, k, one);
  });
  return handled ? cudaGetLastError() : cudaErrorInvalidValue;
}

cudaError_t launch_one_hot(size_t element_bytes, DataType index_type, const void* indices, const void* values,
                           void* out, int64_t outer, int64_t depth, int64_t inner, cudaStream_t stream) {
  const int64_t count = outer * depth * inner;
  if (count == 0) return cudaSuccess;
  bool handled = dispatch_bytes(element_bytes, [&](auto tag) {
    using T = decltype(tag);
    auto go = [&](auto index_tag) {
      using I = decltype(index_tag);
      one_hot_kernel<T, I><<<grid_for(count), kThreads, 0, stream>>>(
          static_cast<const I*>(indices), static_cast<const T*>(values), static_cast<T*>(out), outer, depth, inner);
    };
    switch (index_type) {
      case DataType::kInt32: go(int32_t{}); break;
      case DataType::kInt64: go(int64_t{}); break;
      case DataType::kFloat32: go(float{}); break;
      default: break;
    }
  });
  if (index_type != DataType::kInt32 && index_type != DataType::kInt64 && index_type != DataType::kFloat32) {
    return cudaErrorInvalidValue;
  }
  return handled ? cudaGetLastError() : cudaErrorInvalidValue;
}

}  // namespace kiln::cuda
