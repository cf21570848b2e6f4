#include <gtest/gtest.h>

#include "kiln/bench.h"

namespace kiln {
namespace {

TEST(BenchPercentiles, ParsesAndComputesRequestedPercentiles) {
  auto parsed = parse_percentiles("50,99.9,0,100");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed, (std::vector<double>{50, 99.9, 0, 100}));
  EXPECT_FALSE(parse_percentiles("").ok());
  EXPECT_FALSE(parse_percentiles("90,").ok());
  EXPECT_FALSE(parse_percentiles("101").ok());
  EXPECT_FALSE(parse_percentiles("ninety").ok());

  BenchResult result;
  for (int i = 10; i >= 1; --i) result.latencies_ms.push_back(i);  // 1..10 ms, unsorted
  ASSERT_TRUE(add_requested_percentiles(result, {0, 50, 90, 100}).ok());
  ASSERT_EQ(result.extra_percentiles_ms.size(), 4u);
  EXPECT_DOUBLE_EQ(result.extra_percentiles_ms[0].second, 1.0);
  EXPECT_DOUBLE_EQ(result.extra_percentiles_ms[1].second, 5.5);  // numpy linear interpolation
  EXPECT_DOUBLE_EQ(result.extra_percentiles_ms[2].second, 9.1);
  EXPECT_DOUBLE_EQ(result.extra_percentiles_ms[3].second, 10.0);
  EXPECT_EQ(percentile_key(99.9), "p99.9");
  EXPECT_NE(bench_result_to_json(result, "m", "cpu").find("\"p90\": 9.1"), std::string::npos);
}

}  // namespace
}  // namespace kiln
