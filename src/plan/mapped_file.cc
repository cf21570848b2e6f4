#include "plan/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace kiln {

Expected<std::shared_ptr<MappedFile>> MappedFile::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    std::string reason = std::strerror(errno);
    if (errno == ENOENT) return not_found("plan file '" + path + "' does not exist");
    return io_error("cannot open plan file '" + path + "': " + reason);
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    std::string reason = std::strerror(errno);
    ::close(fd);
    return io_error("cannot stat plan file '" + path + "': " + reason);
  }
  if (!S_ISREG(info.st_mode)) {
    ::close(fd);
    return invalid_argument("plan file '" + path + "' is not a regular file");
  }
  const size_t size = static_cast<size_t>(info.st_size);
  void* address = nullptr;
  if (size > 0) {
    address = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (address == MAP_FAILED) {
      std::string reason = std::strerror(errno);
      ::close(fd);
      return io_error("cannot map plan file '" + path + "': " + reason);
    }
  }
  // The mapping stays valid after the descriptor is closed.
  ::close(fd);
  return std::shared_ptr<MappedFile>(new MappedFile(address, size));
}

MappedFile::~MappedFile() {
  if (address_ && size_ > 0) ::munmap(address_, size_);
}

}  // namespace kiln
