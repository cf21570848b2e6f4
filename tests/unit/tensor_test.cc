// Host tensors: row views share the buffer and keep it alive; strings are copied.
#include "kiln/tensor.h"

#include <gtest/gtest.h>

#include "graph_test_util.h"

namespace kiln {
namespace {

TEST(Tensor, RowsShareTheBufferAndKeepItAlive) {
  Tensor middle;
  {
    Tensor whole = Tensor::from_vector<int32_t>(DataType::kInt32, {4, 3}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
    middle = whole.rows(1, 2);
    EXPECT_EQ(middle.raw_data(), whole.data<int32_t>() + 3);
  }
  ASSERT_EQ(middle.dims(), (Dims{2, 3}));
  for (int i = 0; i < 6; ++i) EXPECT_EQ(middle.data<int32_t>()[i], 3 + i);
  Tensor none = testing::random_tensor({5, 2}, 1).rows(5, 0);
  EXPECT_EQ(none.dims(), (Dims{0, 2}));
  EXPECT_EQ(none.byte_size(), 0u);
}

TEST(Tensor, StringRowsAreCopied) {
  Tensor words = Tensor::strings({3, 2}, {"a", "b", "c", "d", "e", "f"});
  Tensor last = words.rows(2, 1);
  ASSERT_EQ(last.dims(), (Dims{1, 2}));
  EXPECT_EQ(last.string_data(), (std::vector<std::string>{"e", "f"}));
  words.string_data()[4] = "changed";
  EXPECT_EQ(last.string_data()[0], "e");
}

}  // namespace
}  // namespace kiln
