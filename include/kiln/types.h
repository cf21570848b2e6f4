// Element types, half-precision storage types and shapes with symbolic dimensions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kiln/status.h"

namespace kiln {

// Numbering follows the ONNX TensorProto enum so that plan files and importers
// can store it directly; backends only ever see the enum.
enum class DataType : int32_t {
  kUndefined = 0,
  kFloat32 = 1,
  kUint8 = 2,
  kInt8 = 3,
  kUint16 = 4,
  kInt16 = 5,
  kInt32 = 6,
  kInt64 = 7,
  kString = 8,
  kBool = 9,
  kFloat16 = 10,
  kFloat64 = 11,
  kUint32 = 12,
  kUint64 = 13,
  kBFloat16 = 16,
};

// Bytes per element; 0 for kUndefined and kString (not stored as plain bytes).
size_t dtype_size(DataType type);
const char* dtype_name(DataType type);  // "float32", "int64", ...
Expected<DataType> dtype_from_name(const std::string& name);
bool dtype_is_float(DataType type);     // float16, bfloat16, float32, float64
bool dtype_is_integer(DataType type);   // signed or unsigned, not bool
bool dtype_is_signed(DataType type);
bool dtype_is_valid(int32_t raw);

// IEEE binary16 stored as bits; arithmetic happens in float.
struct Float16 {
  uint16_t bits = 0;
  Float16() = default;
  explicit Float16(float value);
  explicit operator float() const;
  static Float16 from_bits(uint16_t b) { Float16 h; h.bits = b; return h; }
};

// bfloat16 stored as bits (upper half of a float32), round to nearest even.
struct BFloat16 {
  uint16_t bits = 0;
  BFloat16() = default;
  explicit BFloat16(float value);
  explicit operator float() const;
  static BFloat16 from_bits(uint16_t b) { BFloat16 h; h.bits = b; return h; }
};

float half_to_float(uint16_t bits);
uint16_t float_to_half(float value);

// A concrete shape: one extent per axis.
using Dims = std::vector<int64_t>;

int64_t element_count(const Dims& dims);
// Product of the extents of axes [begin, end), both clamped to [0, rank]
// (1 for an empty range): the outer/inner sizes around an axis.
int64_t element_count(const Dims& dims, int64_t begin, int64_t end);
std::string dims_to_string(const Dims& dims);  // "1x3x224x224"; "scalar" for rank 0
// Parses "1x3x224x224" (also "1,3,224,224"); "" or "scalar" is rank 0.
Expected<Dims> parse_dims(const std::string& text);

// One axis of a declared shape: a known extent, a named symbol ("batch"), or unknown.
struct Dim {
  int64_t value = -1;   // >= 0 when known
  std::string symbol;   // set for named symbolic dimensions
  static Dim known(int64_t v) { Dim d; d.value = v; return d; }
  static Dim symbolic(std::string name) { Dim d; d.symbol = std::move(name); return d; }
  bool is_known() const { return value >= 0; }
  std::string to_string() const;
  bool operator==(const Dim& other) const { return value == other.value && symbol == other.symbol; }
};

// A declared shape (graph inputs, outputs, inferred intermediates). A Shape with
// no rank information is "unranked".
class Shape {
 public:
  Shape() = default;
  explicit Shape(std::vector<Dim> dims) : dims_(std::move(dims)), ranked_(true) {}
  static Shape from_dims(const Dims& dims);
  static Shape unranked() { Shape s; s.ranked_ = false; return s; }

  bool is_ranked() const { return ranked_; }
  size_t rank() const { return dims_.size(); }
  const std::vector<Dim>& dims() const { return dims_; }
  std::vector<Dim>& dims() { return dims_; }
  const Dim& operator[](size_t i) const { return dims_[i]; }
  bool is_static() const;
  // Extents with -1 for every unknown axis.
  Dims known_dims() const;
  // Does the concrete shape fit this declaration (rank and every known extent)?
  bool accepts(const Dims& concrete) const;
  std::string to_string() const;  // "batchx3x224x224", "?x10", "unranked"

 private:
  std::vector<Dim> dims_;
  bool ranked_ = true;
};

}  // namespace kiln
