#include "serve/system_shared_memory.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "kiln/host_memory.h"

namespace kiln::serve {
namespace {

std::string describe(const std::string& name, const std::string& key, uint64_t offset, uint64_t byte_size) {
  return "shared memory region '" + name + "' (key '" + key + "', offset " + std::to_string(offset) + ", byte size " +
         std::to_string(byte_size) + ")";
}

}  // namespace

// One mapping. mmap needs a page-aligned file offset, so the mapping starts at
// the object's beginning and `data` points `offset` bytes into it.
struct SystemSharedMemoryRegistry::Region {
  SystemSharedMemoryRegionStatus status;
  void* mapping = MAP_FAILED;
  size_t mapping_bytes = 0;
  char* data = nullptr;  // status.offset bytes into the mapping
  bool pinned = false;

  ~Region() {
    if (pinned) PinnedMemoryPool::global().unregister_host(data);
    if (mapping != MAP_FAILED) munmap(mapping, mapping_bytes);
  }
};

Status SystemSharedMemoryRegistry::register_region(const std::string& name, const std::string& key, uint64_t offset,
                                                   uint64_t byte_size) {
  const std::string what = describe(name, key, offset, byte_size);
  if (name.empty()) return invalid_argument("cannot register a shared memory region without a name");
  if (key.empty()) return invalid_argument("cannot register " + what + ": the key is empty");
  if (byte_size == 0) return invalid_argument("cannot register " + what + ": the byte size is 0");
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (regions_.count(name)) {
      const auto& existing = regions_.at(name)->status;
      return invalid_argument("shared memory region '" + name + "' is already registered (key '" + existing.key +
                              "'); unregister it first");
    }
  }
  // Mapping happens outside the lock: page-locking a large region takes milliseconds.
  const int fd = shm_open(key.c_str(), O_RDWR, 0);
  if (fd < 0) {
    const int error = errno;
    const std::string reason = std::strerror(error);
    if (error == ENOENT) return not_found("cannot register " + what + ": no shared memory object '" + key + "'");
    return io_error("cannot register " + what + ": shm_open failed: " + reason);
  }
  struct stat info {};
  if (fstat(fd, &info) != 0) {
    const std::string reason = std::strerror(errno);
    close(fd);
    return io_error("cannot register " + what + ": fstat failed: " + reason);
  }
  const uint64_t object_bytes = static_cast<uint64_t>(info.st_size);
  if (offset > object_bytes || byte_size > object_bytes - offset) {
    close(fd);
    return invalid_argument("cannot register " + what + ": the range ends at byte " +
                            std::to_string(offset + byte_size) + " but shared memory object '" + key + "' holds " +
                            std::to_string(object_bytes) + " bytes");
  }
  // A client may size its object without backing it (ftruncate makes it
  // sparse). Writing outputs into pages /dev/shm cannot supply would kill the
  // server with SIGBUS, so the range is reserved now and a shortfall is an
  // error for the client. fallocate never changes existing bytes; file systems
  // without it (EOPNOTSUPP) are taken as they are.
  if (fallocate(fd, 0, static_cast<off_t>(offset), static_cast<off_t>(byte_size)) != 0 && errno != EOPNOTSUPP) {
    const std::string reason = std::strerror(errno);
    close(fd);
    return resource_exhausted("cannot register " + what + ": reserving its pages failed: " + reason +
                              " (is /dev/shm large enough?)");
  }
  auto region = std::make_shared<Region>();
  region->status = {name, key, offset, byte_size};
  region->mapping_bytes = static_cast<size_t>(offset + byte_size);
  region->mapping = mmap(nullptr, region->mapping_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  const int map_error = errno;
  close(fd);  // the mapping stays valid without the descriptor
  if (region->mapping == MAP_FAILED) {
    return io_error("cannot register " + what + ": mmap failed: " + std::strerror(map_error));
  }
  region->data = static_cast<char*>(region->mapping) + offset;
  region->pinned = PinnedMemoryPool::global().register_host(region->data, static_cast<size_t>(byte_size));

  std::lock_guard<std::mutex> lock(mutex_);
  // Another thread may have registered the name while this one mapped.
  if (regions_.count(name)) {
    return invalid_argument("shared memory region '" + name + "' is already registered (key '" +
                            regions_.at(name)->status.key + "'); unregister it first");
  }
  regions_.emplace(name, std::move(region));
  return ok_status();
}

void SystemSharedMemoryRegistry::unregister(const std::string& name) {
  // Regions are released after the lock: an unmapping region may unpin memory.
  std::map<std::string, std::shared_ptr<Region>> released;
  std::lock_guard<std::mutex> lock(mutex_);
  if (name.empty()) {
    released.swap(regions_);
    return;
  }
  auto it = regions_.find(name);
  if (it != regions_.end()) {
    released.emplace(it->first, std::move(it->second));
    regions_.erase(it);
  }
}

Expected<std::vector<SystemSharedMemoryRegionStatus>> SystemSharedMemoryRegistry::status(
    const std::string& name) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<SystemSharedMemoryRegionStatus> out;
  if (name.empty()) {
    for (const auto& [region_name, region] : regions_) out.push_back(region->status);
    return out;
  }
  auto it = regions_.find(name);
  if (it == regions_.end()) return not_found("no shared memory region '" + name + "' is registered");
  out.push_back(it->second->status);
  return out;
}

Expected<SharedMemorySpan> SystemSharedMemoryRegistry::span(const std::string& name, uint64_t offset,
                                                            uint64_t byte_size, const std::string& what) const {
  std::shared_ptr<Region> region;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = regions_.find(name);
    if (it == regions_.end()) {
      return invalid_argument(what + ": shared memory region '" + name + "' is not registered");
    }
    region = it->second;
  }
  const uint64_t region_bytes = region->status.byte_size;
  if (offset > region_bytes || byte_size > region_bytes - offset) {
    return invalid_argument(what + ": offset " + std::to_string(offset) + " + byte size " + std::to_string(byte_size) +
                            " runs past the end of shared memory region '" + name + "' (" +
                            std::to_string(region_bytes) + " bytes)");
  }
  SharedMemorySpan out;
  out.data = region->data + offset;
  out.byte_size = static_cast<size_t>(byte_size);
  out.keepalive = std::move(region);
  return out;
}

Status cuda_shared_memory_unsupported() {
  return unimplemented(
      "the CUDA shared memory extension (cuda_shared_memory) is not supported; register system shared memory "
      "(system_shared_memory) instead");
}

}  // namespace kiln::serve
