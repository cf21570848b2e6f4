// Page-locked ("pinned") host memory for the tensors that go to and come from
// a CUDA context. A copy from pinned memory runs at the bus's full speed
// (about 55 GB/s each way on an H100 host against about 9 GB/s pageable) and is
// truly asynchronous, so the CUDA executor copies a pinned input straight to
// the device and a pinned output straight back, with no staging copy on the host.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kiln/status.h"
#include "kiln/tensor.h"

namespace kiln {

struct PinnedPoolStats {
  size_t bytes_in_use = 0;       // held by live tensors
  size_t bytes_cached = 0;       // free buffers kept for reuse
  uint64_t allocations = 0;      // buffers page-locked so far
  uint64_t reuses = 0;           // requests served from the cache
  size_t bytes_registered = 0;   // memory of others page-locked by register_host()
  uint64_t pageable_reuses = 0;  // allocate_pageable() requests served from its cache
  bool pinning_available = false;
};

// A process-wide, thread-safe cache of page-locked buffers. Buffers are
// recycled when the last Tensor sharing them goes away, so steady-state
// requests of recurring sizes never call the (slow) page-locking allocator.
class PinnedMemoryPool {
 public:
  static PinnedMemoryPool& global();

  // A tensor whose buffer is page-locked. Where pinning is impossible (no CUDA
  // device, or the allocator refuses) the buffer is ordinary pageable memory
  // and a warning is printed once; the tensor still works everywhere.
  Tensor allocate(DataType dtype, const Dims& dims);
  // A tensor in ordinary (pageable) memory, 64-byte aligned, from a cache of
  // its own: a fresh allocation of tens of MB (a CPU engine's joined batch)
  // is a new mapping whose every 4 KiB page the kernel faults in and zeroes,
  // each time; reusing the buffer costs nothing. Never page-locked.
  Tensor allocate_pageable(DataType dtype, const Dims& dims);
  // Deep copy of `source` into pinned memory.
  Tensor copy_of(const Tensor& source);
  // True when [data, data + bytes) lies inside one page-locked buffer (from this
  // pool, or registered with the CUDA runtime by anyone).
  bool is_pinned(const void* data, size_t bytes) const;
  // Page-locks memory that someone else allocated (a mapped shared memory
  // region), so that copies from and to it run as fast as from the pool's own
  // buffers and is_pinned() finds it without asking the CUDA runtime. Returns
  // whether the range is now page-locked: false without CUDA or a device, or
  // when the runtime refuses (the memory then still works, pageable). The
  // caller must call unregister_host() with the same `data` before unmapping.
  bool register_host(void* data, size_t bytes);
  // Undoes register_host(); a no-op for memory it did not page-lock.
  void unregister_host(void* data);
  // Frees the cached (unused) buffers, pinned and pageable.
  void trim();
  PinnedPoolStats stats() const;

  PinnedMemoryPool(const PinnedMemoryPool&) = delete;
  PinnedMemoryPool& operator=(const PinnedMemoryPool&) = delete;

 private:
  PinnedMemoryPool();
  ~PinnedMemoryPool();
  struct State;
  State* state_;
};

}  // namespace kiln
