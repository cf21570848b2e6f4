// Reductions, softmax family, normalisations, losses, Einsum and Det: each
// test builds a one-node graph, runs it through Builder + Context on the CPU
// backend and compares with a reference computed here by plain loops.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <random>

#include "ir/op_registry.h"
#include "kiln/builder.h"

namespace kiln {
namespace {

constexpr double kTolerance = 1e-5;

std::vector<float> random_floats(size_t count, uint32_t seed, float lo = -2.f, float hi = 2.f) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> out(count);
  for (float& v : out) v = dist(gen);
  return out;
}

Tensor float_tensor(Dims dims, const std::vector<float>& values) {
  return Tensor::from_vector<float>(DataType::kFloat32, std::move(dims), values);
}

Tensor int64_tensor(Dims dims, const std::vector<int64_t>& values) {
  return Tensor::from_vector<int64_t>(DataType::kInt64, std::move(dims), values);
}

// A graph holding one node; inputs are graph inputs (fed at execution) or constants.
class OneNodeGraph {
 public:
  OneNodeGraph(const std::string& op, int opset) : graph_(std::make_unique<Graph>()) {
    graph_->opsets[""] = opset;
    auto node = std::make_unique<Node>();
    node->name = "node";
    node->op_type = op;
    node->opset = opset;
    node_ = graph_->add_node(std::move(node));
  }

  OneNodeGraph& input(const std::string& name, const Tensor& value) {
    Value* v = graph_->value(name);
    v->dtype = value.dtype();
    v->shape = Shape::from_dims(value.dims());
    graph_->inputs().push_back(v);
    node_->inputs.push_back(v);
    feeds_[name] = value;
    return *this;
  }
  OneNodeGraph& constant(const std::string& name, const Tensor& value) {
    Value* v = graph_->value(name);
    v->dtype = value.dtype();
    v->shape = Shape::from_dims(value.dims());
    v->constant = value;
    node_->inputs.push_back(v);
    return *this;
  }
  OneNodeGraph& omitted_input() {
    node_->inputs.push_back(nullptr);
    return *this;
  }
  OneNodeGraph& attr(const std::string& key, Attribute value) {
    node_->attributes[key] = std::move(value);
    return *this;
  }
  OneNodeGraph& outputs(int count) {
    for (int i = 0; i < count; ++i) {
      Value* v = graph_->value("out" + std::to_string(i));
      v->producer = node_;
      node_->outputs.push_back(v);
      graph_->outputs().push_back(v);
    }
    return *this;
  }

  Expected<std::vector<Tensor>> run() {
    if (node_->outputs.empty()) outputs(1);
    KILN_ASSIGN_OR_RETURN(auto engine, Builder::build(std::move(graph_)));
    KILN_ASSIGN_OR_RETURN(auto context, engine->create_context());
    return context->execute(feeds_);
  }

 private:
  std::unique_ptr<Graph> graph_;
  Node* node_ = nullptr;
  TensorMap feeds_;
};

std::vector<Tensor> run_ok(OneNodeGraph& g) {
  auto result = g.run();
  EXPECT_TRUE(result.ok()) << result.status().to_string();
  return result.ok() ? *result : std::vector<Tensor>{};
}

void expect_values(const Tensor& actual, const Dims& dims, const std::vector<double>& expected,
                   double tolerance = kTolerance) {
  ASSERT_EQ(actual.dims(), dims);
  ASSERT_EQ(actual.element_count(), static_cast<int64_t>(expected.size()));
  for (size_t i = 0; i < expected.size(); ++i) {
    const double a = actual.scalar_as_double(static_cast<int64_t>(i));
    if (std::isinf(expected[i])) {
      EXPECT_EQ(a, expected[i]) << "at " << i;
    } else {
      EXPECT_NEAR(a, expected[i], tolerance * (1 + std::fabs(expected[i]))) << "at " << i;
    }
  }
}

// ---- Reduce* ---------------------------------------------------------------

// Reference reduction of a 3-D tensor over the flagged axes (keepdims layout).
std::vector<double> reference_reduce_3d(const std::vector<float>& x, const Dims& d, std::array<bool, 3> reduced,
                                        double init, const std::function<double(double, double)>& step,
                                        const std::function<double(double, int64_t)>& finish) {
  const int64_t o0 = reduced[0] ? 1 : d[0], o1 = reduced[1] ? 1 : d[1], o2 = reduced[2] ? 1 : d[2];
  std::vector<double> acc(static_cast<size_t>(o0 * o1 * o2), init);
  const int64_t count = (reduced[0] ? d[0] : 1) * (reduced[1] ? d[1] : 1) * (reduced[2] ? d[2] : 1);
  for (int64_t i = 0; i < d[0]; ++i) {
    for (int64_t j = 0; j < d[1]; ++j) {
      for (int64_t k = 0; k < d[2]; ++k) {
        const int64_t oi = reduced[0] ? 0 : i, oj = reduced[1] ? 0 : j, ok = reduced[2] ? 0 : k;
        double& a = acc[static_cast<size_t>((oi * o1 + oj) * o2 + ok)];
        a = step(a, x[static_cast<size_t>((i * d[1] + j) * d[2] + k)]);
      }
    }
  }
  for (double& a : acc) a = finish(a, count);
  return acc;
}

struct ReduceCase {
  std::string op;
  double init;
  std::function<double(double, double)> step;
  std::function<double(double, int64_t)> finish;
};

std::vector<ReduceCase> reduce_cases() {
  auto same = [](double a, int64_t) { return a; };
  const double inf = std::numeric_limits<double>::infinity();
  return {
      {"ReduceSum", 0, [](double a, double v) { return a + v; }, same},
      {"ReduceMean", 0, [](double a, double v) { return a + v; }, [](double a, int64_t n) { return a / n; }},
      {"ReduceMax", -inf, [](double a, double v) { return std::max(a, v); }, same},
      {"ReduceMin", inf, [](double a, double v) { return std::min(a, v); }, same},
      {"ReduceProd", 1, [](double a, double v) { return a * v; }, same},
      {"ReduceL1", 0, [](double a, double v) { return a + std::fabs(v); }, same},
      {"ReduceL2", 0, [](double a, double v) { return a + v * v; }, [](double a, int64_t) { return std::sqrt(a); }},
      {"ReduceLogSum", 0, [](double a, double v) { return a + v; }, [](double a, int64_t) { return std::log(a); }},
      {"ReduceLogSumExp", 0, [](double a, double v) { return a + std::exp(v); },
       [](double a, int64_t) { return std::log(a); }},
      {"ReduceSumSquare", 0, [](double a, double v) { return a + v * v; }, same},
  };
}

TEST(ReduceOps, EveryKindWithAxesAttribute) {
  const Dims dims{3, 4, 5};
  // Positive inputs keep ReduceLogSum defined.
  const std::vector<float> x = random_floats(60, 1, 0.1f, 2.f);
  for (const ReduceCase& c : reduce_cases()) {
    for (bool keepdims : {true, false}) {
      SCOPED_TRACE(c.op + (keepdims ? " keepdims" : " no keepdims"));
      OneNodeGraph g(c.op, 11);
      g.input("x", float_tensor(dims, x))
          .attr("axes", Attribute::of_ints({0, -1}))
          .attr("keepdims", Attribute::of_int(keepdims));
      auto out = run_ok(g);
      ASSERT_EQ(out.size(), 1u);
      const std::vector<double> expected = reference_reduce_3d(x, dims, {true, false, true}, c.init, c.step, c.finish);
      expect_values(out[0], keepdims ? Dims{1, 4, 1} : Dims{4}, expected);
    }
  }
}

TEST(ReduceOps, AxesAsInputAndDefaultAllAxes) {
  const Dims dims{2, 3, 4};
  const std::vector<float> x = random_floats(24, 2);
  auto sum = [](double a, double v) { return a + v; };
  auto same = [](double a, int64_t) { return a; };
  {
    OneNodeGraph g("ReduceSum", 13);
    g.input("x", float_tensor(dims, x)).input("axes", int64_tensor({1}, {1}));
    auto out = run_ok(g);
    ASSERT_EQ(out.size(), 1u);
    expect_values(out[0], {2, 1, 4}, reference_reduce_3d(x, dims, {false, true, false}, 0, sum, same));
  }
  {
    // Opset 18: every Reduce op takes axes as an input; omitted means all axes.
    OneNodeGraph g("ReduceMax", 18);
    g.input("x", float_tensor(dims, x)).attr("keepdims", Attribute::of_int(0));
    auto out = run_ok(g);
    ASSERT_EQ(out.size(), 1u);
    double m = -1e9;
    for (float v : x) m = std::max<double>(m, v);
    expect_values(out[0], {}, {m});
  }
}

TEST(ReduceOps, EmptyAxesWithNoopReturnsInput) {
  const std::vector<float> x = random_floats(6, 3);
  OneNodeGraph g("ReduceSum", 13);
  g.input("x", float_tensor({2, 3}, x))
      .constant("axes", int64_tensor({0}, {}))
      .attr("noop_with_empty_axes", Attribute::of_int(1));
  auto out = run_ok(g);
  ASSERT_EQ(out.size(), 1u);
  expect_values(out[0], {2, 3}, std::vector<double>(x.begin(), x.end()));

  // Each element reduced alone keeps the op's element-wise part.
  OneNodeGraph h("ReduceSumSquare", 18);
  h.input("x", float_tensor({2, 3}, x))
      .constant("axes", int64_tensor({0}, {}))
      .attr("noop_with_empty_axes", Attribute::of_int(1));
  out = run_ok(h);
  ASSERT_EQ(out.size(), 1u);
  std::vector<double> squares;
  for (float v : x) squares.push_back(static_cast<double>(v) * v);
  expect_values(out[0], {2, 3}, squares);
}

TEST(ReduceOps, EmptySetGivesIdentity) {
  const double inf = std::numeric_limits<double>::infinity();
  const std::map<std::string, double> identity{{"ReduceSum", 0},         {"ReduceProd", 1},
                                               {"ReduceMax", -inf},      {"ReduceMin", inf},
                                               {"ReduceL1", 0},          {"ReduceL2", 0},
                                               {"ReduceLogSumExp", -inf}, {"ReduceSumSquare", 0},
                                               {"ReduceLogSum", -inf}};
  for (const auto& [op, value] : identity) {
    SCOPED_TRACE(op);
    OneNodeGraph g(op, 18);
    g.input("x", float_tensor({2, 0, 3}, {})).constant("axes", int64_tensor({1}, {1}));
    auto out = run_ok(g);
    ASSERT_EQ(out.size(), 1u);
    expect_values(out[0], {2, 1, 3}, std::vector<double>(6, value));
  }
}

TEST(ReduceOps, IntegersAreExact) {
  const std::vector<int32_t> x{7, -3, 100000, 2, 5, -8};
  OneNodeGraph g("ReduceSum", 11);
  g.input("x", Tensor::from_vector<int32_t>(DataType::kInt32, {2, 3}, x)).attr("axes", Attribute::of_ints({1}));
  auto out = run_ok(g);
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(out[0].dtype(), DataType::kInt32);
  EXPECT_EQ(out[0].data<int32_t>()[0], 100004);
  EXPECT_EQ(out[0].data<int32_t>()[1], -1);
}

TEST(ReduceOps, UnknownAxesLeaveShapeUnknownAtBuildTime) {
  Node node;
  node.op_type = "ReduceSum";
  node.opset = 13;
  node.attributes["keepdims"] = Attribute::of_int(0);
  Value x, axes;
  node.inputs = {&x, &axes};
  InferContext context{node, {TensorInfo{DataType::kFloat32, {2, 3}, true}, TensorInfo{DataType::kInt64, {1}, true}},
                       {nullptr, nullptr}};
  auto infos = OpRegistry::global().infer(context);
  ASSERT_TRUE(infos.ok()) << infos.status().to_string();
  EXPECT_FALSE((*infos)[0].dims_known);
}

TEST(ReduceOps, AxisOutOfRangeIsAnError) {
  OneNodeGraph g("ReduceSum", 11);
  g.input("x", float_tensor({2, 3}, random_floats(6, 4))).attr("axes", Attribute::of_ints({2}));
  auto out = g.run();
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("axis 2"), std::string::npos) << out.status().message();
}

TEST(ArgReduceOps, TiesAndSelectLastIndex) {
  // Row 0 has its maximum (5) at indices 1 and 3, row 1 its minimum (-1) at 0 and 2.
  const std::vector<float> x{1, 5, 2, 5, -1, 4, -1, 3};
  for (bool last : {false, true}) {
    OneNodeGraph g("ArgMax", 13);
    g.input("x", float_tensor({2, 4}, x)).attr("axis", Attribute::of_int(1)).attr("select_last_index",
                                                                                   Attribute::of_int(last));
    auto out = run_ok(g);
    ASSERT_EQ(out.size(), 1u);
    ASSERT_EQ(out[0].dtype(), DataType::kInt64);
    expect_values(out[0], {2, 1}, {last ? 3.0 : 1.0, 1.0});

    OneNodeGraph h("ArgMin", 13);
    h.input("x", float_tensor({2, 4}, x))
        .attr("axis", Attribute::of_int(-1))
        .attr("keepdims", Attribute::of_int(0))
        .attr("select_last_index", Attribute::of_int(last));
    out = run_ok(h);
    ASSERT_EQ(out.size(), 1u);
    expect_values(out[0], {2}, {0.0, last ? 2.0 : 0.0});
  }
}

// ---- Softmax family --------------------------------------------------------

std::vector<double> reference_softmax_rows(const std::vector<float>& x, int64_t rows, int64_t n, int64_t inner,
                                           bool log) {
  std::vector<double> y(x.size());
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t in = 0; in < inner; ++in) {
      double sum = 0;
      for (int64_t k = 0; k < n; ++k) sum += std::exp(x[(r * n + k) * inner + in]);
      for (int64_t k = 0; k < n; ++k) {
        const size_t i = static_cast<size_t>((r * n + k) * inner + in);
        y[i] = log ? x[i] - std::log(sum) : std::exp(x[i]) / sum;
      }
    }
  }
  return y;
}

TEST(SoftmaxOps, OldOpsetFlattensNewOpsetUsesOneAxis) {
  const Dims dims{2, 3, 4};
  const std::vector<float> x = random_floats(24, 5);
  {
    OneNodeGraph g("Softmax", 11);  // axis 1: rows of 3*4 elements
    g.input("x", float_tensor(dims, x)).attr("axis", Attribute::of_int(1));
    auto out = run_ok(g);
    ASSERT_EQ(out.size(), 1u);
    expect_values(out[0], dims, reference_softmax_rows(x, 2, 12, 1, false));
  }
  {
    OneNodeGraph g("Softmax", 13);  // axis 1 only: 3 elements, strided by 4
    g.input("x", float_tensor(dims, x)).attr("axis", Attribute::of_int(1));
    auto out = run_ok(g);
    ASSERT_EQ(out.size(), 1u);
    expect_values(out[0], dims, reference_softmax_rows(x, 2, 3, 4, false));
  }
  {
    OneNodeGraph g("LogSoftmax", 13);  // default axis -1
    g.input("x", float_tensor(dims, x));
    auto out = run_ok(g);
    ASSERT_EQ(out.size(), 1u);
    expect_values(out[0], dims, reference_softmax_rows(x, 6, 4, 1, true));
  }
  {
    OneNodeGraph g("LogSoftmax", 1);  // default axis 1 (flattened)
    g.input("x", float_tensor(dims, x));
    auto out = run_ok(g);
    ASSERT_EQ(out.size(), 1u);
    expect_values(out[0], dims, reference_softmax_rows(x, 2, 12, 1, true));
  }
}

TEST(SoftmaxOps, LargeValuesDoNotOverflow) {
  OneNodeGraph g("Softmax", 13);
  g.input("x", float_tensor({1, 3}, {1000.f, 1001.f, 1002.f}));
  auto out = run_ok(g);
  ASSERT_EQ(out.size(), 1u);
  const double e1 = std::exp(-1.0), e2 = std::exp(-2.0), s = 1 + e1 + e2;
  expect_values(out[0], {1, 3}, {e2 / s, e1 / s, 1 / s});
}

TEST(SoftmaxOps, HardmaxMarksFirstMaximum) {
  OneNodeGraph g("Hardmax", 13);
  g.input("x", float_tensor({2, 3}, {1, 3, 3, -1, -2, -3}));
  auto out = run_ok(g);
  ASSERT_EQ(out.size(), 1u);
  expect_values(out[0], {2, 3}, {0, 1, 0, 1, 0, 0});
}

// ---- TopK ------------------------------------------------------------------

TEST(TopKOps, LargestAndSmallestWithStableTies) {
  const std::vector<float> x{3, 1, 3, 2, 1, 0, 5, 5, 5, -1};
  {
    OneNodeGraph g("TopK", 11);
    g.input("x", float_tensor({2, 5}, x)).constant("k", int64_tensor({1}, {3})).outputs(2);
    auto out = run_ok(g);
    ASSERT_EQ(out.size(), 2u);
    expect_values(out[0], {2, 3}, {3, 3, 2, 5, 5, 5});
    expect_values(out[1], {2, 3}, {0, 2, 3, 1, 2, 3});
  }
  {
    OneNodeGraph g("TopK", 11);
    g.input("x", float_tensor({2, 5}, x))
        .input("k", int64_tensor({1}, {2}))
        .attr("largest", Attribute::of_int(0))
        .outputs(2);
    auto out = run_ok(g);
    ASSERT_EQ(out.size(), 2u);
    expect_values(out[0], {2, 2}, {1, 1, -1, 0});
    expect_values(out[1], {2, 2}, {1, 4, 4, 0});
  }
  {
    // Opset 1: k is an attribute; axis 0.
    OneNodeGraph g("TopK", 1);
    g.input("x", float_tensor({2, 5}, x)).attr("k", Attribute::of_int(1)).attr("axis", Attribute::of_int(0)).outputs(2);
    auto out = run_ok(g);
    ASSERT_EQ(out.size(), 2u);
    expect_values(out[0], {1, 5}, {3, 5, 5, 5, 1});
    expect_values(out[1], {1, 5}, {0, 1, 1, 1, 0});
  }
}

TEST(TopKOps, KLargerThanAxisIsAnError) {
  OneNodeGraph g("TopK", 11);
  g.input("x", float_tensor({2, 3}, random_floats(6, 6))).constant("k", int64_tensor({1}, {4})).outputs(2);
  EXPECT_FALSE(g.run().ok());
}

// ---- Normalisations -------------------------------------------------------

TEST(NormalizationOps, BatchNormInferenceAndTraining) {
  const Dims dims{2, 3, 2, 2};
  const std::vector<float> x = random_floats(24, 7);
  const std::vector<float> scale = random_floats(3, 8), bias = random_floats(3, 9), mean = random_floats(3, 10);
  const std::vector<float> var = random_floats(3, 11, 0.5f, 1.5f);
  const double eps = 1e-3, momentum = 0.8;
  {
    OneNodeGraph g("BatchNormalization", 15);
    g.input("x", float_tensor(dims, x))
        .constant("scale", float_tensor({3}, scale))
        .constant("bias", float_tensor({3}, bias))
        .constant("mean", float_tensor({3}, mean))
        .constant("var", float_tensor({3}, var))
        .attr("epsilon", Attribute::of_float(eps));
    auto out = run_ok(g);
    ASSERT_EQ(out.size(), 1u);
    std::vector<double> expected(24);
    for (int n = 0; n < 2; ++n)
      for (int c = 0; c < 3; ++c)
        for (int i = 0; i < 4; ++i) {
          const int e = (n * 3 + c) * 4 + i;
          expected[e] = (x[e] - mean[c]) / std::sqrt(var[c] + eps) * scale[c] + bias[c];
        }
    expect_values(out[0], dims, expected);
  }
  {
    OneNodeGraph g("BatchNormalization", 15);
    g.input("x", float_tensor(dims, x))
        .constant("scale", float_tensor({3}, scale))
        .constant("bias", float_tensor({3}, bias))
        .constant("mean", float_tensor({3}, mean))
        .constant("var", float_tensor({3}, var))
        .attr("epsilon", Attribute::of_float(eps))
        .attr("momentum", Attribute::of_float(momentum))
        .attr("training_mode", Attribute::of_int(1))
        .outputs(3);
    auto out = run_ok(g);
    ASSERT_EQ(out.size(), 3u);
    std::vector<double> expected(24), running_mean(3), running_var(3);
    for (int c = 0; c < 3; ++c) {
      double s = 0, ss = 0;
      for (int n = 0; n < 2; ++n)
        for (int i = 0; i < 4; ++i) s += x[(n * 3 + c) * 4 + i];
      const double m = s / 8;
      for (int n = 0; n < 2; ++n)
        for (int i = 0; i < 4; ++i) ss += std::pow(x[(n * 3 + c) * 4 + i] - m, 2);
      const double v = ss / 8;
      for (int n = 0; n < 2; ++n)
        for (int i = 0; i < 4; ++i) {
          const int e = (n * 3 + c) * 4 + i;
          expected[e] = (x[e] - m) / std::sqrt(v + eps) * scale[c] + bias[c];
        }
      running_mean[c] = mean[c] * momentum + m * (1 - momentum);
      running_var[c] = var[c] * momentum + v * (1 - momentum);
    }
    expect_values(out[0], dims, expected);
    expect_values(out[1], {3}, running_mean);
    expect_values(out[2], {3}, running_var);
  }
}

TEST(NormalizationOps, InstanceNorm) {
  const Dims dims{2, 2, 5};
  const std::vector<float> x = random_floats(20, 12);
  const std::vector<float> scale{0.5f, -2.f}, bias{1.f, 0.25f};
  OneNodeGraph g("InstanceNormalization", 6);
  g.input("x", float_tensor(dims, x))
      .constant("scale", float_tensor({2}, scale))
      .constant("bias", float_tensor({2}, bias))
      .attr("epsilon", Attribute::of_float(1e-2));
  auto out = run_ok(g);
  ASSERT_EQ(out.size(), 1u);
  std::vector<double> expected(20);
  for (int nc = 0; nc < 4; ++nc) {
    double m = 0, v = 0;
    for (int i = 0; i < 5; ++i) m += x[nc * 5 + i] / 5.0;
    for (int i = 0; i < 5; ++i) v += std::pow(x[nc * 5 + i] - m, 2) / 5.0;
    for (int i = 0; i < 5; ++i) {
      expected[nc * 5 + i] = (x[nc * 5 + i] - m) / std::sqrt(v + 1e-2) * scale[nc % 2] + bias[nc % 2];
    }
  }
  expect_values(out[0], dims, expected);
}

TEST(NormalizationOps, LayerNormWithStatistics) {
  const Dims dims{2, 3, 4};
  const std::vector<float> x = random_floats(24, 13);
  const std::vector<float> scale = random_floats(12, 14), bias = random_floats(12, 15);
  OneNodeGraph g("LayerNormalization", 17);
  g.input("x", float_tensor(dims, x))
      .constant("scale", float_tensor({3, 4}, scale))
      .constant("bias", float_tensor({3, 4}, bias))
      .attr("axis", Attribute::of_int(-2))
      .outputs(3);
  auto out = run_ok(g);
  ASSERT_EQ(out.size(), 3u);
  std::vector<double> expected(24), means(2), inv_std(2);
  for (int r = 0; r < 2; ++r) {
    double m = 0, v = 0;
    for (int j = 0; j < 12; ++j) m += x[r * 12 + j] / 12.0;
    for (int j = 0; j < 12; ++j) v += std::pow(x[r * 12 + j] - m, 2) / 12.0;
    means[r] = m;
    inv_std[r] = 1 / std::sqrt(v + 1e-5);
    for (int j = 0; j < 12; ++j) expected[r * 12 + j] = (x[r * 12 + j] - m) * inv_std[r] * scale[j] + bias[j];
  }
  expect_values(out[0], dims, expected);
  expect_values(out[1], {2, 1, 1}, means);
  expect_values(out[2], {2, 1, 1}, inv_std);
}

TEST(NormalizationOps, GroupNormPerGroupAndPerChannel) {
  const Dims dims{1, 4, 3};
  const std::vector<float> x = random_floats(12, 16);
  // Two groups of two channels.
  std::vector<double> normalized(12);
  for (int g = 0; g < 2; ++g) {
    double m = 0, v = 0;
    for (int i = 0; i < 6; ++i) m += x[g * 6 + i] / 6.0;
    for (int i = 0; i < 6; ++i) v += std::pow(x[g * 6 + i] - m, 2) / 6.0;
    for (int i = 0; i < 6; ++i) normalized[g * 6 + i] = (x[g * 6 + i] - m) / std::sqrt(v + 1e-5);
  }
  {
    OneNodeGraph g("GroupNormalization", 18);
    g.input("x", float_tensor(dims, x))
        .constant("scale", float_tensor({2}, {2.f, -1.f}))
        .constant("bias", float_tensor({2}, {0.5f, 1.f}))
        .attr("num_groups", Attribute::of_int(2));
    auto out = run_ok(g);
    ASSERT_EQ(out.size(), 1u);
    std::vector<double> expected(12);
    for (int i = 0; i < 12; ++i) expected[i] = i < 6 ? normalized[i] * 2 + 0.5 : -normalized[i] + 1;
    expect_values(out[0], dims, expected);
  }
  {
    OneNodeGraph g("GroupNormalization", 21);
    const std::vector<float> scale{1.f, 2.f, 3.f, 4.f}, bias{0.f, -1.f, 1.f, 2.f};
    g.input("x", float_tensor(dims, x))
        .constant("scale", float_tensor({4}, scale))
        .constant("bias", float_tensor({4}, bias))
        .attr("num_groups", Attribute::of_int(2));
    auto out = run_ok(g);
    ASSERT_EQ(out.size(), 1u);
    std::vector<double> expected(12);
    for (int i = 0; i < 12; ++i) expected[i] = normalized[i] * scale[i / 3] + bias[i / 3];
    expect_values(out[0], dims, expected);
  }
}

TEST(NormalizationOps, LrnAndMeanVarianceNormalization) {
  const Dims dims{1, 5, 2, 1};
  const std::vector<float> x = random_floats(10, 17);
  {
    OneNodeGraph g("LRN", 13);
    g.input("x", float_tensor(dims, x))
        .attr("size", Attribute::of_int(3))
        .attr("alpha", Attribute::of_float(0.01))
        .attr("beta", Attribute::of_float(0.5))
        .attr("bias", Attribute::of_float(2.0));
    auto out = run_ok(g);
    ASSERT_EQ(out.size(), 1u);
    std::vector<double> expected(10);
    for (int c = 0; c < 5; ++c)
      for (int i = 0; i < 2; ++i) {
        double sq = 0;
        for (int k = std::max(0, c - 1); k <= std::min(4, c + 1); ++k) sq += x[k * 2 + i] * x[k * 2 + i];
        expected[c * 2 + i] = x[c * 2 + i] / std::pow(2.0 + 0.01 / 3 * sq, 0.5);
      }
    expect_values(out[0], dims, expected);
  }
  {
    OneNodeGraph g("MeanVarianceNormalization", 13);
    g.input("x", float_tensor(dims, x));  // default axes 0, 2, 3: per channel
    auto out = run_ok(g);
    ASSERT_EQ(out.size(), 1u);
    std::vector<double> expected(10);
    for (int c = 0; c < 5; ++c) {
      const double m = (x[c * 2] + x[c * 2 + 1]) / 2;
      const double sd = std::sqrt((std::pow(x[c * 2] - m, 2) + std::pow(x[c * 2 + 1] - m, 2)) / 2);
      for (int i = 0; i < 2; ++i) expected[c * 2 + i] = (x[c * 2 + i] - m) / (sd + 1e-9);
    }
    expect_values(out[0], dims, expected, 1e-4);
  }
}

// ---- Losses ----------------------------------------------------------------

TEST(LossOps, NllWithWeightsAndIgnoreIndex) {
  // N = 2, C = 3, d1 = 2; target 1 at (1, 0) is ignored.
  const std::vector<float> x = random_floats(12, 18);
  const std::vector<int64_t> target{0, 2, 1, 1};
  const std::vector<float> weight{0.2f, 0.7f, 1.5f};
  for (const std::string reduction : {"none", "sum", "mean"}) {
    SCOPED_TRACE(reduction);
    OneNodeGraph g("NegativeLogLikelihoodLoss", 13);
    g.input("x", float_tensor({2, 3, 2}, x))
        .input("t", int64_tensor({2, 2}, target))
        .constant("w", float_tensor({3}, weight))
        .attr("reduction", Attribute::of_string(reduction))
        .attr("ignore_index", Attribute::of_int(1));
    auto out = run_ok(g);
    ASSERT_EQ(out.size(), 1u);
    std::vector<double> loss(4, 0.0);
    double total = 0, weights = 0;
    for (int n = 0; n < 2; ++n)
      for (int d = 0; d < 2; ++d) {
        const int64_t t = target[n * 2 + d];
        if (t == 1) continue;
        loss[n * 2 + d] = -x[(n * 3 + t) * 2 + d] * weight[t];
        total += loss[n * 2 + d];
        weights += weight[t];
      }
    if (reduction == "none") expect_values(out[0], {2, 2}, loss);
    else if (reduction == "sum") expect_values(out[0], {}, {total});
    else expect_values(out[0], {}, {total / weights});
  }
}

TEST(LossOps, SoftmaxCrossEntropyWithLogProb) {
  const std::vector<float> x = random_floats(2 * 4 * 3, 19);
  const std::vector<int32_t> target{3, 0, -5, 1, 2, 2};  // -5 is the ignore index
  OneNodeGraph g("SoftmaxCrossEntropyLoss", 13);
  g.input("x", float_tensor({2, 4, 3}, x))
      .input("t", Tensor::from_vector<int32_t>(DataType::kInt32, {2, 3}, target))
      .attr("ignore_index", Attribute::of_int(-5))
      .outputs(2);
  auto out = run_ok(g);
  ASSERT_EQ(out.size(), 2u);
  std::vector<double> log_prob(24);
  double total = 0;
  int counted = 0;
  for (int n = 0; n < 2; ++n)
    for (int d = 0; d < 3; ++d) {
      double sum = 0;
      for (int c = 0; c < 4; ++c) sum += std::exp(x[(n * 4 + c) * 3 + d]);
      for (int c = 0; c < 4; ++c) log_prob[(n * 4 + c) * 3 + d] = x[(n * 4 + c) * 3 + d] - std::log(sum);
      const int t = target[n * 3 + d];
      if (t == -5) continue;
      total -= log_prob[(n * 4 + t) * 3 + d];
      ++counted;
    }
  expect_values(out[0], {}, {total / counted});
  expect_values(out[1], {2, 4, 3}, log_prob);
}

TEST(LossOps, TargetOutOfRangeIsAnError) {
  OneNodeGraph g("NegativeLogLikelihoodLoss", 13);
  g.input("x", float_tensor({2, 3}, random_floats(6, 20))).input("t", int64_tensor({2}, {0, 3}));
  auto out = g.run();
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("target value 3"), std::string::npos) << out.status().message();
}

// ---- Einsum and Det --------------------------------------------------------

TEST(EinsumOps, BatchMatmulTraceDiagonalAndImplicitOutput) {
  const std::vector<float> a = random_floats(2 * 3 * 4, 21), b = random_floats(2 * 4 * 5, 22);
  {
    OneNodeGraph g("Einsum", 12);
    g.input("a", float_tensor({2, 3, 4}, a)).input("b", float_tensor({2, 4, 5}, b)).attr(
        "equation", Attribute::of_string("bij, bjk -> bik"));
    auto out = run_ok(g);
    ASSERT_EQ(out.size(), 1u);
    std::vector<double> expected(30, 0.0);
    for (int n = 0; n < 2; ++n)
      for (int i = 0; i < 3; ++i)
        for (int k = 0; k < 5; ++k)
          for (int j = 0; j < 4; ++j) expected[(n * 3 + i) * 5 + k] += a[(n * 3 + i) * 4 + j] * b[(n * 4 + j) * 5 + k];
    expect_values(out[0], {2, 3, 5}, expected);
  }
  const std::vector<float> m = random_floats(2 * 3 * 3, 23);
  {
    OneNodeGraph g("Einsum", 12);
    g.input("m", float_tensor({2, 3, 3}, m)).attr("equation", Attribute::of_string("...ii->...i"));
    auto out = run_ok(g);
    ASSERT_EQ(out.size(), 1u);
    std::vector<double> expected(6);
    for (int n = 0; n < 2; ++n)
      for (int i = 0; i < 3; ++i) expected[n * 3 + i] = m[(n * 3 + i) * 3 + i];
    expect_values(out[0], {2, 3}, expected);
  }
  {
    OneNodeGraph g("Einsum", 12);
    g.input("m", float_tensor({3, 3}, std::vector<float>(m.begin(), m.begin() + 9)))
        .attr("equation", Attribute::of_string("ii"));
    auto out = run_ok(g);
    ASSERT_EQ(out.size(), 1u);
    expect_values(out[0], {}, {static_cast<double>(m[0]) + m[4] + m[8]});
  }
  {
    // Implicit output: letters used once, alphabetically ("kj").
    OneNodeGraph g("Einsum", 12);
    g.input("a", float_tensor({3, 4}, std::vector<float>(a.begin(), a.begin() + 12)))
        .input("b", float_tensor({3, 2}, std::vector<float>(b.begin(), b.begin() + 6)))
        .attr("equation", Attribute::of_string("ik,ij"));
    auto out = run_ok(g);
    ASSERT_EQ(out.size(), 1u);
    std::vector<double> expected(8, 0.0);
    for (int k = 0; k < 4; ++k)
      for (int j = 0; j < 2; ++j)
        for (int i = 0; i < 3; ++i) expected[j * 4 + k] += a[i * 4 + k] * b[i * 2 + j];
    // Output labels in ASCII order: j then k.
    expect_values(out[0], {2, 4}, expected);
  }
}

TEST(EinsumOps, MismatchedExtentsAreAnError) {
  OneNodeGraph g("Einsum", 12);
  g.input("a", float_tensor({2, 3}, random_floats(6, 24)))
      .input("b", float_tensor({4, 2}, random_floats(8, 25)))
      .attr("equation", Attribute::of_string("ij,jk->ik"));
  EXPECT_FALSE(g.run().ok());
}

TEST(DetOps, MatchesCofactorExpansion) {
  const std::vector<float> x = random_floats(2 * 3 * 3, 26);
  OneNodeGraph g("Det", 11);
  g.input("x", float_tensor({2, 3, 3}, x));
  auto out = run_ok(g);
  ASSERT_EQ(out.size(), 1u);
  std::vector<double> expected(2);
  for (int n = 0; n < 2; ++n) {
    const float* a = x.data() + n * 9;
    expected[n] = a[0] * (a[4] * a[8] - a[5] * a[7]) - a[1] * (a[3] * a[8] - a[5] * a[6]) +
                  a[2] * (a[3] * a[7] - a[4] * a[6]);
  }
  expect_values(out[0], {2}, expected, 1e-5);
}

}  // namespace
}  // namespace kiln

namespace kiln {
namespace {

// Sizes past the threading threshold, so the OpenMP paths run.
TEST(LargeTensors, ThreadedPathsMatchReference) {
  {
    const std::vector<float> x = random_floats(64 * 700, 30);
    OneNodeGraph g("ReduceMean", 13);
    g.input("x", float_tensor({64, 700}, x)).attr("axes", Attribute::of_ints({1}));
    auto out = run_ok(g);
    ASSERT_EQ(out.size(), 1u);
    std::vector<double> expected(64, 0.0);
    for (int r = 0; r < 64; ++r)
      for (int j = 0; j < 700; ++j) expected[r] += x[r * 700 + j] / 700.0;
    expect_values(out[0], {64, 1}, expected);
  }
  {
    const std::vector<float> x = random_floats(128 * 512, 31);
    OneNodeGraph g("Softmax", 13);
    g.input("x", float_tensor({128, 512}, x));
    auto out = run_ok(g);
    ASSERT_EQ(out.size(), 1u);
    expect_values(out[0], {128, 512}, reference_softmax_rows(x, 128, 512, 1, false));
  }
  {
    const std::vector<float> a = random_floats(64 * 128, 32), b = random_floats(128 * 64, 33);
    OneNodeGraph g("Einsum", 12);
    g.input("a", float_tensor({64, 128}, a)).input("b", float_tensor({128, 64}, b)).attr(
        "equation", Attribute::of_string("ij,jk->ik"));
    auto out = run_ok(g);
    ASSERT_EQ(out.size(), 1u);
    std::vector<double> expected(64 * 64, 0.0);
    for (int i = 0; i < 64; ++i)
      for (int k = 0; k < 64; ++k)
        for (int j = 0; j < 128; ++j) expected[i * 64 + k] += static_cast<double>(a[i * 128 + j]) * b[j * 64 + k];
    expect_values(out[0], {64, 64}, expected, 1e-4);
  }
}

}  // namespace
}  // namespace kiln
