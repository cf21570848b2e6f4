// PinnedMemoryPool: tensors from it behave like any other; where the CUDA
// runtime can page-lock memory, buffers are recycled and recognised as pinned.
#include "kiln/host_memory.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "graph_test_util.h"

namespace kiln {
namespace {

TEST(PinnedMemoryPool, TensorsHoldTheirData) {
  PinnedMemoryPool& pool = PinnedMemoryPool::global();
  Tensor source = testing::random_tensor({4, 3, 5}, 11);
  Tensor copy = pool.copy_of(source);
  ASSERT_EQ(copy.dims(), source.dims());
  ASSERT_EQ(copy.dtype(), source.dtype());
  EXPECT_NE(copy.raw_data(), source.raw_data());
  EXPECT_EQ(0, std::memcmp(copy.raw_data(), source.raw_data(), source.byte_size()));
  Tensor empty = pool.allocate(DataType::kInt64, {0, 7});
  EXPECT_EQ(empty.byte_size(), 0u);
  Tensor strings = pool.copy_of(Tensor::strings({2}, {"a", "bc"}));
  EXPECT_EQ(strings.string_data()[1], "bc");
}

TEST(PinnedMemoryPool, ReleasedBuffersAreReusedWhenPinningWorks) {
  PinnedMemoryPool& pool = PinnedMemoryPool::global();
  {
    Tensor t = pool.allocate(DataType::kFloat32, {1000});
    if (!pool.stats().pinning_available) GTEST_SKIP() << "host memory cannot be page-locked here (no CUDA device)";
    EXPECT_TRUE(pool.is_pinned(t.raw_data(), t.byte_size()));
    EXPECT_TRUE(pool.is_pinned(t.data<float>() + 10, 40));
    EXPECT_FALSE(pool.is_pinned(t.raw_data(), 1 << 30));  // runs past the buffer
  }
  const uint64_t reuses = pool.stats().reuses;
  const uint64_t allocations = pool.stats().allocations;
  Tensor again = pool.allocate(DataType::kFloat32, {900});  // same 4 KiB granule: served from the cache
  EXPECT_TRUE(pool.is_pinned(again.raw_data(), again.byte_size()));
  EXPECT_EQ(pool.stats().reuses, reuses + 1);
  EXPECT_EQ(pool.stats().allocations, allocations);
  std::vector<float> pageable(16);
  EXPECT_FALSE(pool.is_pinned(pageable.data(), pageable.size() * sizeof(float)));
}

TEST(PinnedMemoryPool, PageableBuffersAreReusedAndNeverPinned) {
  PinnedMemoryPool& pool = PinnedMemoryPool::global();
  pool.trim();  // buffers cached by earlier tests (or repetitions) would be reused below
  const void* first = nullptr;
  {
    Tensor t = pool.allocate_pageable(DataType::kFloat32, {3, 1000});
    first = t.raw_data();
    EXPECT_EQ(reinterpret_cast<uintptr_t>(first) % 64, 0u);
    EXPECT_FALSE(pool.is_pinned(t.raw_data(), t.byte_size()));
    for (int64_t i = 0; i < t.element_count(); ++i) t.data<float>()[i] = static_cast<float>(i);
    EXPECT_EQ(t.data<float>()[2999], 2999.0f);
  }
  const uint64_t reuses = pool.stats().pageable_reuses;
  Tensor again = pool.allocate_pageable(DataType::kInt32, {2900});  // same 4 KiB granules
  EXPECT_EQ(again.raw_data(), first);
  EXPECT_EQ(pool.stats().pageable_reuses, reuses + 1);
  Tensor larger = pool.allocate_pageable(DataType::kFloat32, {1 << 20});  // too large for the cached buffer
  EXPECT_NE(larger.raw_data(), first);
  EXPECT_EQ(pool.stats().pageable_reuses, reuses + 1);
  EXPECT_EQ(pool.allocate_pageable(DataType::kString, {2}).string_data().size(), 2u);
}

TEST(PinnedMemoryPool, RegisteredMemoryIsPinnedUntilUnregistered) {
  PinnedMemoryPool& pool = PinnedMemoryPool::global();
  constexpr size_t kBytes = size_t{1} << 20;
  void* memory = std::aligned_alloc(4096, kBytes);
  ASSERT_NE(memory, nullptr);
  const bool registered = pool.register_host(memory, kBytes);
  if (!pool.stats().pinning_available) {
    EXPECT_FALSE(registered);  // without a device it is a no-op
    EXPECT_FALSE(pool.is_pinned(memory, kBytes));
    std::free(memory);
    GTEST_SKIP() << "host memory cannot be page-locked here (no CUDA device)";
  }
  ASSERT_TRUE(registered);
  EXPECT_TRUE(pool.is_pinned(static_cast<char*>(memory) + 4096, 4096));
  EXPECT_GE(pool.stats().bytes_registered, kBytes);
  pool.unregister_host(memory);
  EXPECT_FALSE(pool.is_pinned(memory, kBytes));
  std::free(memory);
}

TEST(PinnedMemoryPool, ConcurrentAllocateAndRelease) {
  PinnedMemoryPool& pool = PinnedMemoryPool::global();
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        Tensor a = pool.allocate(DataType::kInt32, {64 + (i % 5) * 1024});
        for (int64_t k = 0; k < a.element_count(); ++k) a.data<int32_t>()[k] = t * 1000 + i;
        for (int64_t k = 0; k < a.element_count(); ++k) mismatches += a.data<int32_t>()[k] != t * 1000 + i;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_EQ(pool.stats().bytes_in_use, 0u);
}

}  // namespace
}  // namespace kiln
