// Shared pieces of the CPU elementwise kernels: the type arithmetic happens in
// (float for the half types), type dispatch subsets, and output allocation.
#pragma once

#include <string>
#include <type_traits>

#include "backends/cpu/cpu_kernels.h"
#include "backends/cpu/kernels/elementwise_broadcast.h"
#include "core/dispatch.h"

namespace kiln::cpu {

// Half types are storage only: arithmetic on them happens in float.
template <typename T>
using ComputeType = std::conditional_t<kIsHalf<T>, float, T>;

template <typename T>
inline ComputeType<T> widen(T v) {
  return static_cast<ComputeType<T>>(v);
}

// Converts a computed value back to the element type T.
template <typename T, typename V>
inline T narrow(V v) {
  if constexpr (kIsHalf<T>) return T(static_cast<float>(v));
  else return static_cast<T>(v);
}

// The dispatchers below instantiate `fn` only for the types they accept, so a
// kernel may use operations (bit ops, %) that other types lack.
#define KILN_DISPATCH_CASE(enum_value, cpp_type) \
  case DataType::enum_value: fn.template operator()<cpp_type>(); return true;

// Integer types without bool (bitwise ops).
template <typename Fn>
bool dispatch_integer(DataType type, Fn&& fn) {
  switch (type) {
    KILN_DISPATCH_CASE(kInt8, int8_t)
    KILN_DISPATCH_CASE(kInt16, int16_t)
    KILN_DISPATCH_CASE(kInt32, int32_t)
    KILN_DISPATCH_CASE(kInt64, int64_t)
    KILN_DISPATCH_CASE(kUint8, uint8_t)
    KILN_DISPATCH_CASE(kUint16, uint16_t)
    KILN_DISPATCH_CASE(kUint32, uint32_t)
    KILN_DISPATCH_CASE(kUint64, uint64_t)
    default: return false;
  }
}

// Signed integers and float types (Neg, Relu, ...).
template <typename Fn>
bool dispatch_signed(DataType type, Fn&& fn) {
  switch (type) {
    KILN_DISPATCH_CASE(kInt8, int8_t)
    KILN_DISPATCH_CASE(kInt16, int16_t)
    KILN_DISPATCH_CASE(kInt32, int32_t)
    KILN_DISPATCH_CASE(kInt64, int64_t)
    default: return dispatch_float(type, fn);
  }
}

// Every numeric type except bool (arithmetic ops).
template <typename Fn>
bool dispatch_numeric(DataType type, Fn&& fn) {
  switch (type) {
    KILN_DISPATCH_CASE(kUint8, uint8_t)
    KILN_DISPATCH_CASE(kUint16, uint16_t)
    KILN_DISPATCH_CASE(kUint32, uint32_t)
    KILN_DISPATCH_CASE(kUint64, uint64_t)
    default: return dispatch_signed(type, fn);
  }
}

#undef KILN_DISPATCH_CASE

// Output i: the tensor the executor allocated, or a new one of `dims` when it
// could not (inference left the dims open).
inline Tensor& prepare_output(KernelArgs& args, size_t i, DataType dtype, const Dims& dims) {
  Tensor& out = args.output(i);
  if (!out.defined() || out.dtype() != dtype || out.dims() != dims) out = Tensor::empty(dtype, dims);
  return out;
}

// Broadcast plan of the present inputs, with the legacy (opset < 7) alignment of
// the second input. Errors name the node.
Expected<BroadcastPlan> plan_for_inputs(const KernelArgs& args);

void register_elementwise_binary_kernels(KernelTable& table);
void register_elementwise_variadic_kernels(KernelTable& table);
void register_elementwise_unary_kernels(KernelTable& table);
void register_elementwise_activation_kernels(KernelTable& table);
void register_elementwise_conversion_kernels(KernelTable& table);

}  // namespace kiln::cpu
