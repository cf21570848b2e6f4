#include "plan/byte_io.h"

#include <cstring>

namespace kiln::plan_io {

void ByteWriter::put_le(uint64_t value, int width) {
  for (int i = 0; i < width; ++i) bytes_.push_back(static_cast<uint8_t>(value >> (8 * i)));
}

void ByteWriter::f64(double value) {
  uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof bits);
  u64(bits);
}

void ByteWriter::string(const std::string& value) {
  u64(value.size());
  raw(value.data(), value.size());
}

void ByteWriter::raw(const void* data, size_t size) {
  if (size == 0) return;
  const auto* bytes = static_cast<const uint8_t*>(data);
  bytes_.insert(bytes_.end(), bytes, bytes + size);
}

void ByteWriter::pad_to(size_t alignment) {
  while (bytes_.size() % alignment != 0) bytes_.push_back(0);
}

void ByteWriter::patch_u64(size_t offset, uint64_t value) {
  for (int i = 0; i < 8; ++i) bytes_[offset + i] = static_cast<uint8_t>(value >> (8 * i));
}

Status ByteReader::error(const std::string& message) const {
  return format_error(section_ + " at file offset " + std::to_string(base_offset_ + position_) + ": " + message);
}

Status ByteReader::need(size_t bytes, const char* what) const {
  if (bytes <= remaining()) return ok_status();
  return error(std::string("truncated while reading ") + what + " (needs " + std::to_string(bytes) + " bytes, " +
               std::to_string(remaining()) + " left)");
}

uint64_t ByteReader::get_le(int width) {
  uint64_t value = 0;
  for (int i = 0; i < width; ++i) value |= static_cast<uint64_t>(data_[position_ + i]) << (8 * i);
  position_ += width;
  return value;
}

Status ByteReader::u8(uint8_t* out, const char* what) {
  KILN_RETURN_IF_ERROR(need(1, what));
  *out = static_cast<uint8_t>(get_le(1));
  return ok_status();
}

Status ByteReader::u32(uint32_t* out, const char* what) {
  KILN_RETURN_IF_ERROR(need(4, what));
  *out = static_cast<uint32_t>(get_le(4));
  return ok_status();
}

Status ByteReader::u64(uint64_t* out, const char* what) {
  KILN_RETURN_IF_ERROR(need(8, what));
  *out = get_le(8);
  return ok_status();
}

Status ByteReader::i32(int32_t* out, const char* what) {
  uint32_t bits = 0;
  KILN_RETURN_IF_ERROR(u32(&bits, what));
  *out = static_cast<int32_t>(bits);
  return ok_status();
}

Status ByteReader::i64(int64_t* out, const char* what) {
  uint64_t bits = 0;
  KILN_RETURN_IF_ERROR(u64(&bits, what));
  *out = static_cast<int64_t>(bits);
  return ok_status();
}

Status ByteReader::f64(double* out, const char* what) {
  uint64_t bits = 0;
  KILN_RETURN_IF_ERROR(u64(&bits, what));
  std::memcpy(out, &bits, sizeof bits);
  return ok_status();
}

Status ByteReader::string(std::string* out, const char* what) {
  uint64_t length = 0;
  KILN_RETURN_IF_ERROR(u64(&length, what));
  if (length > remaining()) {
    return error(std::string("truncated while reading ") + what + " (length " + std::to_string(length) + ", " +
                 std::to_string(remaining()) + " bytes left)");
  }
  out->assign(reinterpret_cast<const char*>(data_ + position_), static_cast<size_t>(length));
  position_ += static_cast<size_t>(length);
  return ok_status();
}

Status ByteReader::count(uint64_t* out, size_t min_element_bytes, const char* what) {
  KILN_RETURN_IF_ERROR(u64(out, what));
  if (min_element_bytes > 0 && *out > remaining() / min_element_bytes) {
    return error(std::string(what) + " is " + std::to_string(*out) + ", more than the " + std::to_string(remaining()) +
                 " remaining bytes can hold");
  }
  return ok_status();
}

}  // namespace kiln::plan_io
