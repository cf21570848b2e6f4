// Device code of QuantizeLinear and DequantizeLinear (per tensor or per axis).
#include <limits>

#include "backends/cuda/kernels/device_math.cuh"

namespace kiln::cuda {
namespace {

constexpr int kThreads = 256;

template <typename I, typename O, typename S>
__global__ void dequantize_kernel(const I* in, const S* scale, const I* zero_point, O* out, int64_t count,
                                  int64_t inner, int64_t channels) {
  KILN_GRID_STRIDE_LOOP(i, count) {
    const int64_t c = (i / inner) % channels;
    const float zp = zero_point ? static_cast<float>(zero_point[c]) : 0.f;
    out[i] = from_float<O>((static_cast<float>(in[i]) - zp) * to_float(scale[c]));
  }
}

template <typename I, typename O>
__global__ void quantize_kernel(const I* in, const I* scale, const O* zero_point, O* out, int64_t count,
                                int64_t inner, int64_t channels) {
  KILN_GRID_STRIDE_LOOP(i, count) {
    const int64_t c = (i / inner) % channels;
    const float zp = zero_point ? static_cast<float>(zero_point[c]) : 0.f;
    float q = rintf(to_float(in[i]) / to_float(scale[c])) + zp;
    const float lo = static_cast<float>(std::numeric_limits<O>::min());
    const float hi = static_cast<float>(std::numeric_limits<O>::max());
    out[i] = static_cast<O>(fminf(fmaxf(q, lo), hi));
  }
}

template <typename Fn>
bool dispatch_quantized(DataType dtype, Fn&& fn) {
  switch (dtype) {
    case DataType::kInt8: fn(int8_t{}); return true;
    case DataType::kUint8: fn(uint8_t{}); return true;
    case DataType::kInt16: fn(int16_t{}); return true;
    case DataType::kUint16: fn(uint16_t{}); return true;
    default: return false;
  }
}

template <typename Fn>
bool dispatch_real(DataType dtype, Fn&& fn) {
  switch (dtype) {
    case DataType::kFloat32: fn(float{}); return true;
    case DataType::kFloat16: fn(__half{}); return true;
    case DataType::kBFloat16: fn(__nv_bfloat16{}); return true;
    default: return false;
  }
}

}  // namespace

cudaError_t launch_dequantize(DataType in_type, DataType out_type, const void* in, const void* scale,
                              const void* zero_point, void* out, int64_t count, int64_t inner, int64_t channels,
                              cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  bool handled = false;
  auto with_input = [&](auto in_tag) {
    using I = decltype(in_tag);
    handled = dispatch_real(out_type, [&](auto out_tag) {
      using O = decltype(out_tag);
      dequantize_kernel<I, O, O><<<grid_for(count), kThreads, 0, stream>>>(
          static_cast<const I*>(in), static_cast<const O*>(scale), static_cast<const I*>(zero_point),
          static_cast<O*>(out), count, inner, channels);
    });
  };
  if (in_type == DataType::kInt32) with_input(int32_t{});
  else dispatch_quantized(in_type, with_input);
  return handled ? cudaGetLastError() : cudaErrorInvalidValue;
}

cudaError_t launch_quantize(DataType in_type, DataType out_type, const void* in, const void* scale,
                            const void* zero_point, void* out, int64_t count, int64_t inner, int64_t channels,
                            cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  bool handled = false;
  dispatch_real(in_type, [&](auto in_tag) {
    using I = decltype(in_tag);
    handled = dispatch_quantized(out_type, [&](auto out_tag) {
      using O = decltype(out_tag);
      quantize_kernel<I, O><<<grid_for(count), kThreads, 0, stream>>>(
          static_cast<const I*>(in), static_cast<const I*>(scale), static_cast<const O*>(zero_point),
          static_cast<O*>(out), count, inner, channels);
    });
  });
  return handled ? cudaGetLastError() : cudaErrorInvalidValue;
}

}  // namespace kiln::cuda
