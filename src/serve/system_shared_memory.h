// System shared memory regions of the KServe v2 / Triton shared memory
// extension. A client creates a POSIX shared memory object, registers part of
// it under a name, and then names the region (with an offset and a byte size)
// in a tensor's parameters instead of sending the tensor's bytes: inputs are
// read from the region and outputs written into it, so no tensor data crosses
// the socket.
//
// Each region is mapped once, at registration, and page-locked through
// PinnedMemoryPool::register_host (a no-op without CUDA), so the CUDA executor
// copies a request that is a whole batch straight from the region to the
// device and the batcher gathers smaller requests from it into its pinned
// batch with one copy.
//
// Lifetime: a mapping lives as long as anything holds it. Unregistering drops
// the registry's hold; tensors of requests in flight keep theirs (through the
// `keepalive` of a SharedMemorySpan), so unregistering a region in use never
// pulls memory from under a running batch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "kiln/status.h"

namespace kiln::serve {

struct SystemSharedMemoryRegionStatus {
  std::string name;
  std::string key;  // the shared memory object's name, as given to shm_open
  uint64_t offset = 0;
  uint64_t byte_size = 0;
};

// `byte_size` bytes of a registered region, and the handle that keeps them mapped.
struct SharedMemorySpan {
  char* data = nullptr;
  size_t byte_size = 0;
  std::shared_ptr<void> keepalive;
};

class SystemSharedMemoryRegistry {
 public:
  SystemSharedMemoryRegistry() = default;
  SystemSharedMemoryRegistry(const SystemSharedMemoryRegistry&) = delete;
  SystemSharedMemoryRegistry& operator=(const SystemSharedMemoryRegistry&) = delete;

  // Maps [offset, offset + byte_size) of the shared memory object `key`.
  // Errors (kInvalidArgument unless said): an empty name or key, a name
  // already registered, a zero size, a key that does not exist (kNotFound) or
  // cannot be opened or mapped (kIoError), a range past the object's end,
  // a range whose pages /dev/shm cannot back (kResourceExhausted).
  // Each message names the region, the key, the offset and the size.
  Status register_region(const std::string& name, const std::string& key, uint64_t offset, uint64_t byte_size);
  // Drops the region `name` ("" : every region). As in Triton, a name that is
  // not registered is not an error, so clients may clean up unconditionally.
  void unregister(const std::string& name);
  // Every region ("" ) or the one named; kNotFound for an unknown name.
  Expected<std::vector<SystemSharedMemoryRegionStatus>> status(const std::string& name) const;

  // `byte_size` bytes at `offset` into region `name`, for tensor `what`
  // ("input 'x'"). Errors name the tensor, the region, the offset and the
  // sizes: an unknown region, or a range that runs past the region's end.
  Expected<SharedMemorySpan> span(const std::string& name, uint64_t offset, uint64_t byte_size,
                                  const std::string& what) const;

 private:
  struct Region;
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Region>> regions_;
};

// The answer to every CUDA shared memory call (the cuda_shared_memory
// extension, which Kiln does not serve): kUnimplemented naming it.
Status cuda_shared_memory_unsupported();

}  // namespace kiln::serve
