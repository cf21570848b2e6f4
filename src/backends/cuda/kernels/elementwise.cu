// Device code of the element-wise family: pointwise programs, broadcast
// binary ops, Where, Cast, Not and the strided copy.
#include <cmath>

#include "backends/cuda/kernels/device_math.cuh"
#include "backends/cuda/kernels/fast_index.cuh"

namespace kiln::cuda {
namespace {

constexpr int kThreads = 256;
// Element counts from here on take the 64-bit kernels.
constexpr int64_t kFastLimit = int64_t{1} << 31;


__device__ __forceinline__ float gelu_erf(float x) { return 0.5f * x * (1.f + erff(x * 0.70710678118654752f)); }

// A linear program keeps its two registers (input and previous result) in
// registers; any other indexes a register array, which lives in local memory.
__device__ __forceinline__ float run_program(const DeviceProgram& program, float x) {
  if (program.gelu) return gelu_erf(x);
  if (program.linear) {
    float previous = x;
    for (int k = 0; k < program.length; ++k) {
      const int32_t ra = program.a[k], rb = program.b[k];
      const float a = ra < 0 ? program.constants[-1 - ra] : (ra == 0 ? x : previous);
      const float b = rb < 0 ? program.constants[-1 - rb] : (rb == 0 ? x : previous);
      previous = apply_pointwise(program.op[k], a, b, program.p0[k], program.p1[k]);
    }
    return previous;
  }
  float regs[kMaxProgramLength + 1];
  regs[0] = x;
  for (int k = 0; k < program.length; ++k) {
    int32_t ra = program.a[k], rb = program.b[k];
    float a = ra >= 0 ? regs[ra] : program.constants[-1 - ra];
    float b = rb >= 0 ? regs[rb] : program.constants[-1 - rb];
    regs[k + 1] = apply_pointwise(program.op[k], a, b, program.p0[k], program.p1[k]);
  }
  return regs[program.length];
}

template <typename T>
__global__ void pointwise_program_kernel(const T* in, T* out, const T* bias, int64_t count, int64_t inner,
                                         int64_t channels, DeviceProgram program) {
  KILN_GRID_STRIDE_LOOP(i, count) {
    float x = to_float(in[i]);
    if (bias) x += to_float(bias[(i / inner) % channels]);
    out[i] = from_float<T>(run_program(program, x));
  }
}

template <typename T, int V>
__device__ __forceinline__ Pack<T, V> gelu_pack(const Pack<T, V>& x, const Pack<T, V>& b, bool bias) {
  Pack<T, V> r;
#pragma unroll
  for (int j = 0; j < V; ++j) {
    float v = to_float(x.v[j]);
    if (bias) v += to_float(b.v[j]);
    r.v[j] = from_float<T>(gelu_erf(v));
  }
  return r;
}

// The 32-bit form: V elements per pack share one bias pack (inner == 1,
// channels a multiple of V) or one bias value (inner a multiple of V). GELU
// keeps two packs in flight per thread: its erf leaves too few loads pending
// otherwise.
template <typename T, int V>
__global__ void fast_pointwise_program_kernel(const T* in, T* out, const T* bias, uint32_t packs, FastDivisor inner,
                                              FastDivisor channels, DeviceProgram program) {
  auto bias_pack = [&](uint32_t i) {
    Pack<T, V> b;
    if (bias) {
      const uint32_t row = fast_divide(inner, i);
      const uint32_t channel = row - fast_divide(channels, row) * channels.divisor;
      b = load_pack<V>(bias, channel, inner.divisor == 1);
    }
    return b;
  };
  if (program.gelu) {
    const uint32_t stride = blockDim.x * gridDim.x;
    for (uint32_t p = blockIdx.x * blockDim.x + threadIdx.x; p < packs; p += 2 * stride) {
      const uint32_t p2 = p + stride;
      const bool second = p2 < packs;
      const Pack<T, V> x0 = load_pack<V>(in, p * V, true);
      const Pack<T, V> x1 = second ? load_pack<V>(in, p2 * V, true) : x0;
      const Pack<T, V> b0 = bias_pack(p * V), b1 = second ? bias_pack(p2 * V) : b0;
      store_pack<V>(out, p * V, gelu_pack(x0, b0, bias != nullptr));
      if (second) store_pack<V>(out, p2 * V, gelu_pack(x1, b1, bias != nullptr));
    }
    return;
  }
  KILN_FAST_GRID_LOOP(p, packs) {
    const uint32_t i = p * V;
    Pack<T, V> x = load_pack<V>(in, i, true);
    Pack<T, V> b = bias_pack(i);
    Pack<T, V> r;
    // One copy of the interpreter's switch, not V: the kernel stays small
    // enough for the instruction cache.
#pragma unroll 1
    for (int j = 0; j < V; ++j) {
      float v = to_float(x.v[j]);
      if (bias) v += to_float(b.v[j]);
      r.v[j] = from_float<T>(run_program(program, v));
    }
    store_pack<V>(out, i, r);
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

template <typename T, bool kReturnsBool, int V>
__global__ void fast_binary_kernel(const T* a, const T* b, std::conditional_t<kReturnsBool, bool, T>* out,
                                   uint32_t packs, BinaryOp op, FastIndex index) {
  using Out = std::conditional_t<kReturnsBool, bool, T>;
  const int inner = index.rank - 1;
  const bool a_contiguous = index.strides[0][inner] == 1, b_contiguous = index.strides[1][inner] == 1;
  KILN_FAST_GRID_LOOP(p, packs) {
    uint32_t offset[2];
    fast_offsets(index, p * V, offset);
    const Pack<T, V> x = load_pack<V>(a, offset[0], a_contiguous);
    const Pack<T, V> y = load_pack<V>(b, offset[1], b_contiguous);
    Pack<Out, V> r;
#pragma unroll
    for (int j = 0; j < V; ++j) {
      if constexpr (kReturnsBool) r.v[j] = comparison(op, to_compute(x.v[j]), to_compute(y.v[j]));
      else r.v[j] = from_compute<T>(arithmetic(op, to_compute(x.v[j]), to_compute(y.v[j])));
    }
    store_pack<V>(out, p * V, r);
  }
}

template <typename T>
__global__ void where_kernel(const bool* cond, const T* x, const T* y, T* out, int64_t count, StridedIndex index) {
  KILN_GRID_STRIDE_LOOP(i, count) {
    out[i] = cond[strided_offset(index, 0, i)] ? x[strided_offset(index, 1, i)] : y[strided_offset(index, 2, i)];
  }
}

template <typename T, int V>
__global__ void fast_where_kernel(const bool* cond, const T* x, const T* y, T* out, uint32_t packs, FastIndex index) {
  const int inner = index.rank - 1;
  const bool c_contiguous = index.strides[0][inner] == 1, x_contiguous = index.strides[1][inner] == 1,
             y_contiguous = index.strides[2][inner] == 1;
  KILN_FAST_GRID_LOOP(p, packs) {
    uint32_t offset[3];
    fast_offsets(index, p * V, offset);
    const Pack<bool, V> c = load_pack<V>(cond, offset[0], c_contiguous);
    const Pack<T, V> a = load_pack<V>(x, offset[1], x_contiguous);
    const Pack<T, V> b = load_pack<V>(y, offset[2], y_contiguous);
    Pack<T, V> r;
#pragma unroll
    for (int j = 0; j < V; ++j) r.v[j] = c.v[j] ? a.v[j] : b.v[j];
    store_pack<V>(out, p * V, r);
  }
}

template <typename T>
__global__ void strided_copy_kernel(const T* in, T* out, int64_t count, StridedIndex index) {
  KILN_GRID_STRIDE_LOOP(i, count) { out[i] = in[strided_offset(index, 0, i)]; }
}

template <typename T, int V>
__global__ void fast_strided_copy_kernel(const T* in, T* out, uint32_t packs, FastIndex index) {
  const bool contiguous = index.strides[0][index.rank - 1] == 1;
  KILN_FAST_GRID_LOOP(p, packs) {
    uint32_t offset[1];
    fast_offsets(index, p * V, offset);
    store_pack<V>(out, p * V, load_pack<V>(in, offset[0], contiguous));
  }
}

// Batched 2-D transpose through shared memory: in is [batch, rows, cols]
// (contiguous), out is [batch, cols, rows]. Each block moves a 32 x 32 tile
// so that both the reads and the writes are coalesced.
constexpr int kTile = 32;
constexpr int kTileRows = 8;

template <typename T>
__global__ void transpose_tiles_kernel(const T* in, T* out, uint32_t rows, uint32_t cols) {
  __shared__ T tile[kTile][kTile + 1];  // +1: no bank conflicts on the column reads
  const size_t matrix = static_cast<size_t>(rows) * cols;
  in += blockIdx.z * matrix;
  out += blockIdx.z * matrix;
  const uint32_t row0 = blockIdx.y * kTile, col0 = blockIdx.x * kTile;
  for (uint32_t r = threadIdx.y; r < kTile; r += kTileRows) {
    const uint32_t row = row0 + r, col = col0 + threadIdx.x;
    if (row < rows && col < cols) tile[r][threadIdx.x] = in[static_cast<size_t>(row) * cols + col];
  }
  __syncthreads();
  for (uint32_t c = threadIdx.y; c < kTile; c += kTileRows) {
    const uint32_t col = col0 + c, row = row0 + threadIdx.x;
    if (row < rows && col < cols) out[static_cast<size_t>(col) * rows + row] = tile[threadIdx.x][c];
  }
}

__device__ __forceinline__ bool unary_predicate(UnaryMathOp op, float x) {
  switch (op) {
    case UnaryMathOp::kIsNaN: return isnan(x);
    case UnaryMathOp::kIsInf: return isinf(x);
    case UnaryMathOp::kIsPositiveInf: return isinf(x) && x > 0;
    case UnaryMathOp::kIsNegativeInf: return isinf(x) && x < 0;
    default: return false;
  }
}

__device__ __forceinline__ float unary_math(UnaryMathOp op, float x, float p0, float p1) {
  switch (op) {
    case UnaryMathOp::kSin: return sinf(x);
    case UnaryMathOp::kCos: return cosf(x);
    case UnaryMathOp::kTan: return tanf(x);
    case UnaryMathOp::kAsin: return asinf(x);
    case UnaryMathOp::kAcos: return acosf(x);
    case UnaryMathOp::kAtan: return atanf(x);
    case UnaryMathOp::kSinh: return sinhf(x);
    case UnaryMathOp::kCosh: return coshf(x);
    case UnaryMathOp::kAsinh: return asinhf(x);
    case UnaryMathOp::kAcosh: return acoshf(x);
    case UnaryMathOp::kAtanh: return atanhf(x);
    case UnaryMathOp::kRound: return rintf(x);  // halves to even, as ONNX asks
    case UnaryMathOp::kMish: return x * tanhf(log1pf(expf(x)));
    case UnaryMathOp::kShrink: return x < -p0 ? x + p1 : (x > p0 ? x - p1 : 0.f);
    default: return x;
  }
}

template <typename T>
__global__ void unary_math_kernel(const T* in, void* out, int64_t count, UnaryMathOp op, float p0, float p1) {
  KILN_GRID_STRIDE_LOOP(i, count) {
    const float x = to_float(in[i]);
    if (op >= UnaryMathOp::kIsNaN) static_cast<bool*>(out)[i] = unary_predicate(op, x);
    else static_cast<T*>(out)[i] = from_float<T>(unary_math(op, x, p0, p1));
  }
}

template <typename T, int V>
__global__ void fast_unary_math_kernel(const T* in, void* out, uint32_t packs, UnaryMathOp op, float p0, float p1) {
  const bool predicate = op >= UnaryMathOp::kIsNaN;
  KILN_FAST_GRID_LOOP(p, packs) {
    const Pack<T, V> x = load_pack<V>(in, p * V, true);
    if (predicate) {
      Pack<bool, V> r;
#pragma unroll
      for (int j = 0; j < V; ++j) r.v[j] = unary_predicate(op, to_float(x.v[j]));
      store_pack<V>(static_cast<bool*>(out), p * V, r);
    } else {
      Pack<T, V> r;
#pragma unroll
      for (int j = 0; j < V; ++j) r.v[j] = from_float<T>(unary_math(op, to_float(x.v[j]), p0, p1));
      store_pack<V>(static_cast<T*>(out), p * V, r);
    }
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
  inner = inner < 1 ? 1 : inner;
  channels = channels < 1 ? 1 : channels;
  bool handled = dispatch_float_storage(dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* typed_bias = static_cast<const T*>(bias);
    if (count < kFastLimit && inner < kFastLimit && channels < kFastLimit) {
      constexpr int W = kPackWidth<T>;
      const FastDivisor inner_divisor = make_fast_divisor(static_cast<uint32_t>(inner));
      const FastDivisor channel_divisor = make_fast_divisor(static_cast<uint32_t>(channels));
      const bool bias_fits = !bias || inner % W == 0 || (inner == 1 && channels % W == 0 && is_aligned(bias, sizeof(T) * W));
      if (count % W == 0 && bias_fits && is_aligned(in, sizeof(T) * W) && is_aligned(out, sizeof(T) * W)) {
        fast_pointwise_program_kernel<T, W><<<grid_for_device(count / W), kThreads, 0, stream>>>(
            static_cast<const T*>(in), static_cast<T*>(out), typed_bias, static_cast<uint32_t>(count / W),
            inner_divisor, channel_divisor, program);
      } else {
        fast_pointwise_program_kernel<T, 1><<<grid_for_device(count), kThreads, 0, stream>>>(
            static_cast<const T*>(in), static_cast<T*>(out), typed_bias, static_cast<uint32_t>(count), inner_divisor,
            channel_divisor, program);
      }
      return;
    }
    pointwise_program_kernel<T><<<grid_for(count), kThreads, 0, stream>>>(
        static_cast<const T*>(in), static_cast<T*>(out), typed_bias, count, inner, channels, program);
  });
  return handled ? cudaGetLastError() : cudaErrorInvalidValue;
}

cudaError_t launch_binary(DataType dtype, BinaryOp op, const void* a, const void* b, void* out, int64_t count,
                          const StridedIndex& index, cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  const bool returns_bool = binary_op_returns_bool(op);
  FastIndex fast;
  const bool use_fast = make_fast_index(collapse_index(index, 2), 2, &fast);
  bool handled = dispatch_binary_storage(dtype, [&](auto tag) {
    using T = decltype(tag);
    constexpr int W = kPackWidth<T>;
    const VectorOperand operands[2] = {{a, sizeof(T)}, {b, sizeof(T)}};
    auto launch = [&](auto returns_bool_tag) {
      constexpr bool kBool = decltype(returns_bool_tag)::value;
      using Out = std::conditional_t<kBool, bool, T>;
      const T* x = static_cast<const T*>(a);
      const T* y = static_cast<const T*>(b);
      Out* z = static_cast<Out*>(out);
      if (!use_fast) {
        binary_kernel<T, kBool><<<grid_for(count), kThreads, 0, stream>>>(x, y, z, count, op, index);
      } else if (vector_width(fast, operands, 2, out, sizeof(Out), W) == W) {
        fast_binary_kernel<T, kBool, W><<<grid_for_device(count / W), kThreads, 0, stream>>>(
            x, y, z, static_cast<uint32_t>(count / W), op, fast);
      } else {
        fast_binary_kernel<T, kBool, 1><<<grid_for_device(count), kThreads, 0, stream>>>(
            x, y, z, static_cast<uint32_t>(count), op, fast);
      }
    };
    if (returns_bool) launch(std::true_type{});
    else if constexpr (!std::is_same_v<T, bool>) launch(std::false_type{});
  });
  if (!handled || (!returns_bool && dtype == DataType::kBool)) return cudaErrorInvalidValue;
  return cudaGetLastError();
}

cudaError_t launch_where(size_t element_bytes, const bool* cond, const void* x, const void* y, void* out,
                         int64_t count, const StridedIndex& index, cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  FastIndex fast;
  const bool use_fast = make_fast_index(collapse_index(index, 3), 3, &fast);
  bool handled = dispatch_bytes(element_bytes, [&](auto tag) {
    using T = decltype(tag);
    constexpr int W = kPackWidth<T>;
    const T* a = static_cast<const T*>(x);
    const T* b = static_cast<const T*>(y);
    T* z = static_cast<T*>(out);
    const VectorOperand operands[3] = {{cond, 1}, {x, sizeof(T)}, {y, sizeof(T)}};
    if (!use_fast) {
      where_kernel<T><<<grid_for(count), kThreads, 0, stream>>>(cond, a, b, z, count, index);
    } else if (vector_width(fast, operands, 3, out, sizeof(T), W) == W) {
      fast_where_kernel<T, W><<<grid_for_device(count / W), kThreads, 0, stream>>>(
          cond, a, b, z, static_cast<uint32_t>(count / W), fast);
    } else {
      fast_where_kernel<T, 1><<<grid_for_device(count), kThreads, 0, stream>>>(cond, a, b, z,
                                                                               static_cast<uint32_t>(count), fast);
    }
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
  const StridedIndex collapsed = collapse_index(index, 1);
  FastIndex fast;
  const bool use_fast = make_fast_index(collapsed, 1, &fast);
  bool handled = dispatch_bytes(element_bytes, [&](auto tag) {
    using T = decltype(tag);
    constexpr int W = kPackWidth<T>;
    const T* source = static_cast<const T*>(in);
    T* target = static_cast<T*>(out);
    const VectorOperand operand{in, sizeof(T)};
    if (!use_fast) {
      strided_copy_kernel<T><<<grid_for(count), kThreads, 0, stream>>>(source, target, count, index);
      return;
    }
    // A batched swap of the last two axes ([B, R, C] read as [B, C, R]) reads
    // along columns element by element; tiles make both sides coalesced.
    const int r = fast.rank;
    const bool swap_last_two = r >= 2 && fast.strides[0][r - 1] == fast.dims[r - 2].divisor &&
                               fast.strides[0][r - 2] == 1 && fast.offsets[0] == 0 &&
                               (r == 2 || (r == 3 && fast.strides[0][0] == fast.dims[1].divisor * fast.dims[2].divisor));
    if (swap_last_two && fast.dims[r - 1].divisor >= 8 && fast.dims[r - 2].divisor >= 8) {
      const uint32_t rows = fast.dims[r - 1].divisor, cols = fast.dims[r - 2].divisor;  // of the input
      const uint32_t batch = r == 3 ? fast.dims[0].divisor : 1;
      if (batch <= 65535 && (rows + kTile - 1) / kTile <= 65535) {
        dim3 grid((cols + kTile - 1) / kTile, (rows + kTile - 1) / kTile, batch);
        transpose_tiles_kernel<T><<<grid, dim3(kTile, kTileRows), 0, stream>>>(source, target, rows, cols);
        return;
      }
    }
    if (vector_width(fast, &operand, 1, out, sizeof(T), W) == W) {
      fast_strided_copy_kernel<T, W><<<grid_for_device(count / W), kThreads, 0, stream>>>(
          source, target, static_cast<uint32_t>(count / W), fast);
    } else {
      fast_strided_copy_kernel<T, 1><<<grid_for_device(count), kThreads, 0, stream>>>(
          source, target, static_cast<uint32_t>(count), fast);
    }
  });
  return handled ? cudaGetLastError() : cudaErrorInvalidValue;
}

cudaError_t launch_unary_math(DataType dtype, UnaryMathOp op, const void* in, void* out, int64_t count,
                              cudaStream_t stream, float p0, float p1) {
  if (count == 0) return cudaSuccess;
  bool handled = dispatch_float_storage(dtype, [&](auto tag) {
    using T = decltype(tag);
    constexpr int W = kPackWidth<T>;
    const T* source = static_cast<const T*>(in);
    if (count >= kFastLimit) {
      unary_math_kernel<T><<<grid_for(count), kThreads, 0, stream>>>(source, out, count, op, p0, p1);
      return;
    }
    const size_t out_bytes = unary_math_returns_bool(op) ? 1 : sizeof(T);
    if (count % W == 0 && is_aligned(in, sizeof(T) * W) && is_aligned(out, out_bytes * W)) {
      fast_unary_math_kernel<T, W><<<grid_for_device(count / W), kThreads, 0, stream>>>(
          source, out, static_cast<uint32_t>(count / W), op, p0, p1);
    } else {
      fast_unary_math_kernel<T, 1><<<grid_for_device(count), kThreads, 0, stream>>>(
          source, out, static_cast<uint32_t>(count), op, p0, p1);
    }
  });
  return handled ? cudaGetLastError() : cudaErrorInvalidValue;
}

}  // namespace kiln::cuda
