// MatMul, Gemm and the integer/quantized ops (MatMulInteger, ConvInteger,
// QLinearMatMul, QLinearConv) on the CPU backend against naive loops.
#include <gtest/gtest.h>

#include "nn_test_support.h"

namespace kiln::nn_test {
namespace {

TEST(NnMatMul, BroadcastingAndVectorsMatchNaiveLoops) {
  const std::vector<std::pair<Dims, Dims>> shapes = {
      {{3, 4}, {4, 5}},
      {{2, 3, 4}, {4, 5}},
      {{2, 3, 4}, {2, 4, 5}},
      {{2, 1, 3, 4}, {5, 4, 6}},
      {{4}, {2, 4, 3}},
      {{2, 3, 4}, {4}},
      {{7}, {7}},
      {{1, 3, 4}, {6, 4, 2}},
      {{65, 70}, {70, 80}},
      {{3, 2, 66, 67}, {67, 68}},
  };
  uint32_t seed = 200;
  for (const auto& [a_dims, b_dims] : shapes) {
    for (DataType dtype : {DataType::kFloat32, DataType::kFloat64, DataType::kInt32, DataType::kInt64}) {
      double range = dtype_is_float(dtype) ? 1.0 : 9.0;
      Tensor a = random_tensor(dtype, a_dims, seed += 3, -range, range);
      Tensor b = random_tensor(dtype, b_dims, seed + 1, -range, range);
      Dims out_dims;
      std::vector<double> expected = naive_matmul(a_dims, as_doubles(a), b_dims, as_doubles(b), &out_dims);
      auto out = run_node("MatMul", {{"a", a}, {"b", b}}, {});
      std::string what = "matmul " + dims_to_string(a_dims) + " x " + dims_to_string(b_dims) + " " + dtype_name(dtype);
      ASSERT_TRUE(out.ok()) << what << ": " << out.status().to_string();
      double tol = dtype == DataType::kFloat32 ? 1e-4 : 1e-9;
      expect_close((*out)[0], out_dims, expected, tol, tol, what);
    }
  }
}

TEST(NnGemm, TransposesAlphaBetaAndBroadcastC) {
  struct Case {
    bool trans_a, trans_b;
    Dims c;  // empty: no C
  };
  const int64_t m = 5, n = 7, k = 6;
  const std::vector<Case> cases = {{false, false, {m, n}}, {true, false, {n}},  {false, true, {m, 1}},
                                   {true, true, {}},       {false, false, {1}}, {true, true, {1, n}}};
  uint32_t seed = 300;
  for (const Case& c : cases) {
    for (DataType dtype : {DataType::kFloat32, DataType::kFloat64}) {
      Tensor a = random_tensor(dtype, c.trans_a ? Dims{k, m} : Dims{m, k}, seed += 3);
      Tensor b = random_tensor(dtype, c.trans_b ? Dims{n, k} : Dims{k, n}, seed + 1);
      Tensor cc = random_tensor(dtype, c.c.empty() ? Dims{1} : c.c, seed + 2);
      std::vector<double> av = as_doubles(a), bv = as_doubles(b), cv = as_doubles(cc);
      const double alpha = 0.75, beta = -1.5;
      std::vector<double> expected(m * n);
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
          double acc = 0;
          for (int64_t kk = 0; kk < k; ++kk) {
            acc += av[c.trans_a ? kk * m + i : i * k + kk] * bv[c.trans_b ? j * k + kk : kk * n + j];
          }
          double cval = 0;
          if (!c.c.empty()) {
            Dims cd = c.c;
            if (cd.size() == 1) cd.insert(cd.begin(), 1);
            cval = cv[(cd[0] == 1 ? 0 : i) * cd[1] + (cd[1] == 1 ? 0 : j)];
          }
          expected[i * n + j] = alpha * acc + beta * cval;
        }
      std::vector<InputSpec> inputs = {{"a", a}, {"b", b, true}};
      if (!c.c.empty()) inputs.push_back({"c", cc, true});
      auto out = run_node("Gemm", inputs,
                          {{"transA", Attribute::of_int(c.trans_a)},
                           {"transB", Attribute::of_int(c.trans_b)},
                           {"alpha", Attribute::of_float(alpha)},
                           {"beta", Attribute::of_float(beta)}});
      std::string what = std::string("gemm transA=") + (c.trans_a ? "1" : "0") + " transB=" + (c.trans_b ? "1" : "0") +
                         " C=" + dims_to_string(c.c) + " " + dtype_name(dtype);
      ASSERT_TRUE(out.ok()) << what << ": " << out.status().to_string();
      expect_close((*out)[0], {m, n}, expected, 1e-5, 1e-5, what);
    }
  }
}

TEST(NnGemm, Float16ComputesInFloat32) {
  Tensor a = random_tensor(DataType::kFloat32, {3, 4}, 350);
  Tensor b = random_tensor(DataType::kFloat32, {4, 2}, 351);
  auto a16 = cast_tensor(a, DataType::kFloat16);
  auto b16 = cast_tensor(b, DataType::kFloat16);
  ASSERT_TRUE(a16.ok() && b16.ok());
  auto out = run_node("Gemm", {{"a", *a16}, {"b", *b16}}, {});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  ASSERT_EQ((*out)[0].dtype(), DataType::kFloat16);
  Dims out_dims;
  std::vector<double> expected = naive_matmul({3, 4}, as_doubles(*a16), {4, 2}, as_doubles(*b16), &out_dims);
  expect_close((*out)[0], {3, 2}, expected, 2e-3, 2e-3, "Gemm float16");
}

// ---------------------------------------------------------------- integer ops

TEST(NnInteger, MatMulIntegerWithZeroPoints) {
  Tensor a = random_tensor(DataType::kUint8, {2, 3, 4}, 400, 0, 255);
  Tensor b = random_tensor(DataType::kInt8, {4, 5}, 401, -128, 127);
  Tensor a_zero = Tensor::from_vector<uint8_t>(DataType::kUint8, {3}, {12, 130, 7});  // per row
  Tensor b_zero = Tensor::from_vector<int8_t>(DataType::kInt8, {}, {-3});
  auto out = run_node("MatMulInteger", {{"a", a}, {"b", b}, {"az", a_zero}, {"bz", b_zero}}, {});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  ASSERT_EQ((*out)[0].dtype(), DataType::kInt32);
  std::vector<double> av = as_doubles(a), bv = as_doubles(b);
  for (int64_t i = 0; i < static_cast<int64_t>(av.size()); ++i) av[i] -= a_zero.data<uint8_t>()[(i / 4) % 3];
  for (double& v : bv) v -= -3;
  Dims out_dims;
  std::vector<double> expected = naive_matmul({2, 3, 4}, av, {4, 5}, bv, &out_dims);
  expect_close((*out)[0], out_dims, expected, 0, 0, "MatMulInteger");
}

TEST(NnInteger, ConvIntegerWithZeroPointAndPadding) {
  ConvCase c{{1, 2, 5, 5}, {3, 2, 3, 3}, 1, {2, 2}, {}, {1, 1, 1, 1}, false};
  Tensor x = random_tensor(DataType::kUint8, c.x, 410, 0, 255);
  Tensor w = random_tensor(DataType::kUint8, c.w, 411, 0, 255);
  Tensor x_zero = Tensor::from_vector<uint8_t>(DataType::kUint8, {}, {100});
  std::vector<double> xv = as_doubles(x), wv = as_doubles(w);
  for (double& v : xv) v -= 100;
  Dims out_dims = forward_output_dims(c);
  std::vector<double> expected = naive_conv(c, out_dims, xv, wv, nullptr, pads_begin_of(c));
  auto out = run_node("ConvInteger", {{"x", x}, {"w", w, true}, {"xz", x_zero, true}}, conv_attributes(c));
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  expect_close((*out)[0], out_dims, expected, 0, 0, "ConvInteger");
}

// Requantizes like the ONNX reference: round half to even, then saturate to uint8.
double requantize_uint8(double acc, double scale, double y_scale, double y_zero) {
  double v = std::nearbyint(static_cast<float>(acc) * static_cast<float>(scale / y_scale)) + y_zero;
  return std::clamp(v, 0.0, 255.0);
}

TEST(NnInteger, QLinearMatMulRequantizes) {
  Tensor a = random_tensor(DataType::kUint8, {2, 3, 4}, 420, 0, 255);
  Tensor b = random_tensor(DataType::kUint8, {4, 5}, 421, 0, 255);
  auto scalar_u8 = [](uint8_t v) { return Tensor::from_vector<uint8_t>(DataType::kUint8, {}, {v}); };
  auto scalar_f = [](float v) { return Tensor::from_vector<float>(DataType::kFloat32, {}, {v}); };
  const float a_scale = 0.02f, b_scale = 0.01f, y_scale = 0.05f;
  auto out = run_node("QLinearMatMul",
                      {{"a", a},
                       {"as", scalar_f(a_scale)},
                       {"az", scalar_u8(120)},
                       {"b", b, true},
                       {"bs", scalar_f(b_scale)},
                       {"bz", scalar_u8(130)},
                       {"ys", scalar_f(y_scale)},
                       {"yz", scalar_u8(128)}},
                      {});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  ASSERT_EQ((*out)[0].dtype(), DataType::kUint8);
  std::vector<double> av = as_doubles(a), bv = as_doubles(b);
  for (double& v : av) v -= 120;
  for (double& v : bv) v -= 130;
  Dims out_dims;
  std::vector<double> expected = naive_matmul({2, 3, 4}, av, {4, 5}, bv, &out_dims);
  for (double& v : expected) v = requantize_uint8(v, a_scale * b_scale, y_scale, 128);
  expect_close((*out)[0], out_dims, expected, 0, 0, "QLinearMatMul");
}

TEST(NnInteger, QLinearConvPerChannelWeightScale) {
  ConvCase c{{1, 2, 6, 6}, {3, 2, 3, 3}, 1, {1, 1}, {}, {1, 1, 1, 1}, false};
  Tensor x = random_tensor(DataType::kUint8, c.x, 430, 0, 255);
  Tensor w = random_tensor(DataType::kUint8, c.w, 431, 0, 255);
  Tensor bias = random_tensor(DataType::kInt32, {3}, 432, -500, 500);
  Tensor w_scale = Tensor::from_vector<float>(DataType::kFloat32, {3}, {0.001f, 0.002f, 0.0005f});
  Tensor w_zero = Tensor::from_vector<uint8_t>(DataType::kUint8, {3}, {120, 128, 140});
  auto scalar_u8 = [](uint8_t v) { return Tensor::from_vector<uint8_t>(DataType::kUint8, {}, {v}); };
  auto scalar_f = [](float v) { return Tensor::from_vector<float>(DataType::kFloat32, {}, {v}); };
  auto out = run_node("QLinearConv",
                      {{"x", x},
                       {"xs", scalar_f(0.01f)},
                       {"xz", scalar_u8(100)},
                       {"w", w, true},
                       {"ws", w_scale, true},
                       {"wz", w_zero, true},
                       {"ys", scalar_f(0.02f)},
                       {"yz", scalar_u8(110)},
                       {"b", bias, true}},
                      conv_attributes(c));
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  std::vector<double> xv = as_doubles(x), wv = as_doubles(w), bv = as_doubles(bias);
  for (double& v : xv) v -= 100;
  for (size_t i = 0; i < wv.size(); ++i) wv[i] -= w_zero.data<uint8_t>()[i / 18];
  Dims out_dims = forward_output_dims(c);
  std::vector<double> expected = naive_conv(c, out_dims, xv, wv, &bv, pads_begin_of(c));
  for (size_t i = 0; i < expected.size(); ++i) {
    int64_t channel = (i / 36) % 3;
    expected[i] = requantize_uint8(expected[i], 0.01 * w_scale.data<float>()[channel], 0.02, 110);
  }
  expect_close((*out)[0], out_dims, expected, 1, 0, "QLinearConv");  // one step for float rounding
}

}  // namespace
}  // namespace kiln::nn_test
