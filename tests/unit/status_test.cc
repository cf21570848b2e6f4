#include <gtest/gtest.h>

#include "kiln/status.h"

namespace kiln {
namespace {

Expected<int> parse_positive(int v) {
  if (v <= 0) return invalid_argument("value " + std::to_string(v) + " is not positive");
  return v;
}

Status double_it(int v, int* out) {
  KILN_ASSIGN_OR_RETURN(int x, parse_positive(v));
  *out = 2 * x;
  return ok_status();
}

TEST(Status, CarriesCodeAndMessage) {
  Status s = not_found("model file 'a.onnx' does not exist");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.to_string(), "NOT_FOUND: model file 'a.onnx' does not exist");
  EXPECT_EQ(s.with_context("loading").message(), "loading: model file 'a.onnx' does not exist");
}

TEST(Status, AssignOrReturnPropagates) {
  int out = 0;
  EXPECT_TRUE(double_it(4, &out).ok());
  EXPECT_EQ(out, 8);
  Status s = double_it(-1, &out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("-1"), std::string::npos);
}

}  // namespace
}  // namespace kiln
