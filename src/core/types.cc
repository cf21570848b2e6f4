#include "kiln/types.h"

#include <algorithm>
#include <cstring>
#include <sstream>

namespace kiln {

size_t dtype_size(DataType type) {
  switch (type) {
    case DataType::kFloat32:
    case DataType::kInt32:
    case DataType::kUint32:
      return 4;
    case DataType::kUint8:
    case DataType::kInt8:
    case DataType::kBool:
      return 1;
    case DataType::kUint16:
    case DataType::kInt16:
    case DataType::kFloat16:
    case DataType::kBFloat16:
      return 2;
    case DataType::kInt64:
    case DataType::kFloat64:
    case DataType::kUint64:
      return 8;
    case DataType::kUndefined:
    case DataType::kString:
      return 0;
  }
  return 0;
}

const char* dtype_name(DataType type) {
  switch (type) {
    case DataType::kUndefined:
      return "undefined";
    case DataType::kFloat32:
      return "float32";
    case DataType::kUint8:
      return "uint8";
    case DataType::kInt8:
      return "int8";
    case DataType::kUint16:
      return "uint16";
    case DataType::kInt16:
      return "int16";
    case DataType::kInt32:
      return "int32";
    case DataType::kInt64:
      return "int64";
    case DataType::kString:
      return "string";
    case DataType::kBool:
      return "bool";
    case DataType::kFloat16:
      return "float16";
    case DataType::kFloat64:
      return "float64";
    case DataType::kUint32:
      return "uint32";
    case DataType::kUint64:
      return "uint64";
    case DataType::kBFloat16:
      return "bfloat16";
  }
  return "invalid";
}

bool dtype_is_valid(int32_t raw) { return (raw >= 1 && raw <= 13) || raw == 16; }

Expected<DataType> dtype_from_name(const std::string& name) {
  for (int32_t raw : {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 16}) {
    auto t = static_cast<DataType>(raw);
    if (name == dtype_name(t)) return t;
  }
  if (name == "float" || name == "fp32") return DataType::kFloat32;
  if (name == "half" || name == "fp16") return DataType::kFloat16;
  if (name == "double" || name == "fp64") return DataType::kFloat64;
  if (name == "bf16") return DataType::kBFloat16;
  return invalid_argument("unknown data type '" + name + "'");
}

bool dtype_is_float(DataType t) {
  return t == DataType::kFloat32 || t == DataType::kFloat64 || t == DataType::kFloat16 || t == DataType::kBFloat16;
}
bool dtype_is_integer(DataType t) {
  switch (t) {
    case DataType::kUint8:
    case DataType::kInt8:
    case DataType::kUint16:
    case DataType::kInt16:
    case DataType::kInt32:
    case DataType::kInt64:
    case DataType::kUint32:
    case DataType::kUint64:
      return true;
    default:
      return false;
  }
}
bool dtype_is_signed(DataType t) {
  return t == DataType::kInt8 || t == DataType::kInt16 || t == DataType::kInt32 || t == DataType::kInt64 ||
         dtype_is_float(t);
}

// float <-> binary16 with round-to-nearest-even, subnormals, inf and nan.
uint16_t float_to_half(float value) {
  uint32_t f;
  std::memcpy(&f, &value, 4);
  uint32_t sign = (f >> 16) & 0x8000u;
  uint32_t abs = f & 0x7fffffffu;
  if (abs >= 0x7f800000u) {  // inf or nan
    return static_cast<uint16_t>(sign | 0x7c00u | (abs > 0x7f800000u ? 0x200u : 0u));
  }
  if (abs >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // overflow -> inf
  if (abs < 0x38800000u) {                                               // subnormal half or zero
    if (abs < 0x33000000u) return static_cast<uint16_t>(sign);
    uint32_t mant = (abs & 0x007fffffu) | 0x00800000u;
    int shift = 113 - static_cast<int>(abs >> 23) + 13;
    uint32_t half_mant = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1u);
    uint32_t halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (half_mant & 1u))) ++half_mant;
    return static_cast<uint16_t>(sign | half_mant);
  }
  uint32_t exp = ((abs >> 23) - 112) << 10;
  uint32_t mant = (abs >> 13) & 0x3ffu;
  uint32_t h = exp | mant;
  uint32_t rem = abs & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;
  return static_cast<uint16_t>(sign | h);
}

float half_to_float(uint16_t h) {
  uint32_t sign = (h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  uint32_t f;
  if (exp == 0) {
    if (mant == 0) {
      f = sign;
    } else {
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400u) == 0);
      f = sign | (static_cast<uint32_t>(112 - e) << 23) | ((mant & 0x3ffu) << 13);
    }
  } else if (exp == 31) {
    f = sign | 0x7f800000u | (mant << 13);
  } else {
    f = sign | ((exp + 112) << 23) | (mant << 13);
  }
  float out;
  std::memcpy(&out, &f, 4);
  return out;
}

Float16::Float16(float value) : bits(float_to_half(value)) {}
Float16::operator float() const { return half_to_float(bits); }

BFloat16::BFloat16(float value) {
  uint32_t f;
  std::memcpy(&f, &value, 4);
  if ((f & 0x7fffffffu) > 0x7f800000u) {
    bits = static_cast<uint16_t>((f >> 16) | 0x40u);  // quiet nan
  } else {
    uint32_t rounding = 0x7fffu + ((f >> 16) & 1u);
    bits = static_cast<uint16_t>((f + rounding) >> 16);
  }
}
BFloat16::operator float() const {
  uint32_t f = static_cast<uint32_t>(bits) << 16;
  float out;
  std::memcpy(&out, &f, 4);
  return out;
}

int64_t element_count(const Dims& dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

int64_t element_count(const Dims& dims, int64_t begin, int64_t end) {
  const int64_t rank = static_cast<int64_t>(dims.size());
  int64_t n = 1;
  for (int64_t i = std::max<int64_t>(begin, 0); i < std::min(end, rank); ++i) n *= dims[i];
  return n;
}

std::string dims_to_string(const Dims& dims) {
  if (dims.empty()) return "scalar";
  std::string out;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i) out += 'x';
    out += std::to_string(dims[i]);
  }
  return out;
}

Expected<Dims> parse_dims(const std::string& text) {
  Dims dims;
  if (text.empty() || text == "scalar") return dims;
  std::string token;
  auto flush = [&]() -> Status {
    if (token.empty()) return invalid_argument("malformed shape '" + text + "': empty extent");
    for (char c : token) {
      if (c < '0' || c > '9')
        return invalid_argument("malformed shape '" + text + "': '" + token + "' is not a non-negative integer");
    }
    if (token.size() > 15)
      return invalid_argument("malformed shape '" + text + "': extent '" + token + "' is too large");
    dims.push_back(std::stoll(token));
    token.clear();
    return ok_status();
  };
  for (char c : text) {
    if (c == 'x' || c == 'X' || c == ',' || c == '*') {
      KILN_RETURN_IF_ERROR(flush());
    } else {
      token += c;
    }
  }
  KILN_RETURN_IF_ERROR(flush());
  return dims;
}

std::string Dim::to_string() const {
  if (is_known()) return std::to_string(value);
  if (!symbol.empty()) return symbol;
  return "?";
}

Shape Shape::from_dims(const Dims& dims) {
  std::vector<Dim> out;
  out.reserve(dims.size());
  for (int64_t d : dims) out.push_back(d >= 0 ? Dim::known(d) : Dim());
  return Shape(std::move(out));
}

bool Shape::is_static() const {
  if (!ranked_) return false;
  for (const Dim& d : dims_)
    if (!d.is_known()) return false;
  return true;
}

Dims Shape::known_dims() const {
  Dims out;
  for (const Dim& d : dims_) out.push_back(d.is_known() ? d.value : -1);
  return out;
}

bool Shape::accepts(const Dims& concrete) const {
  if (!ranked_) return true;
  if (concrete.size() != dims_.size()) return false;
  for (size_t i = 0; i < dims_.size(); ++i) {
    if (dims_[i].is_known() && dims_[i].value != concrete[i]) return false;
  }
  return true;
}

std::string Shape::to_string() const {
  if (!ranked_) return "unranked";
  if (dims_.empty()) return "scalar";
  std::string out;
  for (size_t i = 0; i < dims_.size(); ++i) {
    if (i) out += 'x';
    out += dims_[i].to_string();
  }
  return out;
}

}  // namespace kiln
