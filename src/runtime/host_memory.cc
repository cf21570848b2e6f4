#include "kiln/host_memory.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <utility>

#if KILN_WITH_CUDA
#include <cuda_runtime_api.h>
#endif

namespace kiln {
namespace {

// Sizes are rounded up so that nearby request sizes share cached buffers.
constexpr size_t kGranule = 4096;
// Free buffers beyond this many bytes are released instead of cached.
constexpr size_t kMaxCachedBytes = size_t{4} << 30;

size_t round_up(size_t bytes) { return (std::max<size_t>(bytes, 1) + kGranule - 1) / kGranule * kGranule; }

// Takes out of `cache` (size -> buffer) a buffer big enough for `size` bytes
// but not wastefully so (at most twice that): {buffer, its size}, or
// {nullptr, 0}. The caller holds the cache's lock.
std::pair<void*, size_t> take_cached(std::multimap<size_t, void*>& cache, size_t size) {
  auto it = cache.lower_bound(size);
  if (it == cache.end() || it->first > 2 * size) return {nullptr, 0};
  std::pair<void*, size_t> taken{it->second, it->first};
  cache.erase(it);
  return taken;
}

}  // namespace

struct PinnedMemoryPool::State {
  mutable std::mutex mutex;
  std::multimap<size_t, void*> free_buffers;    // size -> buffer
  std::map<const char*, size_t> pinned_ranges;  // every live or cached pinned buffer: base -> size
  std::map<const char*, size_t> registered;     // register_host() ranges (also in pinned_ranges): base -> size
  std::multimap<size_t, void*> free_pageable;   // allocate_pageable() buffers for reuse: size -> buffer
  size_t pageable_cached_bytes = 0;
  PinnedPoolStats stats;
  std::atomic<bool> warned{false};
  std::atomic<bool> no_device{false};  // nothing to pin for: stop asking the runtime

  // Page-locked memory, or nullptr (then the caller falls back to pageable).
  // Called without `mutex` held.
  void* allocate_pinned(size_t bytes) {
#if KILN_WITH_CUDA
    if (no_device.load()) return nullptr;
    void* p = nullptr;
    cudaError_t error = cudaHostAlloc(&p, bytes, cudaHostAllocPortable);
    if (error == cudaSuccess) {
      std::lock_guard<std::mutex> lock(mutex);
      stats.pinning_available = true;
      return p;
    }
    cudaGetLastError();  // clear the error so that later CUDA calls do not report it
    // No device at all: nothing to pin for, so no warning.
    if (error == cudaErrorNoDevice || error == cudaErrorInsufficientDriver) {
      no_device.store(true);
      return nullptr;
    }
    if (!warned.exchange(true)) {
      std::fprintf(stderr,
                   "kiln: warning: could not page-lock %zu bytes of host memory (%s); using pageable memory, "
                   "host-device copies will be slower\n",
                   bytes, cudaGetErrorString(error));
    }
#endif
    (void)bytes;
    return nullptr;
  }

  void free_pinned(void* p) {
#if KILN_WITH_CUDA
    cudaFreeHost(p);
#endif
    (void)p;
  }

  void release_pageable(void* p, size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex);
    if (pageable_cached_bytes + bytes > kMaxCachedBytes) {
      std::free(p);
      return;
    }
    pageable_cached_bytes += bytes;
    free_pageable.emplace(bytes, p);
  }

  void release(void* p, size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex);
    stats.bytes_in_use -= bytes;
    if (stats.bytes_cached + bytes > kMaxCachedBytes) {
      pinned_ranges.erase(static_cast<const char*>(p));
      free_pinned(p);
      return;
    }
    stats.bytes_cached += bytes;
    free_buffers.emplace(bytes, p);
  }
};

PinnedMemoryPool::PinnedMemoryPool() : state_(new State) {}
// The global pool lives until the process exits (tensors may outlive any
// static destructor), so its destructor never runs; trim() releases memory.
PinnedMemoryPool::~PinnedMemoryPool() { delete state_; }

PinnedMemoryPool& PinnedMemoryPool::global() {
  static PinnedMemoryPool* pool = new PinnedMemoryPool();
  return *pool;
}

Tensor PinnedMemoryPool::allocate(DataType dtype, const Dims& dims) {
  if (dtype == DataType::kString) return Tensor::empty(dtype, dims);
  const size_t bytes = static_cast<size_t>(element_count(dims)) * dtype_size(dtype);
  const size_t size = round_up(bytes);
  void* buffer = nullptr;
  size_t buffer_size = size;
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    if (auto [cached, cached_size] = take_cached(state_->free_buffers, size); cached) {
      buffer = cached;
      buffer_size = cached_size;
      state_->stats.bytes_cached -= buffer_size;
      state_->stats.bytes_in_use += buffer_size;
      state_->stats.reuses++;
    }
  }
  if (!buffer) {
    // Page-locking takes milliseconds for large buffers: outside the lock, so
    // that other threads' lookups (every CUDA query asks is_pinned) never wait on it.
    buffer = state_->allocate_pinned(size);
    if (buffer) {
      std::lock_guard<std::mutex> lock(state_->mutex);
      state_->pinned_ranges[static_cast<const char*>(buffer)] = size;
      state_->stats.allocations++;
      state_->stats.bytes_in_use += size;
    }
  }
  if (!buffer) return Tensor::empty(dtype, dims);
  State* state = state_;
  std::shared_ptr<void> owner(buffer, [state, buffer_size](void* p) { state->release(p, buffer_size); });
  return Tensor::view(dtype, dims, buffer, std::move(owner));
}

Tensor PinnedMemoryPool::allocate_pageable(DataType dtype, const Dims& dims) {
  if (dtype == DataType::kString) return Tensor::empty(dtype, dims);
  const size_t size = round_up(static_cast<size_t>(element_count(dims)) * dtype_size(dtype));
  void* buffer = nullptr;
  size_t buffer_size = size;
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    if (auto [cached, cached_size] = take_cached(state_->free_pageable, size); cached) {
      buffer = cached;
      buffer_size = cached_size;
      state_->pageable_cached_bytes -= buffer_size;
      state_->stats.pageable_reuses++;
    }
  }
  if (!buffer) buffer = std::aligned_alloc(64, size);  // size is a multiple of the 4 KiB granule
  if (!buffer) return Tensor::empty(dtype, dims);
  State* state = state_;
  std::shared_ptr<void> owner(buffer, [state, buffer_size](void* p) { state->release_pageable(p, buffer_size); });
  return Tensor::view(dtype, dims, buffer, std::move(owner));
}

Tensor PinnedMemoryPool::copy_of(const Tensor& source) {
  if (source.dtype() == DataType::kString) return source.clone();
  Tensor copy = allocate(source.dtype(), source.dims());
  if (source.byte_size()) std::memcpy(copy.raw_data(), source.raw_data(), source.byte_size());
  return copy;
}

bool PinnedMemoryPool::is_pinned(const void* data, size_t bytes) const {
  if (!data) return false;
  const char* p = static_cast<const char*>(data);
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    auto it = state_->pinned_ranges.upper_bound(p);
    if (it != state_->pinned_ranges.begin()) {
      --it;
      if (p >= it->first && p + bytes <= it->first + it->second) return true;
    }
  }
#if KILN_WITH_CUDA
  // Memory page-locked elsewhere (cudaHostRegister, cudaMallocHost by the caller).
  cudaPointerAttributes attributes{};
  if (cudaPointerGetAttributes(&attributes, data) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  if (attributes.type != cudaMemoryTypeHost) return false;
  // The whole range must be in the same registration.
  cudaPointerAttributes last{};
  if (bytes > 1 && (cudaPointerGetAttributes(&last, p + bytes - 1) != cudaSuccess || last.type != cudaMemoryTypeHost)) {
    cudaGetLastError();
    return false;
  }
  return true;
#else
  return false;
#endif
}

bool PinnedMemoryPool::register_host(void* data, size_t bytes) {
  if (!data || bytes == 0) return false;
#if KILN_WITH_CUDA
  if (state_->no_device.load()) return false;
  // Portable: every context's copies see it as pinned, whichever device is current.
  cudaError_t error = cudaHostRegister(data, bytes, cudaHostRegisterPortable);
  if (error != cudaSuccess) {
    cudaGetLastError();  // clear it so that later CUDA calls do not report it
    if (error == cudaErrorNoDevice || error == cudaErrorInsufficientDriver) state_->no_device.store(true);
    return false;
  }
  std::lock_guard<std::mutex> lock(state_->mutex);
  const char* base = static_cast<const char*>(data);
  state_->pinned_ranges[base] = bytes;
  state_->registered[base] = bytes;
  state_->stats.bytes_registered += bytes;
  state_->stats.pinning_available = true;
  return true;
#else
  return false;
#endif
}

void PinnedMemoryPool::unregister_host(void* data) {
  const char* base = static_cast<const char*>(data);
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    auto it = state_->registered.find(base);
    if (it == state_->registered.end()) return;
    state_->stats.bytes_registered -= it->second;
    state_->registered.erase(it);
    state_->pinned_ranges.erase(base);
  }
#if KILN_WITH_CUDA
  if (cudaHostUnregister(data) != cudaSuccess) cudaGetLastError();
#endif
}

void PinnedMemoryPool::trim() {
  std::lock_guard<std::mutex> lock(state_->mutex);
  for (auto& [size, p] : state_->free_buffers) {
    state_->pinned_ranges.erase(static_cast<const char*>(p));
    state_->free_pinned(p);
  }
  state_->free_buffers.clear();
  state_->stats.bytes_cached = 0;
  for (auto& [size, p] : state_->free_pageable) std::free(p);
  state_->free_pageable.clear();
  state_->pageable_cached_bytes = 0;
}

PinnedPoolStats PinnedMemoryPool::stats() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->stats;
}

}  // namespace kiln
