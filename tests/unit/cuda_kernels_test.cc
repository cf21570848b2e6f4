// CUDA kernels run one node at a time through the CUDA op table (no IR
// inference, no executor), against naive host references written here. The
// memory planner test runs everywhere; the others skip without a device.
#if KILN_WITH_CUDA

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "backends/cuda/memory_plan.h"
#include "cuda_node_runner.h"
#include "cuda_test_support.h"
#include "graph_test_util.h"
#include "ir/pointwise_program.h"

namespace kiln::cuda {
namespace {

using kiln::testing::random_tensor;

void expect_near(const Tensor& actual, const std::vector<float>& expected, float tolerance, bool relative = false) {
  ASSERT_EQ(actual.element_count(), static_cast<int64_t>(expected.size()));
  for (size_t i = 0; i < expected.size(); ++i) {
    float a = actual.data<float>()[i];
    float bound = relative ? tolerance * std::max(1.f, std::fabs(expected[i])) : tolerance;
    ASSERT_NEAR(a, expected[i], bound) << "element " << i;
  }
}

TEST(CudaMemoryPlan, SharesMemoryBetweenDisjointLifetimes) {
  std::vector<BufferRequest> requests = {{1000, 0, 1}, {1000, 1, 2}, {1000, 2, 3}, {4000, 3, 3}};
  MemoryPlan plan = plan_memory(requests, 256);
  // 0 and 2 do not overlap in time: they may share; 0/1, 1/2, 2/3 must not overlap in space.
  auto disjoint = [&](size_t a, size_t b) {
    size_t ea = plan.offsets[a] + 1024, eb = plan.offsets[b] + (b == 3 ? 4096 : 1024);
    return ea <= plan.offsets[b] || eb <= plan.offsets[a];
  };
  EXPECT_TRUE(disjoint(0, 1));
  EXPECT_TRUE(disjoint(1, 2));
  EXPECT_TRUE(disjoint(2, 3));
  EXPECT_LT(plan.total_bytes, size_t{1024 * 3 + 4096});
  for (size_t offset : plan.offsets) EXPECT_EQ(offset % 256, 0u);
}

TEST(CudaKernels, PointwiseChainMatchesReference) {
  SKIP_WITHOUT_DEVICE();
  // SiLU then clip: min(6, max(-1, x * sigmoid(x))) * 2
  PointwiseProgram p;
  p.constants = {2.f};
  p.code.push_back({PointwiseOp::kSigmoid, 0, 0, 0, 0});
  p.code.push_back({PointwiseOp::kMul, 0, 1, 0, 0});
  p.code.push_back({PointwiseOp::kClip, 2, 0, -1.f, 6.f});
  p.code.push_back({PointwiseOp::kMul, 3, -1, 0, 0});
  Node node = make_node("PointwiseChain", {}, 1, "kiln");
  p.store(node);
  Tensor x = random_tensor({3, 50}, 1, -8.f, 8.f);
  auto out = run_cuda_node(node, {&x}, {info({3, 50})});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  std::vector<float> expected;
  for (float v : x.span<float>()) expected.push_back(static_cast<float>(p.evaluate(v)));
  expect_near((*out)[0], expected, 1e-4f, true);
}

TEST(CudaKernels, BroadcastAddAndGreater) {
  SKIP_WITHOUT_DEVICE();
  Tensor a = random_tensor({2, 3, 4}, 2);
  Tensor b = random_tensor({3, 1}, 3);
  auto sum = run_cuda_node(make_node("Add"), {&a, &b}, {info({2, 3, 4})});
  ASSERT_TRUE(sum.ok()) << sum.status().to_string();
  auto greater = run_cuda_node(make_node("Greater"), {&a, &b}, {info({2, 3, 4}, DataType::kBool)});
  ASSERT_TRUE(greater.ok()) << greater.status().to_string();
  std::vector<float> expected;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 4; ++k) {
        float av = a.data<float>()[(i * 3 + j) * 4 + k], bv = b.data<float>()[j];
        expected.push_back(av + bv);
        EXPECT_EQ((*greater)[0].data<bool>()[(i * 3 + j) * 4 + k], av > bv);
      }
  expect_near((*sum)[0], expected, 1e-6f);
}

TEST(CudaKernels, WhereAndCast) {
  SKIP_WITHOUT_DEVICE();
  Tensor cond = Tensor::from_vector<bool>(DataType::kBool, {2, 1}, {true, false});
  Tensor x = random_tensor({2, 3}, 4);
  Tensor y = random_tensor({3}, 5);
  auto out = run_cuda_node(make_node("Where"), {&cond, &x, &y}, {info({2, 3})});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  std::vector<float> expected;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j) expected.push_back(i == 0 ? x.data<float>()[j] : y.data<float>()[j]);
  expect_near((*out)[0], expected, 0.f);

  Tensor f = Tensor::from_vector<float>(DataType::kFloat32, {4}, {1.7f, -2.2f, 0.f, 300.f});
  auto cast = run_cuda_node(make_node("Cast", {{"to", Attribute::of_int(7)}}), {&f}, {info({4}, DataType::kInt64)});
  ASSERT_TRUE(cast.ok()) << cast.status().to_string();
  EXPECT_EQ((*cast)[0].to_int64_vector(), (std::vector<int64_t>{1, -2, 0, 300}));
}

TEST(CudaKernels, TransposeSliceConcatGather) {
  SKIP_WITHOUT_DEVICE();
  Tensor x = random_tensor({2, 3, 4}, 6);
  const float* xd = x.data<float>();
  auto t = run_cuda_node(make_node("Transpose", {{"perm", Attribute::of_ints({2, 0, 1})}}), {&x}, {info({4, 2, 3})});
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  std::vector<float> expected;
  for (int k = 0; k < 4; ++k)
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 3; ++j) expected.push_back(xd[(i * 3 + j) * 4 + k]);
  expect_near((*t)[0], expected, 0.f);

  // x[:, 2:0:-1, 1::2]
  Tensor starts = Tensor::from_vector<int64_t>(DataType::kInt64, {2}, {2, 1});
  Tensor ends = Tensor::from_vector<int64_t>(DataType::kInt64, {2}, {0, 100});
  Tensor axes = Tensor::from_vector<int64_t>(DataType::kInt64, {2}, {1, 2});
  Tensor steps = Tensor::from_vector<int64_t>(DataType::kInt64, {2}, {-1, 2});
  auto s = run_cuda_node(make_node("Slice"), {&x, &starts, &ends, &axes, &steps}, {info({2, 2, 2})}, {1, 2, 3, 4});
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  expected.clear();
  for (int i = 0; i < 2; ++i)
    for (int j : {2, 1})
      for (int k : {1, 3}) expected.push_back(xd[(i * 3 + j) * 4 + k]);
  expect_near((*s)[0], expected, 0.f);

  Tensor y = random_tensor({2, 1, 4}, 7);
  auto c = run_cuda_node(make_node("Concat", {{"axis", Attribute::of_int(1)}}), {&x, &y}, {info({2, 4, 4})});
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  expected.clear();
  for (int i = 0; i < 2; ++i) {
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 4; ++k) expected.push_back(xd[(i * 3 + j) * 4 + k]);
    for (int k = 0; k < 4; ++k) expected.push_back(y.data<float>()[i * 4 + k]);
  }
  expect_near((*c)[0], expected, 0.f);

  Tensor indices = Tensor::from_vector<int64_t>(DataType::kInt64, {2}, {-1, 0});
  auto g = run_cuda_node(make_node("Gather", {{"axis", Attribute::of_int(1)}}), {&x, &indices}, {info({2, 2, 4})});
  ASSERT_TRUE(g.ok()) << g.status().to_string();
  expected.clear();
  for (int i = 0; i < 2; ++i)
    for (int j : {2, 0})
      for (int k = 0; k < 4; ++k) expected.push_back(xd[(i * 3 + j) * 4 + k]);
  expect_near((*g)[0], expected, 0.f);
}

TEST(CudaKernels, PadReflect) {
  SKIP_WITHOUT_DEVICE();
  Tensor x = Tensor::from_vector<float>(DataType::kFloat32, {1, 3}, {1, 2, 3});
  Tensor pads = Tensor::from_vector<int64_t>(DataType::kInt64, {4}, {0, 2, 0, 1});
  auto out = run_cuda_node(make_node("Pad", {{"mode", Attribute::of_string("reflect")}}), {&x, &pads},
                           {info({1, 6})}, {1});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  expect_near((*out)[0], {3, 2, 1, 2, 3, 2}, 0.f);
}

TEST(CudaKernels, SoftmaxAndLayerNorm) {
  SKIP_WITHOUT_DEVICE();
  const int rows = 5, n = 300;
  Tensor x = random_tensor({rows, n}, 8, -4.f, 4.f);
  auto sm = run_cuda_node(make_node("Softmax", {{"axis", Attribute::of_int(-1)}}, 13), {&x}, {info({rows, n})});
  ASSERT_TRUE(sm.ok()) << sm.status().to_string();
  Tensor scale = random_tensor({n}, 9), bias = random_tensor({n}, 10);
  auto ln = run_cuda_node(make_node("LayerNormalization", {}, 17, "", 1), {&x, &scale, &bias}, {info({rows, n})});
  ASSERT_TRUE(ln.ok()) << ln.status().to_string();
  std::vector<float> expected_sm, expected_ln;
  for (int r = 0; r < rows; ++r) {
    const float* row = x.data<float>() + r * n;
    double m = -1e30, s = 0, mean = 0, var = 0;
    for (int i = 0; i < n; ++i) m = std::max<double>(m, row[i]);
    for (int i = 0; i < n; ++i) s += std::exp(row[i] - m);
    for (int i = 0; i < n; ++i) expected_sm.push_back(static_cast<float>(std::exp(row[i] - m) / s));
    for (int i = 0; i < n; ++i) mean += row[i];
    mean /= n;
    for (int i = 0; i < n; ++i) var += (row[i] - mean) * (row[i] - mean);
    var /= n;
    for (int i = 0; i < n; ++i) {
      expected_ln.push_back(static_cast<float>((row[i] - mean) / std::sqrt(var + 1e-5) * scale.data<float>()[i] +
                                               bias.data<float>()[i]));
    }
  }
  expect_near((*sm)[0], expected_sm, 1e-5f);
  expect_near((*ln)[0], expected_ln, 1e-4f, true);
}

TEST(CudaKernels, ReduceMeanOverNonAdjacentAxes) {
  SKIP_WITHOUT_DEVICE();
  Tensor x = random_tensor({3, 4, 5}, 11);
  auto out = run_cuda_node(make_node("ReduceMean", {{"axes", Attribute::of_ints({0, 2})}, {"keepdims", Attribute::of_int(0)}}, 13),
                           {&x}, {info({4})});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  std::vector<float> expected(4, 0.f);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 4; ++j)
      for (int k = 0; k < 5; ++k) expected[j] += x.data<float>()[(i * 4 + j) * 5 + k] / 15.f;
  expect_near((*out)[0], expected, 1e-5f);
}

TEST(CudaKernels, MaxPoolAndAveragePoolWithPads) {
  SKIP_WITHOUT_DEVICE();
  Tensor x = random_tensor({1, 2, 5, 5}, 12);
  std::map<std::string, Attribute> attrs = {{"kernel_shape", Attribute::of_ints({3, 3})},
                                            {"strides", Attribute::of_ints({2, 2})},
                                            {"pads", Attribute::of_ints({1, 1, 1, 1})}};
  auto mp = run_cuda_node(make_node("MaxPool", attrs), {&x}, {info({1, 2, 3, 3})});
  ASSERT_TRUE(mp.ok()) << mp.status().to_string();
  auto ap = run_cuda_node(make_node("AveragePool", attrs), {&x}, {info({1, 2, 3, 3})});
  ASSERT_TRUE(ap.ok()) << ap.status().to_string();
  std::vector<float> expected_max, expected_avg;
  for (int c = 0; c < 2; ++c)
    for (int oh = 0; oh < 3; ++oh)
      for (int ow = 0; ow < 3; ++ow) {
        float m = -1e30f, s = 0;
        int count = 0;
        for (int kh = 0; kh < 3; ++kh)
          for (int kw = 0; kw < 3; ++kw) {
            int h = oh * 2 - 1 + kh, w = ow * 2 - 1 + kw;
            if (h < 0 || h >= 5 || w < 0 || w >= 5) continue;
            float v = x.data<float>()[(c * 5 + h) * 5 + w];
            m = std::max(m, v);
            s += v;
            ++count;
          }
        expected_max.push_back(m);
        expected_avg.push_back(s / count);
      }
  expect_near((*mp)[0], expected_max, 0.f);
  expect_near((*ap)[0], expected_avg, 1e-5f);
}

// Naive NCHW convolution with groups, strides, dilations and asymmetric pads.
std::vector<float> reference_conv(const Tensor& x, const Tensor& w, const Tensor* b, int groups, int stride,
                                  int dilation, int pad_top, int pad_left, const Dims& y_dims) {
  const int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), wd = x.dim(3);
  const int64_t k = w.dim(0), cg = w.dim(1), kh = w.dim(2), kw = w.dim(3);
  const int64_t oh = y_dims[2], ow = y_dims[3];
  std::vector<float> y;
  for (int64_t ni = 0; ni < n; ++ni)
    for (int64_t ki = 0; ki < k; ++ki) {
      const int64_t g = ki / (k / groups);
      for (int64_t i = 0; i < oh; ++i)
        for (int64_t j = 0; j < ow; ++j) {
          double acc = b ? b->data<float>()[ki] : 0.0;
          for (int64_t ci = 0; ci < cg; ++ci)
            for (int64_t a = 0; a < kh; ++a)
              for (int64_t e = 0; e < kw; ++e) {
                int64_t hi = i * stride - pad_top + a * dilation, wi = j * stride - pad_left + e * dilation;
                if (hi < 0 || hi >= h || wi < 0 || wi >= wd) continue;
                acc += x.data<float>()[((ni * c + g * cg + ci) * h + hi) * wd + wi] *
                       w.data<float>()[((ki * cg + ci) * kh + a) * kw + e];
              }
          y.push_back(static_cast<float>(acc));
        }
    }
  (void)c;
  return y;
}

TEST(CudaKernels, ConvGroupedAsymmetricPads) {
  SKIP_WITHOUT_DEVICE();
  Tensor x = random_tensor({2, 4, 7, 6}, 13);
  Tensor w = random_tensor({6, 2, 3, 3}, 14);
  Tensor b = random_tensor({6}, 15);
  // H: (7 + 1 + 0 - 5) / 2 + 1 = 2; W: (6 + 2 + 1 - 5) / 2 + 1 = 3 with dilation 2 (kernel extent 5).
  Dims y_dims = {2, 6, 2, 3};
  Node conv = make_node("Conv", {{"group", Attribute::of_int(2)},
                                 {"strides", Attribute::of_ints({2, 2})},
                                 {"dilations", Attribute::of_ints({2, 2})},
                                 {"pads", Attribute::of_ints({1, 2, 0, 1})}});
  auto out = run_cuda_node(conv, {&x, &w, &b}, {info(y_dims)}, {1, 2});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  expect_near((*out)[0], reference_conv(x, w, &b, 2, 2, 2, 1, 2, y_dims), 1e-4f, true);
}

TEST(CudaKernels, FusedConvBiasRelu) {
  SKIP_WITHOUT_DEVICE();
  Tensor x = random_tensor({1, 3, 8, 8}, 16);
  Tensor w = random_tensor({8, 3, 3, 3}, 17);
  Tensor b = random_tensor({8}, 18);
  Node conv = make_node("FusedConv", {{"pads", Attribute::of_ints({1, 1, 1, 1})}}, 17, "kiln");
  PointwiseProgram relu;
  relu.code.push_back({PointwiseOp::kRelu, 0, 0, 0, 0});
  relu.store(conv);
  Dims y_dims = {1, 8, 8, 8};
  auto out = run_cuda_node(conv, {&x, &w, &b}, {info(y_dims)}, {1, 2}, /*allow_tf32=*/true);
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  std::vector<float> expected = reference_conv(x, w, &b, 1, 1, 1, 1, 1, y_dims);
  for (float& v : expected) v = std::max(v, 0.f);
  expect_near((*out)[0], expected, 1e-2f, true);  // TF32
}

std::vector<float> reference_matmul(const float* a, const float* b, int64_t m, int64_t k, int64_t n) {
  std::vector<float> y(m * n);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double acc = 0;
      for (int64_t e = 0; e < k; ++e) acc += a[i * k + e] * b[e * n + j];
      y[i * n + j] = static_cast<float>(acc);
    }
  return y;
}

TEST(CudaKernels, BatchedMatMulWithSharedWeightAndBias) {
  SKIP_WITHOUT_DEVICE();
  Tensor a = random_tensor({3, 5, 7}, 19);
  Tensor b = random_tensor({7, 4}, 20);
  Tensor bias = random_tensor({4}, 21);
  Node mm = make_node("FusedMatMul", {}, 17, "kiln");
  PointwiseProgram tanh_program;
  tanh_program.code.push_back({PointwiseOp::kTanh, 0, 0, 0, 0});
  tanh_program.store(mm);
  auto out = run_cuda_node(mm, {&a, &b, &bias}, {info({3, 5, 4})}, {1, 2});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  std::vector<float> expected;
  for (int batch = 0; batch < 3; ++batch) {
    auto y = reference_matmul(a.data<float>() + batch * 35, b.data<float>(), 5, 7, 4);
    for (int i = 0; i < 20; ++i) expected.push_back(std::tanh(y[i] + bias.data<float>()[i % 4]));
  }
  expect_near((*out)[0], expected, 1e-4f, true);

  // General broadcast: [2,1,3,4] x [1,2,4,5] -> [2,2,3,5].
  Tensor p = random_tensor({2, 1, 3, 4}, 22), q = random_tensor({1, 2, 4, 5}, 23);
  auto general = run_cuda_node(make_node("MatMul"), {&p, &q}, {info({2, 2, 3, 5})});
  ASSERT_TRUE(general.ok()) << general.status().to_string();
  expected.clear();
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j) {
      auto y = reference_matmul(p.data<float>() + i * 12, q.data<float>() + j * 20, 3, 4, 5);
      expected.insert(expected.end(), y.begin(), y.end());
    }
  expect_near((*general)[0], expected, 1e-4f, true);
}

TEST(CudaKernels, GemmTransposedWithMatrixC) {
  SKIP_WITHOUT_DEVICE();
  Tensor a = random_tensor({6, 3}, 24);  // transA: A is K x M
  Tensor b = random_tensor({5, 6}, 25);  // transB: B is N x K
  Tensor c = random_tensor({3, 1}, 26);  // broadcast over columns
  Node gemm = make_node("Gemm", {{"transA", Attribute::of_int(1)}, {"transB", Attribute::of_int(1)},
                                 {"alpha", Attribute::of_float(0.5)}, {"beta", Attribute::of_float(2.0)}});
  auto out = run_cuda_node(gemm, {&a, &b, &c}, {info({3, 5})}, {1, 2});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  std::vector<float> expected;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 5; ++j) {
      double acc = 0;
      for (int e = 0; e < 6; ++e) acc += a.data<float>()[e * 3 + i] * b.data<float>()[j * 6 + e];
      expected.push_back(static_cast<float>(0.5 * acc + 2.0 * c.data<float>()[i]));
    }
  expect_near((*out)[0], expected, 1e-4f, true);
}

TEST(CudaKernels, BatchNormalizationInference) {
  SKIP_WITHOUT_DEVICE();
  Tensor x = random_tensor({2, 3, 4}, 27);
  Tensor scale = random_tensor({3}, 28), bias = random_tensor({3}, 29), mean = random_tensor({3}, 30);
  Tensor var = random_tensor({3}, 31, 0.5f, 2.f);
  auto out = run_cuda_node(make_node("BatchNormalization"), {&x, &scale, &bias, &mean, &var}, {info({2, 3, 4})},
                           {1, 2, 3, 4});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  std::vector<float> expected;
  for (int i = 0; i < 24; ++i) {
    int c = (i / 4) % 3;
    expected.push_back((x.data<float>()[i] - mean.data<float>()[c]) / std::sqrt(var.data<float>()[c] + 1e-5f) *
                           scale.data<float>()[c] +
                       bias.data<float>()[c]);
  }
  expect_near((*out)[0], expected, 1e-5f, true);
}

TEST(CudaKernels, ResizeNearestAndLinear) {
  SKIP_WITHOUT_DEVICE();
  Tensor x = random_tensor({1, 2, 3, 4}, 32);
  Tensor scales = Tensor::from_vector<float>(DataType::kFloat32, {4}, {1, 1, 2, 1.5f});
  Node nearest = make_node("Resize", {{"mode", Attribute::of_string("nearest")}}, 13);
  auto n = run_cuda_node(nearest, {&x, nullptr, &scales}, {info({1, 2, 6, 6})}, {2});
  ASSERT_TRUE(n.ok()) << n.status().to_string();
  Node linear = make_node("Resize", {{"mode", Attribute::of_string("linear")},
                                     {"coordinate_transformation_mode", Attribute::of_string("align_corners")}},
                          13);
  auto l = run_cuda_node(linear, {&x, nullptr, &scales}, {info({1, 2, 6, 6})}, {2});
  ASSERT_TRUE(l.ok()) << l.status().to_string();
  std::vector<float> expected_nearest, expected_linear;
  auto at = [&](int c, int h, int w) { return x.data<float>()[(c * 3 + h) * 4 + w]; };
  for (int c = 0; c < 2; ++c)
    for (int i = 0; i < 6; ++i)
      for (int j = 0; j < 6; ++j) {
        // half_pixel + round_prefer_floor
        auto near_index = [](float v, int n) {
          float f = std::floor(v);
          int r = (v - f == 0.5f) ? static_cast<int>(f) : static_cast<int>(std::round(v));
          return std::min(std::max(r, 0), n - 1);
        };
        expected_nearest.push_back(at(c, near_index((i + 0.5f) / 2 - 0.5f, 3), near_index((j + 0.5f) / 1.5f - 0.5f, 4)));
        float y = i * 2.f / 5.f, xx = j * 3.f / 5.f;
        int y0 = static_cast<int>(std::floor(y)), x0 = static_cast<int>(std::floor(xx));
        int y1 = std::min(y0 + 1, 2), x1 = std::min(x0 + 1, 3);
        float wy = y - y0, wx = xx - x0;
        expected_linear.push_back((at(c, y0, x0) * (1 - wx) + at(c, y0, x1) * wx) * (1 - wy) +
                                  (at(c, y1, x0) * (1 - wx) + at(c, y1, x1) * wx) * wy);
      }
  expect_near((*n)[0], expected_nearest, 0.f);
  expect_near((*l)[0], expected_linear, 1e-5f);
}

TEST(CudaKernels, TileDepthToSpaceAndSin) {
  SKIP_WITHOUT_DEVICE();
  Tensor x = random_tensor({2, 3}, 33);
  Tensor repeats = Tensor::from_vector<int64_t>(DataType::kInt64, {2}, {2, 2});
  auto t = run_cuda_node(make_node("Tile"), {&x, &repeats}, {info({4, 6})}, {1});
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  std::vector<float> expected;
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 6; ++j) expected.push_back(x.data<float>()[(i % 2) * 3 + j % 3]);
  expect_near((*t)[0], expected, 0.f);

  Tensor d = random_tensor({1, 8, 2, 3}, 34);
  auto dts = run_cuda_node(make_node("DepthToSpace", {{"blocksize", Attribute::of_int(2)}}), {&d},
                           {info({1, 2, 4, 6})});
  ASSERT_TRUE(dts.ok()) << dts.status().to_string();
  expected.clear();
  for (int c = 0; c < 2; ++c)
    for (int h = 0; h < 4; ++h)
      for (int w = 0; w < 6; ++w) {
        int b1 = h % 2, b2 = w % 2;
        int channel = (b1 * 2 + b2) * 2 + c;  // DCR
        expected.push_back(d.data<float>()[(channel * 2 + h / 2) * 3 + w / 2]);
      }
  expect_near((*dts)[0], expected, 0.f);

  auto s = run_cuda_node(make_node("Sin"), {&x}, {info({2, 3})});
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  expected.clear();
  for (float v : x.span<float>()) expected.push_back(std::sin(v));
  expect_near((*s)[0], expected, 1e-6f);
}

TEST(CudaKernels, ConvTransposeStridedWithBias) {
  SKIP_WITHOUT_DEVICE();
  Tensor x = random_tensor({1, 4, 3, 3}, 35);
  Tensor w = random_tensor({4, 2, 3, 3}, 36);  // C_in x C_out x kH x kW
  Tensor b = random_tensor({2}, 37);
  // out = (3 - 1) * 2 + 1 + 3 - 1 - 1 = 6 with pads 1/1 and output_padding 1.
  Node node = make_node("ConvTranspose", {{"strides", Attribute::of_ints({2, 2})},
                                          {"pads", Attribute::of_ints({1, 1, 1, 1})},
                                          {"output_padding", Attribute::of_ints({1, 1})}});
  auto out = run_cuda_node(node, {&x, &w, &b}, {info({1, 2, 6, 6})}, {1, 2});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  std::vector<double> full(2 * 8 * 8, 0.0);  // uncropped (3-1)*2+3 = 7, plus output_padding
  for (int ci = 0; ci < 4; ++ci)
    for (int co = 0; co < 2; ++co)
      for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j)
          for (int a = 0; a < 3; ++a)
            for (int e = 0; e < 3; ++e)
              full[(co * 8 + i * 2 + a) * 8 + j * 2 + e] +=
                  x.data<float>()[(ci * 3 + i) * 3 + j] * w.data<float>()[((ci * 2 + co) * 3 + a) * 3 + e];
  std::vector<float> expected;
  for (int co = 0; co < 2; ++co)
    for (int i = 0; i < 6; ++i)
      for (int j = 0; j < 6; ++j)
        expected.push_back(static_cast<float>(full[(co * 8 + i + 1) * 8 + j + 1] + b.data<float>()[co]));
  expect_near((*out)[0], expected, 1e-4f, true);
}

TEST(CudaKernels, TopKGatherNdScatterNd) {
  SKIP_WITHOUT_DEVICE();
  Tensor x = Tensor::from_vector<float>(DataType::kFloat32, {2, 5}, {3, 1, 4, 1, 5, 9, 2, 6, 5, 3});
  Tensor k = Tensor::from_vector<int64_t>(DataType::kInt64, {1}, {3});
  Node topk = make_node("TopK", {}, 11, "", 2);
  auto top = run_cuda_node(topk, {&x, &k}, {info({2, 3}), info({2, 3}, DataType::kInt64)}, {1});
  ASSERT_TRUE(top.ok()) << top.status().to_string();
  expect_near((*top)[0], {5, 4, 3, 9, 6, 5}, 0.f);
  EXPECT_EQ((*top)[1].to_int64_vector(), (std::vector<int64_t>{4, 2, 0, 0, 2, 3}));

  Tensor data = random_tensor({2, 3, 4}, 38);
  Tensor indices = Tensor::from_vector<int64_t>(DataType::kInt64, {2, 2}, {1, 2, 0, -1});
  auto gathered = run_cuda_node(make_node("GatherND", {}, 13), {&data, &indices}, {info({2, 4})});
  ASSERT_TRUE(gathered.ok()) << gathered.status().to_string();
  std::vector<float> expected;
  for (int s = 0; s < 4; ++s) expected.push_back(data.data<float>()[(1 * 3 + 2) * 4 + s]);
  for (int s = 0; s < 4; ++s) expected.push_back(data.data<float>()[(0 * 3 + 2) * 4 + s]);
  expect_near((*gathered)[0], expected, 0.f);

  Tensor updates = random_tensor({2, 4}, 39);
  auto scattered = run_cuda_node(make_node("ScatterND", {}, 16), {&data, &indices, &updates}, {info({2, 3, 4})});
  ASSERT_TRUE(scattered.ok()) << scattered.status().to_string();
  expected.assign(data.data<float>(), data.data<float>() + 24);
  for (int s = 0; s < 4; ++s) expected[(1 * 3 + 2) * 4 + s] = updates.data<float>()[s];
  for (int s = 0; s < 4; ++s) expected[(0 * 3 + 2) * 4 + s] = updates.data<float>()[4 + s];
  expect_near((*scattered)[0], expected, 0.f);
}

TEST(CudaKernels, Conv3dMatchesReference) {
  SKIP_WITHOUT_DEVICE();
  Tensor x = random_tensor({1, 2, 4, 5, 5}, 41);
  Tensor w = random_tensor({3, 2, 3, 3, 3}, 42);
  Node conv = make_node("Conv", {{"pads", Attribute::of_ints({1, 1, 1, 1, 1, 1})}});
  auto out = run_cuda_node(conv, {&x, &w}, {info({1, 3, 4, 5, 5})}, {1});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  std::vector<float> expected;
  for (int k = 0; k < 3; ++k)
    for (int d = 0; d < 4; ++d)
      for (int h = 0; h < 5; ++h)
        for (int v = 0; v < 5; ++v) {
          double acc = 0;
          for (int c = 0; c < 2; ++c)
            for (int a = 0; a < 3; ++a)
              for (int b = 0; b < 3; ++b)
                for (int e = 0; e < 3; ++e) {
                  int dd = d + a - 1, hh = h + b - 1, ww = v + e - 1;
                  if (dd < 0 || dd >= 4 || hh < 0 || hh >= 5 || ww < 0 || ww >= 5) continue;
                  acc += x.data<float>()[((c * 4 + dd) * 5 + hh) * 5 + ww] *
                         w.data<float>()[(((k * 2 + c) * 3 + a) * 3 + b) * 3 + e];
                }
          expected.push_back(static_cast<float>(acc));
        }
  expect_near((*out)[0], expected, 1e-4f, true);  // TF32 is off in these runs
}

TEST(CudaKernels, ConvTransposeSameUpperCropsTheWorkspaceResult) {
  SKIP_WITHOUT_DEVICE();
  Tensor x = random_tensor({1, 1, 3, 3}, 43);
  Tensor w = random_tensor({1, 1, 3, 3}, 44);
  Node node = make_node("ConvTranspose", {{"strides", Attribute::of_ints({2, 2})},
                                          {"auto_pad", Attribute::of_string("SAME_UPPER")}});
  auto out = run_cuda_node(node, {&x, &w}, {info({1, 1, 6, 6})}, {1});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  // Uncropped result is 7 x 7; SAME_UPPER crops 0 at the start and 1 at the end.
  std::vector<double> full(49, 0.0);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      for (int a = 0; a < 3; ++a)
        for (int e = 0; e < 3; ++e) full[(i * 2 + a) * 7 + j * 2 + e] += x.data<float>()[i * 3 + j] * w.data<float>()[a * 3 + e];
  std::vector<float> expected;
  for (int i = 0; i < 6; ++i)
    for (int j = 0; j < 6; ++j) expected.push_back(static_cast<float>(full[i * 7 + j]));
  expect_near((*out)[0], expected, 1e-4f, true);
}

TEST(CudaKernels, UnsupportedDtypeIsRejectedWithNodeAndType) {
  const CudaKernel* kernel = CudaKernelTable::global().find("Softmax", "");
  ASSERT_NE(kernel, nullptr);
  Node node = make_node("Softmax");
  Status s = kernel->supports(node, {info({2, 2}, DataType::kInt32)});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("int32"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("Softmax_test"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace kiln::cuda

#endif  // KILN_WITH_CUDA
