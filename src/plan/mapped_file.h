// A whole file mapped read-only (MAP_PRIVATE). Tensors loaded from a plan hold
// a shared_ptr to it; the last one to go unmaps the file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "kiln/status.h"

namespace kiln {

class MappedFile {
 public:
  // Errors name the path and the OS reason; an empty file maps to size 0.
  static Expected<std::shared_ptr<MappedFile>> open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return static_cast<const uint8_t*>(address_); }
  size_t size() const { return size_; }

 private:
  MappedFile(void* address, size_t size) : address_(address), size_(size) {}
  void* address_;
  size_t size_;
};

}  // namespace kiln
