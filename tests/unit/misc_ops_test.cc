// Tests of the miscellaneous ops (Resize, recurrent, quantization, detection,
// signal, text) through Builder::build + Context::execute on the CPU backend,
// against reference values computed here independently of the kernels.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <numbers>
#include <optional>
#include <random>

#include "kiln/builder.h"

namespace kiln {
namespace {

struct Input {
  std::string name;
  std::optional<Tensor> tensor;  // nullopt: an omitted optional input
  bool constant = false;         // a weight instead of a graph input
};

// Builds a graph holding one node, runs it, returns its outputs.
Expected<std::vector<Tensor>> run_node(const std::string& op, int opset, const std::vector<Input>& inputs,
                                       const std::map<std::string, Attribute>& attributes, size_t outputs = 1) {
  auto graph = std::make_unique<Graph>();
  graph->opsets[""] = opset;
  auto node = std::make_unique<Node>();
  node->name = "under_test";
  node->op_type = op;
  node->opset = opset;
  node->attributes = attributes;
  TensorMap feeds;
  for (const Input& in : inputs) {
    if (!in.tensor) {
      node->inputs.push_back(nullptr);
      continue;
    }
    Value* v = graph->value(in.name);
    v->dtype = in.tensor->dtype();
    v->shape = Shape::from_dims(in.tensor->dims());
    if (in.constant) {
      v->constant = *in.tensor;
    } else {
      graph->inputs().push_back(v);
      feeds[in.name] = *in.tensor;
    }
    node->inputs.push_back(v);
  }
  for (size_t i = 0; i < outputs; ++i) {
    Value* v = graph->value("out" + std::to_string(i));
    node->outputs.push_back(v);
    graph->outputs().push_back(v);
  }
  graph->add_node(std::move(node));
  KILN_ASSIGN_OR_RETURN(auto engine, Builder::build(std::move(graph)));
  KILN_ASSIGN_OR_RETURN(auto context, engine->create_context());
  return context->execute(feeds);
}

std::vector<float> random_floats(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

Tensor floats(Dims dims, const std::vector<float>& v) { return Tensor::from_vector(DataType::kFloat32, dims, v); }
Tensor int64s(Dims dims, const std::vector<int64_t>& v) { return Tensor::from_vector(DataType::kInt64, dims, v); }

void expect_near_all(const Tensor& actual, const std::vector<double>& expected, double tolerance) {
  ASSERT_EQ(actual.element_count(), static_cast<int64_t>(expected.size()));
  std::vector<double> a = actual.to_double_vector();
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_NEAR(a[i], expected[i], tolerance) << "element " << i;
  }
}

// ---- Resize ----------------------------------------------------------------

TEST(ResizeOp, BilinearHalfPixelMatchesDirectFormula) {
  const int64_t H = 3, W = 4, OH = 7, OW = 9;
  std::vector<float> x = random_floats(H * W, 1);
  auto out = run_node("Resize", 13,
                      {{"x", floats({1, 1, H, W}, x)},
                       {"roi", std::nullopt},
                       {"scales", std::nullopt},
                       {"sizes", int64s({4}, {1, 1, OH, OW}), true}},
                      {{"mode", Attribute::of_string("linear")}});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  ASSERT_EQ((*out)[0].dims(), (Dims{1, 1, OH, OW}));
  // Bilinear sampling with the half-pixel rule, clamped to the image.
  auto coordinate = [](int64_t o, int64_t in, int64_t out_size) {
    double scale = static_cast<double>(out_size) / static_cast<double>(in);
    double c = (static_cast<double>(o) + 0.5) / scale - 0.5;
    return std::clamp(c, 0.0, static_cast<double>(in - 1));
  };
  std::vector<double> expected;
  for (int64_t oy = 0; oy < OH; ++oy) {
    for (int64_t ox = 0; ox < OW; ++ox) {
      double cy = coordinate(oy, H, OH), cx = coordinate(ox, W, OW);
      int64_t y0 = static_cast<int64_t>(std::floor(cy)), x0 = static_cast<int64_t>(std::floor(cx));
      int64_t y1 = std::min(y0 + 1, H - 1), x1 = std::min(x0 + 1, W - 1);
      double fy = cy - y0, fx = cx - x0;
      expected.push_back((1 - fy) * ((1 - fx) * x[y0 * W + x0] + fx * x[y0 * W + x1]) +
                         fy * ((1 - fx) * x[y1 * W + x0] + fx * x[y1 * W + x1]));
    }
  }
  expect_near_all((*out)[0], expected, 1e-5);
}

TEST(ResizeOp, NearestAsymmetricFloorDownsample) {
  std::vector<float> x(16);
  for (int i = 0; i < 16; ++i) x[i] = static_cast<float>(i);
  auto out =
      run_node("Resize", 19,
               {{"x", floats({1, 1, 4, 4}, x)}, {"roi", std::nullopt}, {"scales", floats({2}, {0.5f, 0.5f}), true}},
               {{"mode", Attribute::of_string("nearest")},
                {"coordinate_transformation_mode", Attribute::of_string("asymmetric")},
                {"nearest_mode", Attribute::of_string("floor")},
                {"axes", Attribute::of_ints({2, 3})}});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  ASSERT_EQ((*out)[0].dims(), (Dims{1, 1, 2, 2}));
  expect_near_all((*out)[0], {0, 2, 8, 10}, 0);
}

TEST(ResizeOp, WrongNumberOfScalesIsAnError) {
  auto out = run_node(
      "Resize", 13,
      {{"x", floats({1, 1, 2, 2}, {1, 2, 3, 4})}, {"roi", std::nullopt}, {"scales", floats({2}, {2.0f, 2.0f}), true}},
      {{"mode", Attribute::of_string("nearest")}});
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("scales"), std::string::npos) << out.status().message();
}

TEST(ResizeOp, InfersResizedExtentsWithADynamicBatch) {
  auto graph = std::make_unique<Graph>();
  graph->opsets[""] = 13;
  Value* x = graph->value("x");
  x->dtype = DataType::kFloat32;
  x->shape = Shape({Dim::symbolic("batch"), Dim::known(3), Dim::known(4), Dim::known(5)});
  graph->inputs().push_back(x);
  Value* scales = graph->value("scales");
  scales->dtype = DataType::kFloat32;
  scales->shape = Shape::from_dims({4});
  scales->constant = floats({4}, {1.0f, 1.0f, 2.0f, 1.5f});
  Value* y = graph->value("y");
  graph->outputs().push_back(y);
  auto node = std::make_unique<Node>();
  node->name = "resize";
  node->op_type = "Resize";
  node->opset = 13;
  node->inputs = {x, nullptr, scales};
  node->outputs = {y};
  graph->add_node(std::move(node));
  auto engine = Builder::build(std::move(graph));
  ASSERT_TRUE(engine.ok()) << engine.status().to_string();
  Dims declared = (*engine)->outputs()[0].shape.known_dims();
  EXPECT_EQ(declared, (Dims{-1, 3, 8, 7}));
  auto context = (*engine)->create_context();
  ASSERT_TRUE(context.ok());
  auto out = (*context)->execute({{"x", floats({2, 3, 4, 5}, random_floats(120, 13))}});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ((*out)[0].dims(), (Dims{2, 3, 8, 7}));
}

// ---- Recurrent ----------------------------------------------------------------

double sigmoid(double v) { return 1 / (1 + std::exp(-v)); }

TEST(RecurrentOps, GruLinearBeforeResetMatchesStepByStepReference) {
  const int64_t T = 3, B = 2, I = 3, H = 2;
  std::vector<float> x = random_floats(T * B * I, 2), w = random_floats(3 * H * I, 3), r = random_floats(3 * H * H, 4);
  std::vector<float> b = random_floats(6 * H, 5), h0 = random_floats(B * H, 6);
  auto out = run_node("GRU", 14,
                      {{"x", floats({T, B, I}, x)},
                       {"w", floats({1, 3 * H, I}, w), true},
                       {"r", floats({1, 3 * H, H}, r), true},
                       {"b", floats({1, 6 * H}, b), true},
                       {"seq", std::nullopt},
                       {"h0", floats({1, B, H}, h0)}},
                      {{"hidden_size", Attribute::of_int(H)}, {"linear_before_reset", Attribute::of_int(1)}}, 2);
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  std::vector<double> y, yh;
  std::vector<double> state(h0.begin(), h0.end());
  std::vector<std::vector<double>> per_step;
  for (int64_t t = 0; t < T; ++t) {
    std::vector<double> next(B * H);
    for (int64_t bi = 0; bi < B; ++bi) {
      for (int64_t k = 0; k < H; ++k) {
        auto xw = [&](int64_t gate) {
          double s = b[gate * H + k];
          for (int64_t i = 0; i < I; ++i) s += w[(gate * H + k) * I + i] * x[(t * B + bi) * I + i];
          return s;
        };
        auto hr = [&](int64_t gate) {
          double s = b[3 * H + gate * H + k];
          for (int64_t j = 0; j < H; ++j) s += r[(gate * H + k) * H + j] * state[bi * H + j];
          return s;
        };
        double z = sigmoid(xw(0) + hr(0));
        double rg = sigmoid(xw(1) + hr(1));
        double candidate = std::tanh(xw(2) + rg * hr(2));
        next[bi * H + k] = (1 - z) * candidate + z * state[bi * H + k];
      }
    }
    state = next;
    y.insert(y.end(), state.begin(), state.end());
  }
  expect_near_all((*out)[0], y, 1e-5);
  expect_near_all((*out)[1], state, 1e-5);
}

TEST(RecurrentOps, RnnReverseWithSequenceLengths) {
  const int64_t T = 3, B = 2, I = 2, H = 2;
  std::vector<float> x = random_floats(T * B * I, 7), w = random_floats(H * I, 8), r = random_floats(H * H, 9);
  auto out = run_node("RNN", 14,
                      {{"x", floats({T, B, I}, x)},
                       {"w", floats({1, H, I}, w), true},
                       {"r", floats({1, H, H}, r), true},
                       {"b", std::nullopt},
                       {"seq", Tensor::from_vector(DataType::kInt32, {B}, std::vector<int32_t>{3, 1})}},
                      {{"hidden_size", Attribute::of_int(H)}, {"direction", Attribute::of_string("reverse")}}, 2);
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  std::vector<double> y(T * B * H, 0.0), yh(B * H, 0.0);
  const int64_t lens[2] = {3, 1};
  for (int64_t bi = 0; bi < B; ++bi) {
    std::vector<double> h(H, 0.0);
    for (int64_t t = lens[bi] - 1; t >= 0; --t) {
      std::vector<double> next(H);
      for (int64_t k = 0; k < H; ++k) {
        double s = 0;
        for (int64_t i = 0; i < I; ++i) s += w[k * I + i] * x[(t * B + bi) * I + i];
        for (int64_t j = 0; j < H; ++j) s += r[k * H + j] * h[j];
        next[k] = std::tanh(s);
      }
      h = next;
      for (int64_t k = 0; k < H; ++k) y[(t * B + bi) * H + k] = h[k];
    }
    for (int64_t k = 0; k < H; ++k) yh[bi * H + k] = h[k];
  }
  expect_near_all((*out)[0], y, 1e-5);
  expect_near_all((*out)[1], yh, 1e-5);
}

// ---- Quantization -------------------------------------------------------------

TEST(QuantizationOps, PerAxisQuantizeRoundsHalfToEvenAndSaturates) {
  auto out = run_node("QuantizeLinear", 13,
                      {{"x", floats({2, 3}, {0.5f, 1.5f, 2.5f, -300.0f, 10.0f, 1000.0f})},
                       {"scale", floats({3}, {1.0f, 1.0f, 0.5f}), true},
                       {"zero", Tensor::from_vector(DataType::kInt8, {3}, std::vector<int8_t>{0, 1, -2}), true}},
                      {{"axis", Attribute::of_int(1)}});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  ASSERT_EQ((*out)[0].dtype(), DataType::kInt8);
  // 0.5 -> 0, 1.5 -> 2 + 1, 2.5 / 0.5 = 5 - 2; -300 saturates; 10 + 1; 2000 - 2 saturates.
  expect_near_all((*out)[0], {0, 3, 3, -128, 11, 127}, 0);
}

TEST(QuantizationOps, DequantizeInvertsQuantizeWithinHalfAStep) {
  std::vector<float> x = random_floats(12, 11, -2.0f, 2.0f);
  auto q = run_node("DynamicQuantizeLinear", 11, {{"x", floats({3, 4}, x)}}, {}, 3);
  ASSERT_TRUE(q.ok()) << q.status().to_string();
  const float scale = (*q)[1].data<float>()[0];
  auto dq = run_node("DequantizeLinear", 13, {{"q", (*q)[0]}, {"scale", (*q)[1], true}, {"zero", (*q)[2], true}}, {});
  ASSERT_TRUE(dq.ok()) << dq.status().to_string();
  std::vector<double> expected(x.begin(), x.end());
  expect_near_all((*dq)[0], expected, scale / 2 + 1e-6);
}

// ---- Detection ------------------------------------------------------------------

TEST(DetectionOps, NonMaxSuppressionKeepsBestOfOverlappingBoxes) {
  // Boxes 0 and 1 overlap heavily (IOU 0.81); box 2 is apart.
  auto out = run_node("NonMaxSuppression", 11,
                      {{"boxes", floats({1, 3, 4}, {0, 0, 1, 1, 0, 0.1f, 1, 1.1f, 5, 5, 6, 6})},
                       {"scores", floats({1, 1, 3}, {0.8f, 0.9f, 0.7f})},
                       {"max", int64s({1}, {10}), true},
                       {"iou", floats({1}, {0.5f}), true}},
                      {});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  ASSERT_EQ((*out)[0].dims(), (Dims{2, 3}));
  expect_near_all((*out)[0], {0, 0, 1, 0, 0, 2}, 0);
}

TEST(DetectionOps, GridSampleIdentityGridReproducesInput) {
  const int64_t H = 3, W = 5;
  std::vector<float> x = random_floats(2 * H * W, 12);
  std::vector<float> grid;
  for (int64_t y = 0; y < H; ++y) {
    for (int64_t xx = 0; xx < W; ++xx) {
      grid.push_back(static_cast<float>(2.0 * xx / (W - 1) - 1));
      grid.push_back(static_cast<float>(2.0 * y / (H - 1) - 1));
    }
  }
  auto out = run_node("GridSample", 16, {{"x", floats({1, 2, H, W}, x)}, {"grid", floats({1, H, W, 2}, grid)}},
                      {{"align_corners", Attribute::of_int(1)}, {"mode", Attribute::of_string("bicubic")}});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  expect_near_all((*out)[0], std::vector<double>(x.begin(), x.end()), 1e-5);
}

// ---- Signal -------------------------------------------------------------------

TEST(SignalOps, DftOfACosineHasTwoPeaks) {
  const int64_t N = 16, k0 = 3;
  std::vector<float> x(N);
  for (int64_t n = 0; n < N; ++n) x[n] = static_cast<float>(std::cos(2 * std::numbers::pi * k0 * n / N));
  auto out = run_node("DFT", 17, {{"x", floats({1, N, 1}, x)}}, {{"axis", Attribute::of_int(1)}});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  std::vector<double> expected(2 * N, 0.0);
  expected[2 * k0] = N / 2.0;
  expected[2 * (N - k0)] = N / 2.0;
  expect_near_all((*out)[0], expected, 1e-4);
}

TEST(SignalOps, SymmetricHannWindowEndsAtZeroAndPeaksAtOne) {
  auto out = run_node("HannWindow", 17, {{"size", int64s({}, {5}), true}}, {{"periodic", Attribute::of_int(0)}});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  expect_near_all((*out)[0], {0.0, 0.5, 1.0, 0.5, 0.0}, 1e-6);
}

// ---- Text ---------------------------------------------------------------------

TEST(TextOps, StringNormalizerDropsStopwordsIgnoringCase) {
  auto out =
      run_node("StringNormalizer", 10, {{"x", Tensor::strings({3}, {"The", "cat", "THE"})}},
               {{"stopwords", Attribute::of_strings({"the"})}, {"case_change_action", Attribute::of_string("UPPER")}});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  ASSERT_EQ((*out)[0].dims(), (Dims{1}));
  EXPECT_EQ((*out)[0].string_data()[0], "CAT");
}

TEST(TextOps, TfIdfCountsUnigramsAndSkipBigrams) {
  // Pool: unigrams {1, 2}, bigram {1, 3}; input 1 2 3 1 with skip 1 finds (1,3) once.
  auto out = run_node("TfIdfVectorizer", 9,
                      {{"x", Tensor::from_vector(DataType::kInt32, {4}, std::vector<int32_t>{1, 2, 3, 1})}},
                      {{"min_gram_length", Attribute::of_int(1)},
                       {"max_gram_length", Attribute::of_int(2)},
                       {"max_skip_count", Attribute::of_int(1)},
                       {"mode", Attribute::of_string("TF")},
                       {"ngram_counts", Attribute::of_ints({0, 2})},
                       {"ngram_indexes", Attribute::of_ints({0, 1, 2})},
                       {"pool_int64s", Attribute::of_ints({1, 2, 1, 3})}});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  expect_near_all((*out)[0], {2, 1, 1}, 0);
}

}  // namespace
}  // namespace kiln
