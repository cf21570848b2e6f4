// Offsets in one arena for tensors with known sizes and lifetimes, so tensors
// whose lifetimes do not overlap share memory. Pure host code (testable
// without a device).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace kiln::cuda {

struct BufferRequest {
  size_t bytes = 0;
  // Steps (node indices) between which the buffer must stay intact, inclusive.
  int64_t first_step = 0;
  int64_t last_step = 0;
};

struct MemoryPlan {
  std::vector<size_t> offsets;  // aligned with the requests
  size_t total_bytes = 0;
};

// Greedy first fit, largest buffers first: each buffer gets the lowest aligned
// offset that overlaps no buffer with an intersecting lifetime.
MemoryPlan plan_memory(const std::vector<BufferRequest>& requests, size_t alignment);

}  // namespace kiln::cuda
