#include "core/parallel_copy.h"

#include <algorithm>
#include <cstring>
#include <system_error>
#include <thread>

namespace kiln {
namespace {

// Below this a thread costs more to start than it saves.
constexpr size_t kMinBytesPerThread = size_t{4} << 20;
constexpr size_t kMaxThreads = 8;

// Copies the bytes [begin, end) of the ranges laid end to end.
void copy_share(const std::vector<CopyRange>& ranges, size_t begin, size_t end) {
  size_t offset = 0;
  for (const CopyRange& range : ranges) {
    const size_t first = std::max(begin, offset);
    const size_t last = std::min(end, offset + range.bytes);
    if (first < last) {
      std::memcpy(static_cast<char*>(range.destination) + (first - offset),
                  static_cast<const char*>(range.source) + (first - offset), last - first);
    }
    offset += range.bytes;
    if (offset >= end) return;
  }
}

}  // namespace

void copy_in_parallel(const std::vector<CopyRange>& ranges) {
  size_t total = 0;
  for (const CopyRange& range : ranges) total += range.bytes;
  const size_t cores = std::max(1u, std::thread::hardware_concurrency());
  const size_t threads = std::min({cores, kMaxThreads, total / kMinBytesPerThread});
  if (threads <= 1) {
    copy_share(ranges, 0, total);
    return;
  }
  const size_t share = (total + threads - 1) / threads;
  std::vector<std::thread> helpers;
  helpers.reserve(threads - 1);
  size_t started = 1;
  try {
    for (; started < threads; ++started) {
      helpers.emplace_back(copy_share, std::cref(ranges), started * share, std::min(total, (started + 1) * share));
    }
  } catch (const std::system_error&) {
    // No thread to be had (a process limit): the caller copies what is left.
  }
  copy_share(ranges, 0, std::min(total, share));
  if (started < threads) copy_share(ranges, started * share, total);
  for (std::thread& helper : helpers) helper.join();
}

}  // namespace kiln
