// Elementwise ops: the broadcasting helper against a naive index computation,
// and single-node graphs run through Builder + Context against references
// computed here independently.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "backends/cpu/kernels/elementwise_broadcast.h"
#include "kiln/builder.h"
#include "kiln/graph.h"

namespace kiln {
namespace {

// ---------------------------------------------------------------- helpers

// Builds a graph of one node reading every tensor as a graph input (or, when
// `constant` is set for it, as a weight) and runs it once.
struct NodeRun {
  std::string op_type;
  int opset = 17;
  std::vector<Tensor> inputs;
  std::vector<bool> constant;  // per input; missing entries mean "graph input"
  std::map<std::string, Attribute> attributes;
  std::vector<bool> omitted;   // per input: pass nullptr instead (optional inputs)
};

Expected<Tensor> run(const NodeRun& spec) {
  auto graph = std::make_unique<Graph>();
  graph->opsets[""] = spec.opset;
  auto node = std::make_unique<Node>();
  node->name = "n0";
  node->op_type = spec.op_type;
  node->opset = spec.opset;
  node->attributes = spec.attributes;
  TensorMap feeds;
  for (size_t i = 0; i < spec.inputs.size(); ++i) {
    if (i < spec.omitted.size() && spec.omitted[i]) {
      node->inputs.push_back(nullptr);
      continue;
    }
    const Tensor& t = spec.inputs[i];
    Value* v = graph->value("in" + std::to_string(i));
    v->dtype = t.dtype();
    v->shape = Shape::from_dims(t.dims());
    if (i < spec.constant.size() && spec.constant[i]) {
      v->constant = t;
    } else {
      graph->inputs().push_back(v);
      feeds[v->name] = t;
    }
    node->inputs.push_back(v);
  }
  Value* out = graph->value("out");
  node->outputs.push_back(out);
  graph->add_node(std::move(node));
  graph->outputs().push_back(out);
  KILN_ASSIGN_OR_RETURN(auto engine, Builder::build(std::move(graph)));
  KILN_ASSIGN_OR_RETURN(auto context, engine->create_context());
  KILN_ASSIGN_OR_RETURN(auto outputs, context->execute(feeds));
  return outputs.at(0);
}

std::vector<float> random_floats(size_t n, float lo, float hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

template <typename T>
std::vector<T> random_ints(size_t n, int64_t lo, int64_t hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int64_t> dist(lo, hi);
  std::vector<T> v(n);
  for (T& x : v) x = static_cast<T>(dist(rng));
  return v;
}

// Row-major flat index of `index` (in the output's rank) inside `dims`, with
// size-1 axes broadcast: the definition of numpy broadcasting, written plainly.
int64_t broadcast_source_index(const Dims& out_index, const Dims& dims) {
  const size_t offset = out_index.size() - dims.size();
  int64_t flat = 0;
  for (size_t a = 0; a < dims.size(); ++a) {
    const int64_t i = dims[a] == 1 ? 0 : out_index[offset + a];
    flat = flat * dims[a] + i;
  }
  return flat;
}

Dims unflatten(int64_t flat, const Dims& dims) {
  Dims index(dims.size());
  for (size_t a = dims.size(); a-- > 0;) {
    index[a] = flat % dims[a];
    flat /= dims[a];
  }
  return index;
}

// ---------------------------------------------------------------- broadcasting helper

TEST(BroadcastPlan, MatchesNaiveIndexingForManyShapePairs) {
  const std::vector<std::pair<Dims, Dims>> cases = {
      {{2, 3, 4}, {2, 3, 4}},   {{2, 3, 4}, {4}},         {{2, 3, 4}, {3, 1}},       {{2, 1, 4}, {1, 3, 1}},
      {{5}, {}},                {{}, {5}},                {{1}, {1}},                {{3, 1, 5, 1}, {1, 4, 1, 6}},
      {{2, 3, 4, 5}, {1, 3, 1, 5}}, {{7, 1}, {1, 9}},     {{1, 1, 8}, {6, 1, 8}},    {{0, 3}, {1, 3}},
      {{64, 1024}, {64, 1}},    {{3, 40000}, {40000}},    {{100000}, {100000}},      {{2, 70000}, {2, 1}}};
  for (const auto& [a_dims, b_dims] : cases) {
    auto plan = cpu::make_broadcast_plan({a_dims, b_dims});
    ASSERT_TRUE(plan.ok()) << plan.status().to_string();
    const int64_t na = element_count(a_dims), nb = element_count(b_dims);
    std::vector<int64_t> a(na), b(nb);
    for (int64_t i = 0; i < na; ++i) a[i] = i;
    for (int64_t i = 0; i < nb; ++i) b[i] = 1000000 * i;
    std::vector<int64_t> out(plan->total, -1);
    cpu::broadcast_binary(*plan, a.data(), b.data(), out.data(), [](int64_t x, int64_t y) { return x + y; });
    for (int64_t o = 0; o < plan->total; ++o) {
      const Dims index = unflatten(o, plan->output_dims);
      const int64_t expected = broadcast_source_index(index, a_dims) + 1000000 * broadcast_source_index(index, b_dims);
      ASSERT_EQ(out[o], expected) << dims_to_string(a_dims) << " with " << dims_to_string(b_dims) << " at " << o;
    }
  }
}

TEST(BroadcastPlan, ThreeInputsAndMismatch) {
  auto plan = cpu::make_broadcast_plan({{4, 1, 3}, {5, 1}, {1}});
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->output_dims, (Dims{4, 5, 3}));
  auto bad = cpu::make_broadcast_plan({{2, 3}, {4}});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("2x3"), std::string::npos) << bad.status().message();
}

// ---------------------------------------------------------------- binary arithmetic

TEST(ElementwiseOps, AddBroadcastsFloat) {
  const Dims a_dims{2, 3, 4}, b_dims{3, 1};
  auto a = random_floats(24, -5, 5, 1), b = random_floats(3, -5, 5, 2);
  auto out = run({"Add", 17, {Tensor::from_vector(DataType::kFloat32, a_dims, a),
                              Tensor::from_vector(DataType::kFloat32, b_dims, b)}});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  ASSERT_EQ(out->dims(), a_dims);
  for (int64_t i = 0; i < 24; ++i) {
    const Dims idx = unflatten(i, a_dims);
    EXPECT_FLOAT_EQ(out->data<float>()[i], a[i] + b[idx[1]]);
  }
}

TEST(ElementwiseOps, LargeSubMatchesReferenceAcrossThreads) {
  const Dims a_dims{3, 50000}, b_dims{50000};
  auto a = random_floats(150000, -1, 1, 3), b = random_floats(50000, -1, 1, 4);
  auto out = run({"Sub", 17, {Tensor::from_vector(DataType::kFloat32, a_dims, a),
                              Tensor::from_vector(DataType::kFloat32, b_dims, b)}});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  for (int64_t i = 0; i < 150000; ++i) ASSERT_FLOAT_EQ(out->data<float>()[i], a[i] - b[i % 50000]) << i;
}

TEST(ElementwiseOps, IntegerDivisionTruncatesAndModFollowsPython) {
  const std::vector<int32_t> x = {7, -7, 7, -7, 9, 0};
  const std::vector<int32_t> y = {2, 2, -2, -2, 3, 5};
  auto tx = Tensor::from_vector(DataType::kInt32, {6}, x), ty = Tensor::from_vector(DataType::kInt32, {6}, y);
  auto div = run({"Div", 14, {tx, ty}});
  ASSERT_TRUE(div.ok()) << div.status().to_string();
  EXPECT_EQ(std::vector<int32_t>(div->data<int32_t>(), div->data<int32_t>() + 6),
            (std::vector<int32_t>{3, -3, -3, 3, 3, 0}));
  auto mod = run({"Mod", 13, {tx, ty}});
  ASSERT_TRUE(mod.ok()) << mod.status().to_string();
  EXPECT_EQ(std::vector<int32_t>(mod->data<int32_t>(), mod->data<int32_t>() + 6),
            (std::vector<int32_t>{1, 1, -1, -1, 0, 0}));
  auto fmod = run({"Mod", 13, {tx, ty}, {}, {{"fmod", Attribute::of_int(1)}}});
  ASSERT_TRUE(fmod.ok()) << fmod.status().to_string();
  EXPECT_EQ(std::vector<int32_t>(fmod->data<int32_t>(), fmod->data<int32_t>() + 6),
            (std::vector<int32_t>{1, -1, 1, -1, 0, 0}));
}

TEST(ElementwiseOps, PowMixesBaseAndExponentTypes) {
  auto base = Tensor::from_vector(DataType::kInt64, {4}, std::vector<int64_t>{2, -3, 5, 10});
  auto exponent = Tensor::from_vector(DataType::kFloat32, {4}, std::vector<float>{3.f, 2.f, 0.5f, 0.f});
  auto out = run({"Pow", 15, {base, exponent}});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  ASSERT_EQ(out->dtype(), DataType::kInt64);
  EXPECT_EQ(std::vector<int64_t>(out->data<int64_t>(), out->data<int64_t>() + 4),
            (std::vector<int64_t>{8, 9, static_cast<int64_t>(std::sqrt(5.0)), 1}));
  auto fbase = random_floats(6, 0.1f, 3.f, 5);
  auto iexp = Tensor::from_vector(DataType::kInt32, {1}, std::vector<int32_t>{3});
  auto fout = run({"Pow", 15, {Tensor::from_vector(DataType::kFloat32, {2, 3}, fbase), iexp}});
  ASSERT_TRUE(fout.ok()) << fout.status().to_string();
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(fout->data<float>()[i], fbase[i] * fbase[i] * fbase[i], 1e-5);
}

TEST(ElementwiseOps, LegacyBroadcastAlignsAtAxis) {
  // Opset 6: B of shape {3} added to A {2,3,4} at axis 1, i.e. like {3,1}.
  auto a = random_floats(24, -1, 1, 6), b = random_floats(3, -1, 1, 7);
  auto out = run({"Add", 6,
                  {Tensor::from_vector(DataType::kFloat32, {2, 3, 4}, a), Tensor::from_vector(DataType::kFloat32, {3}, b)},
                  {},
                  {{"broadcast", Attribute::of_int(1)}, {"axis", Attribute::of_int(1)}}});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  for (int64_t i = 0; i < 24; ++i) EXPECT_FLOAT_EQ(out->data<float>()[i], a[i] + b[(i / 4) % 3]);
}

TEST(ElementwiseOps, BitShiftAndBitwise) {
  auto x = Tensor::from_vector(DataType::kUint8, {4}, std::vector<uint8_t>{1, 16, 255, 3});
  auto s = Tensor::from_vector(DataType::kUint8, {4}, std::vector<uint8_t>{1, 2, 9, 0});
  auto left = run({"BitShift", 11, {x, s}, {}, {{"direction", Attribute::of_string("LEFT")}}});
  ASSERT_TRUE(left.ok()) << left.status().to_string();
  EXPECT_EQ(std::vector<uint8_t>(left->data<uint8_t>(), left->data<uint8_t>() + 4),
            (std::vector<uint8_t>{2, 64, 0, 3}));
  auto bad = run({"BitShift", 11, {x, s}, {}, {{"direction", Attribute::of_string("UP")}}});
  EXPECT_FALSE(bad.ok());
  auto a = random_ints<int32_t>(10, -1000, 1000, 8), b = random_ints<int32_t>(10, -1000, 1000, 9);
  auto xor_out = run({"BitwiseXor", 18, {Tensor::from_vector(DataType::kInt32, {10}, a),
                                         Tensor::from_vector(DataType::kInt32, {10}, b)}});
  ASSERT_TRUE(xor_out.ok()) << xor_out.status().to_string();
  for (int i = 0; i < 10; ++i) EXPECT_EQ(xor_out->data<int32_t>()[i], a[i] ^ b[i]);
}

// ---------------------------------------------------------------- comparisons, variadic

TEST(ElementwiseOps, ComparisonsProduceBool) {
  auto a = random_ints<int16_t>(12, -3, 3, 10), b = random_ints<int16_t>(4, -3, 3, 11);
  auto out = run({"GreaterOrEqual", 16, {Tensor::from_vector(DataType::kInt16, {3, 4}, a),
                                         Tensor::from_vector(DataType::kInt16, {4}, b)}});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  ASSERT_EQ(out->dtype(), DataType::kBool);
  for (int i = 0; i < 12; ++i) EXPECT_EQ(out->data<bool>()[i], a[i] >= b[i % 4]) << i;
  auto eq = run({"Equal", 19, {Tensor::strings({3}, {"a", "b", "c"}), Tensor::strings({1}, {"b"})}});
  ASSERT_TRUE(eq.ok()) << eq.status().to_string();
  EXPECT_FALSE(eq->data<bool>()[0]);
  EXPECT_TRUE(eq->data<bool>()[1]);
  EXPECT_FALSE(eq->data<bool>()[2]);
}

TEST(ElementwiseOps, MeanAndMaxOverThreeBroadcastInputs) {
  auto a = random_floats(6, -2, 2, 12), b = random_floats(3, -2, 2, 13), c = random_floats(1, -2, 2, 14);
  std::vector<Tensor> inputs = {Tensor::from_vector(DataType::kFloat32, {2, 3}, a),
                                Tensor::from_vector(DataType::kFloat32, {3}, b),
                                Tensor::from_vector(DataType::kFloat32, {1, 1}, c)};
  auto mean = run({"Mean", 13, inputs});
  auto max = run({"Max", 13, inputs});
  ASSERT_TRUE(mean.ok()) << mean.status().to_string();
  ASSERT_TRUE(max.ok()) << max.status().to_string();
  ASSERT_EQ(mean->dims(), (Dims{2, 3}));
  for (int i = 0; i < 6; ++i) {
    EXPECT_NEAR(mean->data<float>()[i], (a[i] + b[i % 3] + c[0]) / 3, 1e-6);
    EXPECT_FLOAT_EQ(max->data<float>()[i], std::max({a[i], b[i % 3], c[0]}));
  }
  auto with_nan = run({"Min", 13, {Tensor::from_vector(DataType::kFloat32, {2}, std::vector<float>{NAN, 1.f}),
                                   Tensor::from_vector(DataType::kFloat32, {2}, std::vector<float>{0.f, 2.f})}});
  ASSERT_TRUE(with_nan.ok());
  EXPECT_TRUE(std::isnan(with_nan->data<float>()[0]));
  EXPECT_EQ(with_nan->data<float>()[1], 1.f);
}

// ---------------------------------------------------------------- unary and activations

TEST(ElementwiseOps, RoundHalvesToEvenAndFloat16UsesFloatMath) {
  auto out = run({"Round", 11, {Tensor::from_vector(DataType::kFloat32, {6},
                                                     std::vector<float>{0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 2.6f})}});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ(std::vector<float>(out->data<float>(), out->data<float>() + 6),
            (std::vector<float>{0.f, 2.f, 2.f, -0.f, -2.f, 3.f}));
  auto values = random_floats(16, -3, 3, 15);
  std::vector<Float16> halves;
  for (float v : values) halves.push_back(Float16(v));
  auto exp_half = run({"Exp", 13, {Tensor::from_vector(DataType::kFloat16, {16}, halves)}});
  ASSERT_TRUE(exp_half.ok()) << exp_half.status().to_string();
  for (int i = 0; i < 16; ++i) {
    const float expected = std::exp(static_cast<float>(halves[i]));
    EXPECT_NEAR(static_cast<float>(exp_half->data<Float16>()[i]), expected, 1e-3 * expected + 1e-3);
  }
}

TEST(ElementwiseOps, ActivationsMatchTheirFormulas) {
  auto x = random_floats(64, -4, 4, 16);
  const Tensor input = Tensor::from_vector(DataType::kFloat32, {8, 8}, x);
  struct Case {
    std::string op;
    std::map<std::string, Attribute> attributes;
    std::function<double(double)> reference;
  };
  const std::vector<Case> cases = {
      {"Relu", {}, [](double v) { return v > 0 ? v : 0; }},
      {"LeakyRelu", {{"alpha", Attribute::of_float(0.2)}}, [](double v) { return v < 0 ? 0.2 * v : v; }},
      {"Elu", {{"alpha", Attribute::of_float(2.0)}}, [](double v) { return v < 0 ? 2 * (std::exp(v) - 1) : v; }},
      {"Selu", {}, [](double v) {
         const double a = 1.6732632423543772, g = 1.0507009873554805;
         return v <= 0 ? g * a * (std::exp(v) - 1) : g * v;
       }},
      {"Celu", {{"alpha", Attribute::of_float(1.5)}},
       [](double v) { return std::max(0.0, v) + std::min(0.0, 1.5 * (std::exp(v / 1.5) - 1)); }},
      {"Sigmoid", {}, [](double v) { return 1 / (1 + std::exp(-v)); }},
      {"HardSigmoid", {}, [](double v) { return std::clamp(0.2 * v + 0.5, 0.0, 1.0); }},
      {"HardSwish", {}, [](double v) { return v * std::clamp(v / 6 + 0.5, 0.0, 1.0); }},
      {"Softplus", {}, [](double v) { return std::log(1 + std::exp(v)); }},
      {"Softsign", {}, [](double v) { return v / (1 + std::fabs(v)); }},
      {"ThresholdedRelu", {{"alpha", Attribute::of_float(0.5)}}, [](double v) { return v > 0.5 ? v : 0; }},
      {"Shrink", {{"lambd", Attribute::of_float(1.0)}, {"bias", Attribute::of_float(0.5)}},
       [](double v) { return v < -1 ? v + 0.5 : (v > 1 ? v - 0.5 : 0); }},
      {"Gelu", {}, [](double v) { return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))); }},
      {"Gelu", {{"approximate", Attribute::of_string("tanh")}}, [](double v) {
         return 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
       }},
      {"Mish", {}, [](double v) { return v * std::tanh(std::log(1 + std::exp(v))); }},
  };
  for (const Case& c : cases) {
    auto out = run({c.op, 20, {input}, {}, c.attributes});
    ASSERT_TRUE(out.ok()) << c.op << ": " << out.status().to_string();
    for (int i = 0; i < 64; ++i) {
      const double expected = c.reference(x[i]);
      EXPECT_NEAR(out->data<float>()[i], expected, 1e-5 + 1e-5 * std::fabs(expected)) << c.op << " at x=" << x[i];
    }
  }
}

TEST(ElementwiseOps, PReluBroadcastsSlopeAndRejectsGrowingX) {
  auto x = random_floats(24, -2, 2, 17), slope = random_floats(3, 0, 1, 18);
  auto out = run({"PRelu", 16, {Tensor::from_vector(DataType::kFloat32, {2, 3, 4}, x),
                                Tensor::from_vector(DataType::kFloat32, {3, 1}, slope)}});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  for (int i = 0; i < 24; ++i) {
    const float s = slope[(i / 4) % 3];
    EXPECT_FLOAT_EQ(out->data<float>()[i], x[i] < 0 ? s * x[i] : x[i]);
  }
  auto bad = run({"PRelu", 16, {Tensor::from_vector(DataType::kFloat32, {3}, x),
                                Tensor::from_vector(DataType::kFloat32, {2, 3}, slope)}});
  EXPECT_FALSE(bad.ok());
}

TEST(ElementwiseOps, IsInfHonoursDirectionFlags) {
  auto x = Tensor::from_vector(DataType::kFloat32, {4}, std::vector<float>{INFINITY, -INFINITY, NAN, 1.f});
  auto positive = run({"IsInf", 10, {x}, {}, {{"detect_negative", Attribute::of_int(0)}}});
  ASSERT_TRUE(positive.ok()) << positive.status().to_string();
  EXPECT_EQ(std::vector<bool>(positive->data<bool>(), positive->data<bool>() + 4),
            (std::vector<bool>{true, false, false, false}));
  auto nan = run({"IsNaN", 13, {x}});
  ASSERT_TRUE(nan.ok());
  EXPECT_EQ(std::vector<bool>(nan->data<bool>(), nan->data<bool>() + 4), (std::vector<bool>{false, false, true, false}));
}

// ---------------------------------------------------------------- Where, Clip, Cast

TEST(ElementwiseOps, WhereBroadcastsThreeWays) {
  auto cond = random_ints<uint8_t>(4, 0, 1, 19);
  auto x = random_floats(3, -1, 1, 20), y = random_floats(1, -1, 1, 21);
  std::vector<bool> cond_bool(cond.begin(), cond.end());
  Tensor c = Tensor::empty(DataType::kBool, {4, 1});
  for (int i = 0; i < 4; ++i) c.data<bool>()[i] = cond_bool[i];
  auto out = run({"Where", 16, {c, Tensor::from_vector(DataType::kFloat32, {1, 3}, x),
                                Tensor::from_vector(DataType::kFloat32, {}, y)}});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  ASSERT_EQ(out->dims(), (Dims{4, 3}));
  for (int i = 0; i < 12; ++i) EXPECT_EQ(out->data<float>()[i], cond_bool[i / 3] ? x[i % 3] : y[0]);
}

TEST(ElementwiseOps, ClipFromAttributesAndFromInputs) {
  auto x = random_floats(20, -3, 3, 22);
  const Tensor input = Tensor::from_vector(DataType::kFloat32, {4, 5}, x);
  auto old = run({"Clip", 6, {input}, {}, {{"min", Attribute::of_float(-1)}, {"max", Attribute::of_float(0.5)}}});
  ASSERT_TRUE(old.ok()) << old.status().to_string();
  for (int i = 0; i < 20; ++i) EXPECT_EQ(old->data<float>()[i], std::clamp(x[i], -1.f, 0.5f));
  // Opset 13, int8, only a max bound (min omitted).
  auto ints = random_ints<int8_t>(20, -100, 100, 23);
  NodeRun spec{"Clip", 13,
               {Tensor::from_vector(DataType::kInt8, {20}, ints), Tensor::from_vector(DataType::kInt8, {}, std::vector<int8_t>{0}),
                Tensor::from_vector(DataType::kInt8, {}, std::vector<int8_t>{10})}};
  spec.omitted = {false, true, false};
  auto clipped = run(spec);
  ASSERT_TRUE(clipped.ok()) << clipped.status().to_string();
  for (int i = 0; i < 20; ++i) EXPECT_EQ(clipped->data<int8_t>()[i], std::min<int8_t>(ints[i], 10)) << i;
}

TEST(ElementwiseOps, CastRoundTripsAndStrings) {
  auto x = random_floats(10, -100, 100, 24);
  const Tensor input = Tensor::from_vector(DataType::kFloat32, {10}, x);
  auto half = run({"Cast", 19, {input}, {}, {{"to", Attribute::of_int(10)}, {"saturate", Attribute::of_int(1)}}});
  ASSERT_TRUE(half.ok()) << half.status().to_string();
  ASSERT_EQ(half->dtype(), DataType::kFloat16);
  for (int i = 0; i < 10; ++i) EXPECT_NEAR(static_cast<float>(half->data<Float16>()[i]), x[i], 0.06);
  auto ints = run({"Cast", 13, {input}, {}, {{"to", Attribute::of_int(6)}}});
  ASSERT_TRUE(ints.ok());
  for (int i = 0; i < 10; ++i) EXPECT_EQ(ints->data<int32_t>()[i], static_cast<int32_t>(x[i]));
  auto text = run({"Cast", 13, {input}, {}, {{"to", Attribute::of_int(8)}}});
  ASSERT_TRUE(text.ok()) << text.status().to_string();
  auto back = run({"Cast", 13, {*text}, {}, {{"to", Attribute::of_int(1)}}});
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  for (int i = 0; i < 10; ++i) EXPECT_EQ(back->data<float>()[i], x[i]) << text->string_data()[i];
  auto like = run({"CastLike", 15, {input, Tensor::from_vector(DataType::kFloat64, {1}, std::vector<double>{0})}});
  ASSERT_TRUE(like.ok()) << like.status().to_string();
  ASSERT_EQ(like->dtype(), DataType::kFloat64);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(like->data<double>()[i], static_cast<double>(x[i]));
}

TEST(ElementwiseOps, MismatchedShapesAreAnError) {
  auto out = run({"Mul", 14, {Tensor::zeros(DataType::kFloat32, {2, 3}), Tensor::zeros(DataType::kFloat32, {4})}});
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("do not broadcast"), std::string::npos) << out.status().message();
}

}  // namespace
}  // namespace kiln
