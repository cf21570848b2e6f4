// Device memory owned in a few large cudaMalloc blocks instead of one per tensor.
//   DeviceBlockPool: grow-only sub-allocation, for engine weights (uploaded once,
//     freed together when the last context of an engine goes away).
//   DeviceArena: one block a context reuses for every activation of a shape set;
//     offsets come from the memory plan (memory_plan.h).
#pragma once

#include <cstddef>
#include <vector>

#include "backends/cuda/cuda_resources.h"

namespace kiln::cuda {

// Alignment of every sub-allocation: enough for vectorised loads and for
// cuDNN / cuBLASLt operand requirements.
constexpr size_t kDeviceAlignment = 256;

inline size_t align_up(size_t bytes, size_t alignment = kDeviceAlignment) {
  return (bytes + alignment - 1) / alignment * alignment;
}

class DeviceBlockPool {
 public:
  explicit DeviceBlockPool(size_t block_bytes = size_t{64} << 20) : block_bytes_(block_bytes) {}
  // Never returns nullptr on success; zero bytes still get a distinct aligned address.
  Expected<void*> allocate(size_t bytes);
  size_t bytes_reserved() const;

 private:
  size_t block_bytes_;
  std::vector<DeviceBuffer> blocks_;
  size_t used_in_last_ = 0;
};

class DeviceArena {
 public:
  // Ensures capacity for `bytes`. Growing frees the old block first (its
  // contents are lost), which waits for work that still uses it.
  Status reserve(size_t bytes);
  char* base() const { return static_cast<char*>(buffer_.data()); }
  size_t capacity() const { return buffer_.size(); }

 private:
  DeviceBuffer buffer_;
};

}  // namespace kiln::cuda
