// Pooling ops on the CPU backend (oneDNN for float32 without Indices, loops
// otherwise) against naive loops.
#include <gtest/gtest.h>

#include "nn_test_support.h"

namespace kiln::nn_test {
namespace {

// ---------------------------------------------------------------- pooling

struct PoolCase {
  Dims x, kernel, strides, pads, dilations;
  bool ceil_mode = false;
};

// Max / average over the window cells; average divides by the cells inside
// the input, or with count_include_pad by those inside the explicit padding.
std::vector<double> naive_pool(const PoolCase& p, const std::string& kind, bool count_include_pad,
                               const std::vector<double>& x, Dims* out_dims, std::vector<int64_t>* indices) {
  size_t rank = p.kernel.size();
  Dims strides = p.strides.empty() ? Dims(rank, 1) : p.strides;
  Dims dilations = p.dilations.empty() ? Dims(rank, 1) : p.dilations;
  Dims pads = p.pads.empty() ? Dims(2 * rank, 0) : p.pads;
  *out_dims = {p.x[0], p.x[1]};
  for (size_t d = 0; d < rank; ++d) {
    double span = static_cast<double>(p.x[d + 2] + pads[d] + pads[d + rank] - dilations[d] * (p.kernel[d] - 1) - 1);
    int64_t out = static_cast<int64_t>(p.ceil_mode ? std::ceil(span / strides[d]) : std::floor(span / strides[d])) + 1;
    if (p.ceil_mode && (out - 1) * strides[d] >= p.x[d + 2] + pads[d]) --out;
    out_dims->push_back(out);
  }
  std::vector<double> y(element_count(*out_dims));
  if (indices) indices->assign(y.size(), -1);
  Dims oi(out_dims->size(), 0);
  do {
    double best = -INFINITY, sum = 0;
    int64_t real = 0, padded = 0, best_index = -1;
    Dims ki(rank, 0);
    do {
      Dims xi = {oi[0], oi[1]};
      bool inside = true, inside_padding = true;
      for (size_t d = 0; d < rank; ++d) {
        int64_t pos = oi[d + 2] * strides[d] - pads[d] + ki[d] * dilations[d];
        inside &= pos >= 0 && pos < p.x[d + 2];
        inside_padding &= pos >= -pads[d] && pos < p.x[d + 2] + pads[d + rank];
        xi.push_back(pos);
      }
      padded += inside_padding;
      if (!inside) continue;
      double v = x[flat_index(p.x, xi)];
      ++real;
      sum += v;
      if (v > best) best = v, best_index = flat_index(p.x, xi);
    } while (next_index(p.kernel, ki));
    int64_t o = flat_index(*out_dims, oi);
    y[o] = kind == "max" ? best : sum / static_cast<double>(count_include_pad ? padded : real);
    if (indices) (*indices)[o] = best_index;
  } while (next_index(*out_dims, oi));
  return y;
}

std::map<std::string, Attribute> pool_attributes(const PoolCase& p) {
  std::map<std::string, Attribute> a = {{"kernel_shape", ints(p.kernel)}};
  if (!p.strides.empty()) a["strides"] = ints(p.strides);
  if (!p.pads.empty()) a["pads"] = ints(p.pads);
  if (!p.dilations.empty()) a["dilations"] = ints(p.dilations);
  if (p.ceil_mode) a["ceil_mode"] = Attribute::of_int(1);
  return a;
}

const std::vector<PoolCase>& pool_cases() {
  static const std::vector<PoolCase> cases = {
      {{1, 3, 8, 8}, {2, 2}, {2, 2}},
      {{2, 2, 9, 7}, {3, 3}, {2, 2}, {1, 1, 1, 1}},
      {{1, 2, 10, 11}, {3, 2}, {2, 3}, {1, 0, 2, 1}, {}, true},
      {{1, 1, 9, 9}, {2, 3}, {1, 2}, {}, {2, 2}},
      {{1, 2, 13}, {4}, {3}, {2, 1}, {}, true},
      {{1, 2, 5, 6, 7}, {2, 3, 2}, {2, 2, 2}, {1, 0, 1, 0, 1, 1}},
      {{1, 64, 112, 112}, {3, 3}, {2, 2}, {1, 1, 1, 1}},  // ResNet stem
  };
  return cases;
}

TEST(NnPool, MaxPoolWithIndicesMatchesNaiveLoops) {
  uint32_t seed = 500;
  for (const PoolCase& p : pool_cases()) {
    Tensor x = random_tensor(DataType::kFloat32, p.x, seed += 3);
    Dims out_dims;
    std::vector<int64_t> indices;
    std::vector<double> expected = naive_pool(p, "max", false, as_doubles(x), &out_dims, &indices);
    auto out = run_node("MaxPool", {{"x", x}}, pool_attributes(p), 2);
    std::string what = "maxpool x=" + dims_to_string(p.x) + " k=" + dims_to_string(p.kernel);
    ASSERT_TRUE(out.ok()) << what << ": " << out.status().to_string();
    expect_close((*out)[0], out_dims, expected, 0, 0, what);
    std::vector<double> expected_indices(indices.begin(), indices.end());
    expect_close((*out)[1], out_dims, expected_indices, 0, 0, what + " indices");
    // Without Indices float32 max pooling takes the oneDNN path.
    auto values_only = run_node("MaxPool", {{"x", x}}, pool_attributes(p), 1);
    ASSERT_TRUE(values_only.ok()) << what << ": " << values_only.status().to_string();
    expect_close((*values_only)[0], out_dims, expected, 0, 0, what + " without indices");
  }
}

TEST(NnPool, AveragePoolWithAndWithoutPaddingInCount) {
  uint32_t seed = 600;
  for (const PoolCase& p : pool_cases()) {
    for (bool include : {false, true}) {
      Tensor x = random_tensor(DataType::kFloat32, p.x, seed += 3);
      Dims out_dims;
      std::vector<double> expected = naive_pool(p, "avg", include, as_doubles(x), &out_dims, nullptr);
      auto attributes = pool_attributes(p);
      attributes["count_include_pad"] = Attribute::of_int(include);
      auto out = run_node("AveragePool", {{"x", x}}, attributes);
      std::string what = "avgpool x=" + dims_to_string(p.x) + " include_pad=" + std::to_string(include);
      ASSERT_TRUE(out.ok()) << what << ": " << out.status().to_string();
      expect_close((*out)[0], out_dims, expected, 1e-6, 1e-5, what);
    }
  }
}

TEST(NnPool, GlobalPoolsAndLpPool) {
  Tensor x = random_tensor(DataType::kFloat32, {2, 3, 4, 5}, 700);
  std::vector<double> xv = as_doubles(x);
  std::vector<double> mean(6, 0), maximum(6, -INFINITY), lp(6, 0);
  for (int64_t plane = 0; plane < 6; ++plane)
    for (int64_t i = 0; i < 20; ++i) {
      double v = xv[plane * 20 + i];
      mean[plane] += v / 20;
      maximum[plane] = std::max(maximum[plane], v);
    }
  // p = 3 below.
  for (int64_t plane = 0; plane < 6; ++plane)
    for (int64_t i = 0; i < 20; ++i) lp[plane] += std::pow(std::fabs(xv[plane * 20 + i]), 3);
  for (double& v : lp) v = std::cbrt(v);
  auto avg = run_node("GlobalAveragePool", {{"x", x}}, {});
  auto max = run_node("GlobalMaxPool", {{"x", x}}, {});
  auto lpp = run_node("GlobalLpPool", {{"x", x}}, {{"p", Attribute::of_int(3)}});
  ASSERT_TRUE(avg.ok() && max.ok() && lpp.ok());
  expect_close((*avg)[0], {2, 3, 1, 1}, mean, 1e-6, 1e-5, "GlobalAveragePool");
  expect_close((*max)[0], {2, 3, 1, 1}, maximum, 0, 0, "GlobalMaxPool");
  expect_close((*lpp)[0], {2, 3, 1, 1}, lp, 1e-5, 1e-5, "GlobalLpPool");
  // LpPool with a window covering the whole plane equals GlobalLpPool.
  auto window = run_node("LpPool", {{"x", x}}, {{"p", Attribute::of_int(3)}, {"kernel_shape", ints({4, 5})}});
  ASSERT_TRUE(window.ok()) << window.status().to_string();
  expect_close((*window)[0], {2, 3, 1, 1}, lp, 1e-5, 1e-5, "LpPool");
}

TEST(NnPool, MaxUnpoolInvertsMaxPool) {
  PoolCase p{{1, 2, 6, 6}, {2, 2}, {2, 2}};
  Tensor x = random_tensor(DataType::kFloat32, p.x, 800);
  auto pooled = run_node("MaxPool", {{"x", x}}, pool_attributes(p), 2);
  ASSERT_TRUE(pooled.ok()) << pooled.status().to_string();
  auto unpooled = run_node("MaxUnpool", {{"y", (*pooled)[0]}, {"i", (*pooled)[1]}},
                           {{"kernel_shape", ints({2, 2})}, {"strides", ints({2, 2})}});
  ASSERT_TRUE(unpooled.ok()) << unpooled.status().to_string();
  std::vector<double> expected(72, 0.0), xv = as_doubles(x), yv = as_doubles((*pooled)[0]);
  std::vector<int64_t> where = (*pooled)[1].to_int64_vector();
  for (size_t i = 0; i < where.size(); ++i) {
    expected[where[i]] = yv[i];
    EXPECT_EQ(xv[where[i]], yv[i]);
  }
  expect_close((*unpooled)[0], p.x, expected, 0, 0, "MaxUnpool");
}

}  // namespace
}  // namespace kiln::nn_test
