// copy_in_parallel: every byte of every range lands where it should, whether
// the total is copied on one thread or cut into shares that split ranges.
#include "core/parallel_copy.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <numeric>
#include <vector>

namespace kiln {
namespace {

// Ranges of the given sizes, laid out in one source buffer filled with a
// pattern and copied to disjoint, shuffled places of a destination buffer.
void check_copies(const std::vector<size_t>& sizes) {
  const size_t total = std::accumulate(sizes.begin(), sizes.end(), size_t{0});
  std::vector<uint8_t> source(total), destination(total + sizes.size(), 0xAA);
  for (size_t i = 0; i < total; ++i) source[i] = static_cast<uint8_t>((i * 2654435761u) >> 13);
  // Destination order reversed, one guard byte after each range.
  std::vector<CopyRange> ranges;
  std::vector<size_t> source_offsets, destination_offsets;
  size_t from = 0, to = 0;
  for (size_t r = sizes.size(); r-- > 0;) to += sizes[r] + 1;
  for (size_t r = 0; r < sizes.size(); ++r) {
    to -= sizes[r] + 1;
    ranges.push_back({destination.data() + to, source.data() + from, sizes[r]});
    source_offsets.push_back(from);
    destination_offsets.push_back(to);
    from += sizes[r];
  }
  copy_in_parallel(ranges);
  for (size_t r = 0; r < sizes.size(); ++r) {
    for (size_t b = 0; b < sizes[r]; ++b) {
      ASSERT_EQ(destination[destination_offsets[r] + b], source[source_offsets[r] + b])
          << "range " << r << " byte " << b;
    }
    EXPECT_EQ(destination[destination_offsets[r] + sizes[r]], 0xAA) << "guard after range " << r;
  }
}

TEST(ParallelCopy, SmallTotalsOnTheCallingThread) { check_copies({0, 1, 4096, 17, 0, 100000}); }

TEST(ParallelCopy, LargeTotalsSplitAcrossRanges) {
  // 40 MB in ranges of odd sizes, so shares begin and end inside ranges.
  check_copies({9631211, 3, 13000001, 0, 7777777, 9999991});
}

TEST(ParallelCopy, NothingToCopy) {
  copy_in_parallel({});
  check_copies({0, 0});
}

}  // namespace
}  // namespace kiln
