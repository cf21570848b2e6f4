// Host tensors: a dtype, concrete dims and a reference-counted byte buffer.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "kiln/types.h"

namespace kiln {

// A dense row-major tensor in host memory. Copies share the buffer (like a
// shared_ptr); use clone() for a deep copy. Buffers are 64-byte aligned when
// Kiln allocates them; a tensor may also view memory it does not own (an mmap
// of a plan file), kept alive by the `owner` handle.
class Tensor {
 public:
  Tensor() = default;

  // Allocates uninitialised storage.
  static Tensor empty(DataType dtype, Dims dims);
  // Allocates zero-filled storage.
  static Tensor zeros(DataType dtype, Dims dims);
  // Views `data`; `owner` keeps it alive.
  static Tensor view(DataType dtype, Dims dims, void* data, std::shared_ptr<void> owner);
  // String tensors hold std::string elements.
  static Tensor strings(Dims dims, std::vector<std::string> values);

  template <typename T>
  static Tensor from_vector(DataType dtype, Dims dims, const std::vector<T>& values);

  bool defined() const { return dtype_ != DataType::kUndefined; }
  DataType dtype() const { return dtype_; }
  const Dims& dims() const { return dims_; }
  size_t rank() const { return dims_.size(); }
  int64_t dim(size_t axis) const { return dims_[axis]; }
  int64_t element_count() const { return kiln::element_count(dims_); }
  size_t byte_size() const { return static_cast<size_t>(element_count()) * dtype_size(dtype_); }

  void* raw_data() { return data_; }
  const void* raw_data() const { return data_; }
  template <typename T> T* data() { return static_cast<T*>(data_); }
  template <typename T> const T* data() const { return static_cast<const T*>(data_); }
  template <typename T> std::span<T> span() { return {data<T>(), static_cast<size_t>(element_count())}; }
  template <typename T> std::span<const T> span() const { return {data<T>(), static_cast<size_t>(element_count())}; }
  std::vector<std::string>& string_data();
  const std::vector<std::string>& string_data() const;

  // Same buffer, new dims with the same element count.
  Expected<Tensor> reshaped(Dims dims) const;
  // Rows [begin, begin + count) along axis 0, sharing this tensor's buffer
  // (which they keep alive); string tensors are copied. Rank >= 1, and the
  // range must lie within dim(0).
  Tensor rows(int64_t begin, int64_t count) const;
  Tensor clone() const;

  // Element i converted to double / int64 whatever the dtype (for shapes, axes, small values).
  double scalar_as_double(int64_t index = 0) const;
  int64_t scalar_as_int64(int64_t index = 0) const;
  // All elements as int64 (for shape-like inputs such as Reshape's shape).
  std::vector<int64_t> to_int64_vector() const;
  std::vector<double> to_double_vector() const;

  std::string describe() const;  // "float32[1x3x224x224]"

 private:
  DataType dtype_ = DataType::kUndefined;
  Dims dims_;
  void* data_ = nullptr;
  std::shared_ptr<void> owner_;
  std::shared_ptr<std::vector<std::string>> strings_;
};

template <typename T>
Tensor Tensor::from_vector(DataType dtype, Dims dims, const std::vector<T>& values) {
  Tensor t = empty(dtype, std::move(dims));
  for (size_t i = 0; i < values.size() && static_cast<int64_t>(i) < t.element_count(); ++i) {
    t.data<T>()[i] = values[i];
  }
  return t;
}

// Converts every element to `target` (saturating nothing: C++ conversion semantics,
// float->bool is != 0, half types round to nearest even).
Expected<Tensor> cast_tensor(const Tensor& source, DataType target);

}  // namespace kiln
