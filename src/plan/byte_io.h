// Little-endian binary writer and bounds-checked reader for plan files.
// The reader never reads past its end: every read checks the remaining bytes
// first and returns a format error naming the section, the offset and what
// was being read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "kiln/status.h"

namespace kiln::plan_io {

class ByteWriter {
 public:
  void u8(uint8_t value) { bytes_.push_back(value); }
  void u32(uint32_t value) { put_le(value, 4); }
  void u64(uint64_t value) { put_le(value, 8); }
  void i32(int32_t value) { u32(static_cast<uint32_t>(value)); }
  void i64(int64_t value) { u64(static_cast<uint64_t>(value)); }
  void f64(double value);
  // u64 length, then the bytes.
  void string(const std::string& value);
  void raw(const void* data, size_t size);
  // Zero bytes up to the next multiple of `alignment` (of this writer's size).
  void pad_to(size_t alignment);
  // Overwrites 8 bytes at `offset` (for fields known only at the end).
  void patch_u64(size_t offset, uint64_t value);

  size_t size() const { return bytes_.size(); }
  std::vector<uint8_t>& bytes() { return bytes_; }

 private:
  void put_le(uint64_t value, int width);
  std::vector<uint8_t> bytes_;
};

class ByteReader {
 public:
  // `base_offset` is where `data` sits in the file, so errors give file offsets.
  ByteReader(const uint8_t* data, size_t size, std::string section, size_t base_offset = 0)
      : data_(data), size_(size), section_(std::move(section)), base_offset_(base_offset) {}

  Status u8(uint8_t* out, const char* what);
  Status u32(uint32_t* out, const char* what);
  Status u64(uint64_t* out, const char* what);
  Status i32(int32_t* out, const char* what);
  Status i64(int64_t* out, const char* what);
  Status f64(double* out, const char* what);
  Status string(std::string* out, const char* what);
  // A count of elements that each take at least `min_element_bytes` bytes:
  // rejects counts the remaining bytes cannot hold (no huge allocations from
  // a corrupt file).
  Status count(uint64_t* out, size_t min_element_bytes, const char* what);

  size_t remaining() const { return size_ - position_; }
  size_t position() const { return position_; }
  bool at_end() const { return position_ == size_; }
  // A format error at the current position.
  Status error(const std::string& message) const;

 private:
  Status need(size_t bytes, const char* what) const;
  uint64_t get_le(int width);

  const uint8_t* data_;
  size_t size_;
  std::string section_;
  size_t base_offset_;
  size_t position_ = 0;
};

}  // namespace kiln::plan_io
