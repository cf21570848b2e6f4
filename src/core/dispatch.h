// Type dispatch for kernels: turn a runtime DataType into a C++ type once,
// so each kernel is written once as a template.
#pragma once

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "kiln/types.h"

namespace kiln {

template <typename T> struct CppType;
template <> struct CppType<float> { static constexpr DataType kType = DataType::kFloat32; };
template <> struct CppType<double> { static constexpr DataType kType = DataType::kFloat64; };
template <> struct CppType<Float16> { static constexpr DataType kType = DataType::kFloat16; };
template <> struct CppType<BFloat16> { static constexpr DataType kType = DataType::kBFloat16; };
template <> struct CppType<int8_t> { static constexpr DataType kType = DataType::kInt8; };
template <> struct CppType<int16_t> { static constexpr DataType kType = DataType::kInt16; };
template <> struct CppType<int32_t> { static constexpr DataType kType = DataType::kInt32; };
template <> struct CppType<int64_t> { static constexpr DataType kType = DataType::kInt64; };
template <> struct CppType<uint8_t> { static constexpr DataType kType = DataType::kUint8; };
template <> struct CppType<uint16_t> { static constexpr DataType kType = DataType::kUint16; };
template <> struct CppType<uint32_t> { static constexpr DataType kType = DataType::kUint32; };
template <> struct CppType<uint64_t> { static constexpr DataType kType = DataType::kUint64; };
template <> struct CppType<bool> { static constexpr DataType kType = DataType::kBool; };

template <typename T>
constexpr bool kIsHalf = std::is_same_v<T, Float16> || std::is_same_v<T, BFloat16>;

template <typename T>
inline double to_double(T v) {
  if constexpr (kIsHalf<T>) return static_cast<double>(static_cast<float>(v));
  else return static_cast<double>(v);
}

template <typename T>
inline T from_double(double v) {
  if constexpr (kIsHalf<T>) return T(static_cast<float>(v));
  else if constexpr (std::is_same_v<T, bool>) return v != 0.0;
  else if constexpr (std::is_integral_v<T>) {
    if (std::isnan(v)) return T(0);
    return static_cast<T>(static_cast<int64_t>(v));
  } else return static_cast<T>(v);
}

// Element conversion with C++ semantics; half types go through float.
template <typename D, typename S>
inline D convert_element(S v) {
  if constexpr (std::is_same_v<D, S>) return v;
  else if constexpr (kIsHalf<S> && kIsHalf<D>) return D(static_cast<float>(v));
  else if constexpr (kIsHalf<S>) return convert_element<D>(static_cast<float>(v));
  else if constexpr (kIsHalf<D>) return D(static_cast<float>(v));
  else if constexpr (std::is_same_v<D, bool>) return v != S(0);
  else if constexpr (std::is_integral_v<D> && std::is_floating_point_v<S>) {
    if (std::isnan(v)) return D(0);
    if constexpr (std::is_unsigned_v<D>) {
      if (v < 0) return static_cast<D>(static_cast<int64_t>(v));
    }
    return static_cast<D>(v);
  } else return static_cast<D>(v);
}

// fn.template operator()<T>() for the C++ type of `type`; returns false when
// the type is not numeric (string, undefined).
template <typename Fn>
bool dispatch_all_numeric(DataType type, Fn&& fn) {
  switch (type) {
    case DataType::kFloat32: fn.template operator()<float>(); return true;
    case DataType::kFloat64: fn.template operator()<double>(); return true;
    case DataType::kFloat16: fn.template operator()<Float16>(); return true;
    case DataType::kBFloat16: fn.template operator()<BFloat16>(); return true;
    case DataType::kInt8: fn.template operator()<int8_t>(); return true;
    case DataType::kInt16: fn.template operator()<int16_t>(); return true;
    case DataType::kInt32: fn.template operator()<int32_t>(); return true;
    case DataType::kInt64: fn.template operator()<int64_t>(); return true;
    case DataType::kUint8: fn.template operator()<uint8_t>(); return true;
    case DataType::kUint16: fn.template operator()<uint16_t>(); return true;
    case DataType::kUint32: fn.template operator()<uint32_t>(); return true;
    case DataType::kUint64: fn.template operator()<uint64_t>(); return true;
    case DataType::kBool: fn.template operator()<bool>(); return true;
    default: return false;
  }
}

// Float types only (float, double, float16, bfloat16).
template <typename Fn>
bool dispatch_float(DataType type, Fn&& fn) {
  switch (type) {
    case DataType::kFloat32: fn.template operator()<float>(); return true;
    case DataType::kFloat64: fn.template operator()<double>(); return true;
    case DataType::kFloat16: fn.template operator()<Float16>(); return true;
    case DataType::kBFloat16: fn.template operator()<BFloat16>(); return true;
    default: return false;
  }
}

// Arithmetic types without bool and without half types: kernels that compute
// in the element type itself.
template <typename Fn>
bool dispatch_arithmetic(DataType type, Fn&& fn) {
  switch (type) {
    case DataType::kFloat32: fn.template operator()<float>(); return true;
    case DataType::kFloat64: fn.template operator()<double>(); return true;
    case DataType::kInt8: fn.template operator()<int8_t>(); return true;
    case DataType::kInt16: fn.template operator()<int16_t>(); return true;
    case DataType::kInt32: fn.template operator()<int32_t>(); return true;
    case DataType::kInt64: fn.template operator()<int64_t>(); return true;
    case DataType::kUint8: fn.template operator()<uint8_t>(); return true;
    case DataType::kUint16: fn.template operator()<uint16_t>(); return true;
    case DataType::kUint32: fn.template operator()<uint32_t>(); return true;
    case DataType::kUint64: fn.template operator()<uint64_t>(); return true;
    default: return false;
  }
}

}  // namespace kiln
