#include "backends/cuda/device_memory_pool.h"

#include <algorithm>

namespace kiln::cuda {

Expected<void*> DeviceBlockPool::allocate(size_t bytes) {
  size_t needed = align_up(std::max<size_t>(bytes, 1));
  if (blocks_.empty() || used_in_last_ + needed > blocks_.back().size()) {
    KILN_ASSIGN_OR_RETURN(DeviceBuffer block, DeviceBuffer::allocate(std::max(block_bytes_, needed)));
    blocks_.push_back(std::move(block));
    used_in_last_ = 0;
  }
  void* p = static_cast<char*>(blocks_.back().data()) + used_in_last_;
  used_in_last_ += needed;
  return p;
}

size_t DeviceBlockPool::bytes_reserved() const {
  size_t total = 0;
  for (const DeviceBuffer& b : blocks_) total += b.size();
  return total;
}

Status DeviceArena::reserve(size_t bytes) {
  if (bytes <= buffer_.size()) return ok_status();
  buffer_ = DeviceBuffer();  // free first so the peak is not old + new
  KILN_ASSIGN_OR_RETURN(buffer_, DeviceBuffer::allocate(align_up(bytes)));
  return ok_status();
}

}  // namespace kiln::cuda
