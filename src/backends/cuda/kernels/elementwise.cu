// Device code of the element-wise family: pointwise programs, broadcast
// binary ops, Where, Cast, Not and the strided copy.
#include <cmath>

#include "backends/cuda/kernels/device_math.cuh"

namespace kiln::cuda {
namespace {

constexpr int kThreads = 256;

template <typename T>
__global__ void pointwise_program_kernel(const T* in, T* out, const T* bias, int64_t count, int64_t inner,
                                         int64_t channels, DeviceProgram program) {
  KILN_GRID_STRIDE_LOOP(i, count) {
    float regs[kMaxProgramLength + 1];
    regs[0] = to_float(in[i]);
    if (bias) regs[0] += to_float(bias[(i / inner) % channels]);
    for (int k = 0; k < program.length; ++k) {
      int32_t ra = program.a[k], rb = program.b[k];
      float a = ra >= 0 ? regs[ra] : program.constants[-1 - ra];
      float b = rb >= 0 ? regs[rb] : program.constants[-1 - rb];
      regs[k + 1] = apply_pointwise(program.op[k], a, b, program.p0[k], program.p1[k]);
    }
    out[i] = from_float<T>(regs[program.length]);
  }
}

template <typename C>
__device__ __forceinline__ C arithmetic(BinaryOp op, C a, C b) {
  switch (op) {
    case BinaryOp::kAdd: return a + b;
    case BinaryOp::kSub: return a - b;
    case BinaryOp::kMul: return a * b;
    case BinaryOp::kDiv:
      if constexpr (std::is_integral_v<C>) return b == 0 ? C(0) : a / b;
      else return a / b;
    case BinaryOp::kPow:
      if constexpr (std::is_same_v<C, float>) return powf(a, b);
      else return static_cast<C>(pow(static_cast<double>(a), static_cast<double>(b)));
    case BinaryOp::kMax: return a > b ? a : b;
    case BinaryOp::kMin: return a < b ? a : b;
    case BinaryOp::kMod:
      if constexpr (std::is_integral_v<C>) {
        if (b == 0) return C(0);
        C r = a % b;
        if constexpr (std::is_signed_v<C>) {
          if (r != 0 && ((r < 0) != (b < 0))) r += b;  // the result takes the divisor's sign
        }
        return r;
      } else {
        C r = fmod(a, b);
        if (r != 0 && ((r < 0) != (b < 0))) r += b;
        return r;
      }
    case BinaryOp::kFmod:
      if constexpr (std::is_integral_v<C>) return b == 0 ? C(0) : a % b;
      else return fmod(a, b);
    case BinaryOp::kPRelu:
      if constexpr (std::is_unsigned_v<C>) return a;
      else return a < C(0) ? a * b : a;
    case BinaryOp::kShiftLeft:
      if constexpr (std::is_integral_v<C>) return b >= C(sizeof(C) * 8) ? C(0) : static_cast<C>(a << b);
      else return a;
    case BinaryOp::kShiftRight:
      if constexpr (std::is_integral_v<C>) return b >= C(sizeof(C) * 8) ? C(0) : static_cast<C>(a >> b);
      else return a;
    default: return a;
  }
}

template <typename C>
__device__ __forceinline__ bool comparison(BinaryOp op, C a, C b) {
  switch (op) {
    case BinaryOp::kEqual: return a == b;
    case BinaryOp::kLess: return a < b;
    case BinaryOp::kGreater: return a > b;
    case BinaryOp::kLessOrEqual: return a <= b;
    case BinaryOp::kGreaterOrEqual: return a >= b;
    case BinaryOp::kAnd: return a && b;
    case BinaryOp::kOr: return a || b;
    case BinaryOp::kXor: return (a != C(0)) != (b != C(0));
    default: return false;
  }
}

template <typename T, bool kReturnsBool>
__global__ void binary_kernel(const T* a, const T* b, std::conditional_t<kReturnsBool, bool, T>* out, int64_t count,
                              BinaryOp op, StridedIndex index) {
  KILN_GRID_STRIDE_LOOP(i, count) {
    ComputeType<T> x = to_compute(a[strided_offset(index, 0, i)]);
    ComputeType<T> y = to_compute(b[strided_offset(index, 1, i)]);
    if constexpr (kReturnsBool) out[i] = comparison(op, x, y);
    else out[i] = from_compute<T>(arithmetic(op, x, y));
  }
}

template <typename T>
__global__ void where_kernel(const bool* cond, const T* x, const T* y, T* out, int64_t count, StridedIndex index) {
  KILN_GRID_STRIDE_LOOP(i, count) {
    out[i] = cond[strided_offset(index, 0, i)] ? x[strided_offset(index, 1, i)] : y[strided_offset(index, 2, i)];
  }
}

template <typename T>
__global__ void strided_copy_kernel(const T* in, T* out, int64_t count, StridedIndex index) {
  KILN_GRID_STRIDE_LOOP(i, count) { out[i] = in[strided_offset(index, 0, i)]; }
}

template <typename T>
__global__ void unary_math_kernel(const T* in, void* out, int64_t count, UnaryMathOp op, float p0, float p1) {
  KILN_GRID_STRIDE_LOOP(i, count) {
    const float x = to_float(in[i]);
    if (op >= UnaryMathOp::kIsNaN) {  // bool results
      bool r = false;
      switch (op) {
        case UnaryMathOp::kIsNaN: r = isnan(x); break;
        case UnaryMathOp::kIsInf: r = isinf(x); break;
        case UnaryMathOp::kIsPositiveInf: r = isinf(x) && x > 0; break;
        case UnaryMathOp::kIsNegativeInf: r = isinf(x) && x < 0; break;
        default: break;
      }
      static_cast<bool*>(out)[i] = r;
      continue;
    }
    float r = x;
    switch (op) {
      case UnaryMathOp::kSin: r = sinf(x); break;
      case UnaryMathOp::kCos: r = cosf(x); break;
      case UnaryMathOp::kTan: r = tanf(x); break;
      case UnaryMathOp::kAsin: r = asinf(x); break;
      case UnaryMathOp::kAcos: r = acosf(x); break;
      case UnaryMathOp::kAtan: r = atanf(x); break;
      case UnaryMathOp::kSinh: r = sinhf(x); break;
      case UnaryMathOp::kCosh: r = coshf(x); break;
      case UnaryMathOp::kAsinh: r = asinhf(x); break;
      case UnaryMathOp::kAcosh: r = acoshf(x); break;
      case UnaryMathOp::kAtanh: r = atanhf(x); break;
      case UnaryMathOp::kRound: r = rintf(x); break;  // halves to even, as ONNX asks
      case UnaryMathOp::kMish: r = x * tanhf(log1pf(expf(x))); break;
      case UnaryMathOp::kShrink: r = x < -p0 ? x + p1 : (x > p0 ? x - p1 : 0.f); break;
      default: break;
    }
    static_cast<T*>(out)[i] = from_float<T>(r);
  }
}

template <typename D, typename S>
__device__ __forceinline__ D convert(S v) {
  if constexpr (std::is_same_v<D, S>) return v;
  else if constexpr (IsHalfType<S>::value) return convert<D>(to_float(v));
  else if constexpr (IsHalfType<D>::value) return from_float<D>(static_cast<float>(v));
  else if constexpr (std::is_same_v<D, bool>) return v != S(0);
  else if constexpr (std::is_integral_v<D> && std::is_floating_point_v<S>) return isnan(v) ? D(0) : static_cast<D>(v);
  else return static_cast<D>(v);
}

template <typename S, typename D>
__global__ void cast_kernel(const S* in, D* out, int64_t count) {
  KILN_GRID_STRIDE_LOOP(i, count) { out[i] = convert<D>(in[i]); }
}

__global__ void not_kernel(const bool* in, bool* out, int64_t count) {
  KILN_GRID_STRIDE_LOOP(i, count) { out[i] = !in[i]; }
}

// Calls fn with a value of the storage type for `dtype`; false when not handled.
template <typename Fn>
bool dispatch_storage(DataType dtype, Fn&& fn) {
  switch (dtype) {
    case DataType::kFloat32: fn(float{}); return true;
    case DataType::kFloat16: fn(__half{}); return true;
    case DataType::kBFloat16: fn(__nv_bfloat16{}); return true;
    case DataType::kFloat64: fn(double{}); return true;
    case DataType::kInt8: fn(int8_t{}); return true;
    case DataType::kUint8: fn(uint8_t{}); return true;
    case DataType::kInt32: fn(int32_t{}); return true;
    case DataType::kInt64: fn(int64_t{}); return true;
    case DataType::kBool: fn(bool{}); return true;
    default: return false;
  }
}

// Binary ops also take the less common integer types.
template <typename Fn>
bool dispatch_binary_storage(DataType dtype, Fn&& fn) {
  switch (dtype) {
    case DataType::kInt16: fn(int16_t{}); return true;
    case DataType::kUint16: fn(uint16_t{}); return true;
    case DataType::kUint32: fn(uint32_t{}); return true;
    case DataType::kUint64: fn(uint64_t{}); return true;
    default: return dispatch_storage(dtype, fn);
  }
}

template <typename Fn>
bool dispatch_float_storage(DataType dtype, Fn&& fn) {
  switch (dtype) {
    case DataType::kFloat32: fn(float{}); return true;
    case DataType::kFloat16: fn(__half{}); return true;
    case DataType::kBFloat16: fn(__nv_bfloat16{}); return true;
    default: return false;
  }
}

}  // namespace

cudaError_t launch_pointwise_program(DataType dtype, const void* in, void* out, const void* bias, int64_t count,
                                     int64_t inner, int64_t channels, const DeviceProgram& program,
                                     cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  bool handled = dispatch_float_storage(dtype, [&](auto tag) {
    using T = decltype(tag);
    pointwise_program_kernel<T><<<grid_for(count), kThreads, 0, stream>>>(
        static_cast<const T*>(in), static_cast<T*>(out), static_cast<const T*>(bias), count,
        inner < 1 ? 1 : inner, channels < 1 ? 1 : channels, program);
  });
  return handled ? cudaGetLastError() : cudaErrorInvalidValue;
}

cudaError_t launch_binary(DataType dtype, BinaryOp op, const void* a, const void* b, void* out, int64_t count,
                          const StridedIndex& index, cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  const bool returns_bool = binary_op_returns_bool(op);
  bool handled = dispatch_binary_storage(dtype, [&](auto tag) {
    using T = decltype(tag);
    if (returns_bool) {
      binary_kernel<T, true><<<grid_for(count), kThreads, 0, stream>>>(
          static_cast<const T*>(a), static_cast<const T*>(b), static_cast<bool*>(out), count, op, index);
    } else if constexpr (!std::is_same_v<T, bool>) {
      binary_kernel<T, false><<<grid_for(count), kThreads, 0, stream>>>(
          static_cast<const T*>(a), static_cast<const T*>(b), static_cast<T*>(out), count, op, index);
    }
  });
  if (!handled || (!returns_bool && dtype == DataType::kBool)) return cudaErrorInvalidValue;
  return cudaGetLastError();
}

cudaError_t launch_where(size_t element_bytes, const bool* cond, const void* x, const void* y, void* out,
                         int64_t count, const StridedIndex& index, cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  bool handled = dispatch_bytes(element_bytes, [&](auto tag) {
    using T = decltype(tag);
    where_kernel<T><<<grid_for(count), kThreads, 0, stream>>>(cond, static_cast<const T*>(x),
                                                              static_cast<const T*>(y), static_cast<T*>(out),
                                                              count, index);
  });
  return handled ? cudaGetLastError() : cudaErrorInvalidValue;
}

cudaError_t launch_cast(DataType from, DataType to, const void* in, void* out, int64_t count, cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  bool handled = false;
  dispatch_storage(from, [&](auto source_tag) {
    using S = decltype(source_tag);
    handled = dispatch_storage(to, [&](auto target_tag) {
      using D = decltype(target_tag);
      cast_kernel<S, D><<<grid_for(count), kThreads, 0, stream>>>(static_cast<const S*>(in), static_cast<D*>(out),
                                                                  count);
    });
  });
  return handled ? cudaGetLastError() : cudaErrorInvalidValue;
}

cudaError_t launch_logical_not(const bool* in, bool* out, int64_t count, cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  not_kernel<<<grid_for(count), kThreads, 0, stream>>>(in, out, count);
  return cudaGetLastError();
}

cudaError_t launch_strided_copy(size_t element_bytes, const void* in, void* out, int64_t count,
                                const StridedIndex& index, cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  bool handled = dispatch_bytes(element_bytes, [&](auto tag) {
    using T = decltype(tag);
    strided_copy_kernel<T><<<grid_for(count), kThreads, 0, stream>>>(static_cast<const T*>(in),
                                                                     static_cast<T*>(out), count, index);
  });
  return handled ? cudaGetLastError() : cudaErrorInvalidValue;
}

cudaError_t launch_unary_math(DataType dtype, UnaryMathOp op, const void* in, void* out, int64_t count,
                              cudaStream_t stream, float p0, float p1) {
  if (count == 0) return cudaSuccess;
  bool handled = dispatch_float_storage(dtype, [&](auto tag) {
    using T = decltype(tag);
    unary_math_kernel<T><<<grid_for(count), kThreads, 0, stream>>>(static_cast<const T*>(in), out, count, op, p0, p1);
  });
  return handled ? cudaGetLastError() : cudaErrorInvalidValue;
}

}  // namespace kiln::cuda
