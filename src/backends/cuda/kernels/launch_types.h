// Plain structs passed by value from host launch code to CUDA kernels, and the
// launcher declarations of the element-wise family. Shared by .cc and .cu
// files, so only plain C++ and CUDA runtime types here.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kiln/types.h"

namespace kiln::cuda {

constexpr int kMaxRank = 8;

// Output-driven indexing for up to three inputs with numpy broadcasting (and
// arbitrary strides): output element i has coordinates in `dims`; input k's
// element is at sum(coordinate[d] * strides[k][d]) + offsets[k].
struct StridedIndex {
  int rank = 0;
  int64_t dims[kMaxRank] = {};
  int64_t strides[3][kMaxRank] = {};
  int64_t offsets[3] = {};
};

// A pointwise program (ir/pointwise_program.h) flattened for the device.
constexpr int kMaxProgramLength = 32;
constexpr int kMaxProgramConstants = 32;
struct DeviceProgram {
  int32_t length = 0;
  // Every operand is the input (register 0), the previous result or a
  // constant (activation tails such as GELU): two registers suffice.
  int32_t linear = 0;
  // The program computes GELU (erf form), run as one expression instead of interpreted.
  int32_t gelu = 0;
  int32_t op[kMaxProgramLength] = {};
  int32_t a[kMaxProgramLength] = {};
  int32_t b[kMaxProgramLength] = {};
  float p0[kMaxProgramLength] = {};
  float p1[kMaxProgramLength] = {};
  float constants[kMaxProgramConstants] = {};
};

// Device opcodes of the pointwise program; the values equal kiln::PointwiseOp's
// (checked by static_assert in elementwise_kernels.cc).
enum DevicePointwiseOp : int32_t {
  kPwRelu, kPwSigmoid, kPwTanh, kPwErf, kPwExp, kPwLog, kPwSqrt, kPwAbs, kPwNeg, kPwReciprocal, kPwFloor, kPwCeil,
  kPwSoftplus, kPwSoftsign, kPwHardSwish, kPwSign,
  kPwLeakyRelu, kPwElu, kPwSelu, kPwHardSigmoid, kPwClip, kPwCelu, kPwThresholdedRelu,
  kPwAdd, kPwSub, kPwMul, kPwDiv, kPwPow, kPwMax, kPwMin,
  kPwCount,
};

enum class BinaryOp : int32_t {
  // arithmetic: output has the input type
  kAdd, kSub, kMul, kDiv, kPow, kMax, kMin, kMod, kFmod, kPRelu, kShiftLeft, kShiftRight,
  // comparisons and logic: output is bool
  kEqual, kLess, kGreater, kLessOrEqual, kGreaterOrEqual, kAnd, kOr, kXor,
};
inline bool binary_op_returns_bool(BinaryOp op) { return op >= BinaryOp::kEqual; }

// Launchers: each returns cudaGetLastError() after its launch (cudaSuccess for
// empty work) and cudaErrorInvalidValue for a dtype it was not built for.

// out[i] = program(in[i] + bias[(i / inner) % channels]); bias may be null;
// in may equal out. Float types only.
cudaError_t launch_pointwise_program(DataType dtype, const void* in, void* out, const void* bias, int64_t count,
                                     int64_t inner, int64_t channels, const DeviceProgram& program,
                                     cudaStream_t stream);

// out = op(a, b) with index strides[0] for a, strides[1] for b.
cudaError_t launch_binary(DataType dtype, BinaryOp op, const void* a, const void* b, void* out, int64_t count,
                          const StridedIndex& index, cudaStream_t stream);

// out = cond ? x : y with strides[0] cond, [1] x, [2] y; element_bytes 1, 2, 4 or 8.
cudaError_t launch_where(size_t element_bytes, const bool* cond, const void* x, const void* y, void* out,
                         int64_t count, const StridedIndex& index, cudaStream_t stream);

cudaError_t launch_cast(DataType from, DataType to, const void* in, void* out, int64_t count, cudaStream_t stream);

// out[i] = !in[i] on bool.
cudaError_t launch_logical_not(const bool* in, bool* out, int64_t count, cudaStream_t stream);

// out[i] = in[strided offset of i] (strides[0]); element_bytes 1, 2, 4 or 8.
// Transpose, Expand, Slice and broadcast materialisation all use it.
cudaError_t launch_strided_copy(size_t element_bytes, const void* in, void* out, int64_t count,
                                const StridedIndex& index, cudaStream_t stream);

// Whether `p` may be read as packs of `bytes` (the vectorised kernels' test).
inline bool is_aligned(const void* p, size_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }

// Grid size for a grid-stride loop over `count` elements.
inline unsigned grid_for(int64_t count, int threads = 256) {
  int64_t blocks = (count + threads - 1) / threads;
  if (blocks > 65535 * 8) blocks = 65535 * 8;
  return static_cast<unsigned>(blocks < 1 ? 1 : blocks);
}

}  // namespace kiln::cuda

namespace kiln::cuda {

// Element-wise math outside the pointwise program's opcode set.
enum class UnaryMathOp : int32_t {
  kSin, kCos, kTan, kAsin, kAcos, kAtan, kSinh, kCosh, kAsinh, kAcosh, kAtanh, kRound, kMish,
  kShrink,  // p0 = lambd, p1 = bias
  // bool output
  kIsNaN, kIsInf, kIsPositiveInf, kIsNegativeInf,
};
inline bool unary_math_returns_bool(UnaryMathOp op) { return op >= UnaryMathOp::kIsNaN; }

// Float types only.
cudaError_t launch_unary_math(DataType dtype, UnaryMathOp op, const void* in, void* out, int64_t count,
                              cudaStream_t stream, float p0 = 0, float p1 = 0);

}  // namespace kiln::cuda

namespace kiln::cuda {

// DequantizeLinear: out[i] = (in[i] - zero_point[c]) * scale[c], c = (i / inner) % channels
// (channels = 1 for per-tensor). zero_point may be null.
cudaError_t launch_dequantize(DataType in_type, DataType out_type, const void* in, const void* scale,
                              const void* zero_point, void* out, int64_t count, int64_t inner, int64_t channels,
                              cudaStream_t stream);

// QuantizeLinear: out[i] = saturate(round_half_even(in[i] / scale[c]) + zero_point[c]).
cudaError_t launch_quantize(DataType in_type, DataType out_type, const void* in, const void* scale,
                            const void* zero_point, void* out, int64_t count, int64_t inner, int64_t channels,
                            cudaStream_t stream);

}  // namespace kiln::cuda
