// Tensor and shape-manipulation ops: each test builds a one-node graph by hand,
// runs it through Builder + Context on the CPU backend and compares with a
// reference computed here with plain loops on random inputs. Copying ops must
// be exact, so comparisons are exact unless stated.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>

#include "kiln/builder.h"

namespace kiln {
namespace {

std::vector<float> random_floats(size_t count, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-5.f, 5.f);
  std::vector<float> out(count);
  for (float& v : out) v = dist(gen);
  return out;
}

std::vector<int64_t> random_ints(size_t count, uint32_t seed, int64_t lo, int64_t hi) {
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int64_t> dist(lo, hi);
  std::vector<int64_t> out(count);
  for (int64_t& v : out) v = dist(gen);
  return out;
}

Tensor floats(Dims dims, const std::vector<float>& v) {
  return Tensor::from_vector<float>(DataType::kFloat32, dims, v);
}
Tensor ints(Dims dims, const std::vector<int64_t>& v) {
  return Tensor::from_vector<int64_t>(DataType::kInt64, dims, v);
}
Tensor scalar_bool(bool b) { return Tensor::from_vector<bool>(DataType::kBool, {}, {b}); }

template <typename T>
std::vector<T> values_of(const Tensor& t) {
  return std::vector<T>(t.data<T>(), t.data<T>() + t.element_count());
}

// A graph of one node whose inputs are graph inputs (fed at execution) or
// constants (known while building).
class OneNode {
 public:
  OneNode(const std::string& op, int opset) : graph_(std::make_unique<Graph>()) {
    graph_->opsets[""] = opset;
    auto node = std::make_unique<Node>();
    node->name = "n";
    node->op_type = op;
    node->opset = opset;
    node_ = node.get();
    graph_->add_node(std::move(node));
  }
  OneNode& input(const Tensor& value) {
    Value* v = graph_->value("in" + std::to_string(node_->inputs.size()));
    v->dtype = value.dtype();
    v->shape = Shape::from_dims(value.dims());
    graph_->inputs().push_back(v);
    node_->inputs.push_back(v);
    feeds_[v->name] = value;
    return *this;
  }
  OneNode& constant(const Tensor& value) {
    Value* v = graph_->value("const" + std::to_string(node_->inputs.size()));
    v->dtype = value.dtype();
    v->shape = Shape::from_dims(value.dims());
    v->constant = value;
    node_->inputs.push_back(v);
    return *this;
  }
  OneNode& omitted() {
    node_->inputs.push_back(nullptr);
    return *this;
  }
  OneNode& attr(const std::string& key, Attribute a) {
    node_->attributes[key] = std::move(a);
    return *this;
  }
  OneNode& outputs(int count) {
    for (int i = 0; i < count; ++i) {
      Value* v = graph_->value("out" + std::to_string(i));
      node_->outputs.push_back(v);
      v->producer = node_;
      graph_->outputs().push_back(v);
    }
    return *this;
  }
  Expected<std::shared_ptr<Engine>> build() {
    if (node_->outputs.empty()) outputs(1);
    return Builder::build(std::move(graph_));
  }
  Expected<std::vector<Tensor>> run() {
    TensorMap feeds = feeds_;
    KILN_ASSIGN_OR_RETURN(auto engine, build());
    KILN_ASSIGN_OR_RETURN(auto context, engine->create_context());
    return context->execute(feeds);
  }

 private:
  std::unique_ptr<Graph> graph_;
  Node* node_ = nullptr;
  TensorMap feeds_;
};

std::vector<Tensor> run_ok(OneNode& graph) {
  auto out = graph.run();
  EXPECT_TRUE(out.ok()) << out.status().to_string();
  return out.ok() ? *out : std::vector<Tensor>{};
}

TEST(TensorOps, TransposeMatchesLoops) {
  const Dims dims{3, 4, 5};
  auto x = random_floats(60, 1);
  OneNode g("Transpose", 13);
  g.input(floats(dims, x)).attr("perm", Attribute::of_ints({2, 0, 1}));
  auto out = run_ok(g);
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(out[0].dims(), (Dims{5, 3, 4}));
  for (int k = 0; k < 5; ++k)
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 4; ++j) EXPECT_EQ(out[0].data<float>()[(k * 3 + i) * 4 + j], x[(i * 4 + j) * 5 + k]);
}

TEST(TensorOps, TransposeAndConcatMoveStrings) {
  std::vector<std::string> s{"a", "bb", "ccc", "d", "ee", "f"};
  OneNode t("Transpose", 13);
  t.input(Tensor::strings({2, 3}, s));
  auto out = run_ok(t);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].string_data(), (std::vector<std::string>{"a", "d", "bb", "ee", "ccc", "f"}));

  OneNode c("Concat", 13);
  c.input(Tensor::strings({2, 1}, {"x", "y"})).input(Tensor::strings({2, 3}, s)).attr("axis", Attribute::of_int(1));
  out = run_ok(c);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].string_data(), (std::vector<std::string>{"x", "a", "bb", "ccc", "y", "d", "ee", "f"}));
}

TEST(TensorOps, ReshapeCopiesZeroAndInfersMinusOne) {
  auto x = random_floats(24, 2);
  OneNode g("Reshape", 14);
  g.input(floats({2, 3, 4}, x)).constant(ints({3}, {0, -1, 2}));
  auto engine = g.build();
  ASSERT_TRUE(engine.ok()) << engine.status().to_string();
  // A constant shape makes the output shape known while building.
  EXPECT_EQ((*engine)->outputs()[0].shape.known_dims(), (Dims{2, 6, 2}));
  auto context = (*engine)->create_context();
  ASSERT_TRUE(context.ok());
  auto out = (*context)->execute({{"in0", floats({2, 3, 4}, x)}});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ((*out)[0].dims(), (Dims{2, 6, 2}));
  EXPECT_EQ(values_of<float>((*out)[0]), x);
}

TEST(TensorOps, ReshapeWithRuntimeShapeHasUnknownDimsWhileBuilding) {
  OneNode g("Reshape", 14);
  g.input(floats({2, 3, 4}, random_floats(24, 3))).input(ints({2}, {4, 6}));
  auto engine = g.build();
  ASSERT_TRUE(engine.ok()) << engine.status().to_string();
  const Shape& shape = (*engine)->outputs()[0].shape;
  ASSERT_TRUE(shape.is_ranked());
  EXPECT_EQ(shape.known_dims(), (Dims{-1, -1}));
}

TEST(TensorOps, ReshapeRejectsWrongElementCount) {
  OneNode g("Reshape", 14);
  g.input(floats({2, 3}, random_floats(6, 4))).constant(ints({2}, {4, 2}));
  auto engine = g.build();
  ASSERT_FALSE(engine.ok());
  EXPECT_NE(engine.status().message().find("cannot reshape"), std::string::npos) << engine.status().message();
}

TEST(TensorOps, SliceNegativeStepsAndClamping) {
  const Dims dims{5, 6};
  auto x = random_ints(30, 5, -100, 100);
  OneNode g("Slice", 13);
  // Axis 1 from the end backwards by 2 with an end far out of range; axis 0 from 1 to the end.
  g.input(ints(dims, x))
      .input(ints({2}, {1, -1}))
      .input(ints({2}, {1000, INT64_MIN}))
      .input(ints({2}, {0, 1}))
      .input(ints({2}, {1, -2}));
  auto out = run_ok(g);
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(out[0].dims(), (Dims{4, 3}));
  std::vector<int64_t> expected;
  for (int i = 1; i < 5; ++i)
    for (int j = 5; j >= 0; j -= 2) expected.push_back(x[i * 6 + j]);
  EXPECT_EQ(values_of<int64_t>(out[0]), expected);
}

TEST(TensorOps, SliceAttributesInOldOpsets) {
  auto x = random_floats(20, 6);
  OneNode g("Slice", 9);
  g.input(floats({4, 5}, x))
      .attr("starts", Attribute::of_ints({1}))
      .attr("ends", Attribute::of_ints({-1}))
      .attr("axes", Attribute::of_ints({1}));
  auto out = run_ok(g);
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(out[0].dims(), (Dims{4, 3}));
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 3; ++j) EXPECT_EQ(out[0].data<float>()[i * 3 + j], x[i * 5 + j + 1]);
}

// numpy.pad semantics, written independently of the kernel.
int64_t reference_pad_index(int64_t x, int64_t n, const std::string& mode) {
  if (mode == "edge") return std::clamp<int64_t>(x, 0, n - 1);
  if (mode == "wrap") {
    while (x < 0) x += n;
    return x % n;
  }
  while (x < 0 || x >= n) {  // reflect: fold at the edges until inside
    if (x < 0) x = -x;
    if (x >= n) x = 2 * (n - 1) - x;
  }
  return x;
}

TEST(TensorOps, PadAllModes) {
  const Dims dims{3, 4};
  auto x = random_floats(12, 7);
  const std::vector<int64_t> pads{2, 1, 1, 3};  // begin 0, begin 1, end 0, end 1
  for (std::string mode : {"constant", "reflect", "edge", "wrap"}) {
    OneNode g("Pad", 13);
    g.input(floats(dims, x))
        .constant(ints({4}, pads))
        .constant(floats({}, {7.5f}))
        .attr("mode", Attribute::of_string(mode));
    auto out = run_ok(g);
    ASSERT_EQ(out.size(), 1u) << mode;
    ASSERT_EQ(out[0].dims(), (Dims{6, 8})) << mode;
    for (int64_t i = 0; i < 6; ++i) {
      for (int64_t j = 0; j < 8; ++j) {
        const int64_t si = i - 2, sj = j - 1;
        float expected;
        if (mode == "constant") {
          expected = (si >= 0 && si < 3 && sj >= 0 && sj < 4) ? x[si * 4 + sj] : 7.5f;
        } else {
          expected = x[reference_pad_index(si, 3, mode) * 4 + reference_pad_index(sj, 4, mode)];
        }
        EXPECT_EQ(out[0].data<float>()[i * 8 + j], expected) << mode << " at " << i << "," << j;
      }
    }
  }
}

TEST(TensorOps, PadAxesInputAndNegativePads) {
  auto x = random_floats(12, 8);
  OneNode g("Pad", 18);
  // Only axis -1: crop one at the start, add two zeros at the end.
  g.input(floats({3, 4}, x)).constant(ints({2}, {-1, 2})).omitted().constant(ints({1}, {-1}));
  auto out = run_ok(g);
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(out[0].dims(), (Dims{3, 5}));
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 5; ++j) EXPECT_EQ(out[0].data<float>()[i * 5 + j], j < 3 ? x[i * 4 + j + 1] : 0.f);
}

TEST(TensorOps, PadAttributesBeforeOpset11) {
  auto x = random_floats(4, 9);
  OneNode g("Pad", 2);
  g.input(floats({4}, x)).attr("pads", Attribute::of_ints({1, 2})).attr("value", Attribute::of_float(-1.0));
  auto out = run_ok(g);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(values_of<float>(out[0]), (std::vector<float>{-1, x[0], x[1], x[2], x[3], -1, -1}));
}

TEST(TensorOps, SplitNumOutputsUnevenLastChunk) {
  auto x = random_floats(10, 10);
  OneNode g("Split", 18);
  g.input(floats({2, 5}, x)).attr("axis", Attribute::of_int(1)).attr("num_outputs", Attribute::of_int(3)).outputs(3);
  auto out = run_ok(g);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].dims(), (Dims{2, 2}));
  EXPECT_EQ(out[1].dims(), (Dims{2, 2}));
  EXPECT_EQ(out[2].dims(), (Dims{2, 1}));
  EXPECT_EQ(values_of<float>(out[2]), (std::vector<float>{x[4], x[9]}));
  EXPECT_EQ(values_of<float>(out[1]), (std::vector<float>{x[2], x[3], x[7], x[8]}));
}

TEST(TensorOps, SplitSizesAsAttributeAndAsInput) {
  auto x = random_ints(6, 11, 0, 50);
  OneNode old_split("Split", 11);
  old_split.input(ints({6}, x)).attr("split", Attribute::of_ints({1, 5})).outputs(2);
  auto a = run_ok(old_split);
  OneNode new_split("Split", 13);
  new_split.input(ints({6}, x)).input(ints({2}, {1, 5})).outputs(2);
  auto b = run_ok(new_split);
  ASSERT_EQ(a.size(), 2u);
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(values_of<int64_t>(a[0]), (std::vector<int64_t>{x[0]}));
  EXPECT_EQ(values_of<int64_t>(a[1]), std::vector<int64_t>(x.begin() + 1, x.end()));
  EXPECT_EQ(values_of<int64_t>(b[1]), std::vector<int64_t>(x.begin() + 1, x.end()));
}

TEST(TensorOps, UnsqueezeAxesAttributeAndInput) {
  auto x = random_floats(6, 12);
  OneNode a("Unsqueeze", 11);
  a.input(floats({2, 3}, x)).attr("axes", Attribute::of_ints({0, -1}));
  OneNode b("Unsqueeze", 13);
  b.input(floats({2, 3}, x)).constant(ints({2}, {3, 1}));
  auto ra = run_ok(a);
  auto rb = run_ok(b);
  ASSERT_EQ(ra.size(), 1u);
  ASSERT_EQ(rb.size(), 1u);
  EXPECT_EQ(ra[0].dims(), (Dims{1, 2, 3, 1}));
  EXPECT_EQ(rb[0].dims(), (Dims{2, 1, 3, 1}));
  EXPECT_EQ(values_of<float>(rb[0]), x);
}

TEST(TensorOps, GatherNegativeIndices) {
  auto x = random_floats(12, 13);
  OneNode g("Gather", 13);
  g.input(floats({3, 4}, x)).input(ints({2, 2}, {-1, 0, 2, -4})).attr("axis", Attribute::of_int(1));
  auto out = run_ok(g);
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(out[0].dims(), (Dims{3, 2, 2}));
  const int cols[4] = {3, 0, 2, 0};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 4; ++j) EXPECT_EQ(out[0].data<float>()[i * 4 + j], x[i * 4 + cols[j]]);
}

TEST(TensorOps, GatherIndexOutOfRangeIsAnError) {
  OneNode g("Gather", 13);
  g.input(floats({3}, {1, 2, 3})).input(ints({1}, {3}));
  auto out = g.run();
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kOutOfRange);
}

TEST(TensorOps, GatherNDWithBatchDims) {
  auto x = random_floats(2 * 3 * 4, 14);
  OneNode g("GatherND", 13);
  // Per batch b, pick rows data[b, i] for index tuples (i).
  g.input(floats({2, 3, 4}, x)).input(ints({2, 2, 1}, {2, 0, 1, 1})).attr("batch_dims", Attribute::of_int(1));
  auto out = run_ok(g);
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(out[0].dims(), (Dims{2, 2, 4}));
  const int rows[2][2] = {{2, 0}, {1, 1}};
  for (int b = 0; b < 2; ++b)
    for (int t = 0; t < 2; ++t)
      for (int k = 0; k < 4; ++k) EXPECT_EQ(out[0].data<float>()[(b * 2 + t) * 4 + k], x[(b * 3 + rows[b][t]) * 4 + k]);
}

TEST(TensorOps, ScatterElementsAddWithDuplicates) {
  auto data = random_floats(6, 15);
  auto updates = random_floats(4, 16);
  OneNode g("ScatterElements", 16);
  g.input(floats({2, 3}, data))
      .input(ints({2, 2}, {0, 0, 2, -1}))
      .input(floats({2, 2}, updates))
      .attr("axis", Attribute::of_int(1))
      .attr("reduction", Attribute::of_string("add"));
  auto out = run_ok(g);
  ASSERT_EQ(out.size(), 1u);
  std::vector<float> expected = data;
  expected[0] += updates[0];
  expected[0] += updates[1];
  expected[3 + 2] += updates[2];
  expected[3 + 2] += updates[3];
  auto got = values_of<float>(out[0]);
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_NEAR(got[i], expected[i], 1e-5);
}

TEST(TensorOps, ScatterNDMultiply) {
  auto data = random_ints(8, 17, -5, 5);
  OneNode g("ScatterND", 16);
  g.input(ints({2, 4}, data))
      .input(ints({1, 1}, {1}))
      .input(ints({1, 4}, {2, 3, 4, 5}))
      .attr("reduction", Attribute::of_string("mul"));
  auto out = run_ok(g);
  ASSERT_EQ(out.size(), 1u);
  std::vector<int64_t> expected = data;
  for (int k = 0; k < 4; ++k) expected[4 + k] *= 2 + k;
  EXPECT_EQ(values_of<int64_t>(out[0]), expected);
}

TEST(TensorOps, ExpandAndTile) {
  auto x = random_floats(3, 18);
  OneNode e("Expand", 13);
  e.input(floats({3, 1}, x)).constant(ints({3}, {2, 1, 4}));
  auto out = run_ok(e);
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(out[0].dims(), (Dims{2, 3, 4}));
  for (int b = 0; b < 2; ++b)
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 4; ++j) EXPECT_EQ(out[0].data<float>()[(b * 3 + i) * 4 + j], x[i]);

  auto y = random_ints(6, 19, 0, 9);
  OneNode t("Tile", 13);
  t.input(ints({2, 3}, y)).input(ints({2}, {2, 3}));
  out = run_ok(t);
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(out[0].dims(), (Dims{4, 9}));
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 9; ++j) EXPECT_EQ(out[0].data<int64_t>()[i * 9 + j], y[(i % 2) * 3 + j % 3]);
}

TEST(TensorOps, CumSumExclusiveReverse) {
  auto x = random_floats(12, 20);
  OneNode g("CumSum", 14);
  g.input(floats({3, 4}, x))
      .constant(ints({}, {1}))
      .attr("exclusive", Attribute::of_int(1))
      .attr("reverse", Attribute::of_int(1));
  auto out = run_ok(g);
  ASSERT_EQ(out.size(), 1u);
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 4; ++j) {
      float expected = 0;
      for (int k = j + 1; k < 4; ++k) expected += x[i * 4 + k];
      EXPECT_NEAR(out[0].data<float>()[i * 4 + j], expected, 1e-5);
    }
  }
}

TEST(TensorOps, UniqueSortedAndUnsorted) {
  auto x = random_ints(40, 21, -4, 4);
  for (int sorted : {0, 1}) {
    OneNode g("Unique", 11);
    g.input(ints({40}, x)).attr("sorted", Attribute::of_int(sorted)).outputs(4);
    auto out = run_ok(g);
    ASSERT_EQ(out.size(), 4u);
    std::vector<int64_t> uniques;
    std::map<int64_t, int64_t> count, first;
    for (size_t i = 0; i < x.size(); ++i) {
      if (!count.count(x[i])) {
        uniques.push_back(x[i]);
        first[x[i]] = static_cast<int64_t>(i);
      }
      ++count[x[i]];
    }
    if (sorted) std::sort(uniques.begin(), uniques.end());
    EXPECT_EQ(values_of<int64_t>(out[0]), uniques);
    for (size_t u = 0; u < uniques.size(); ++u) {
      EXPECT_EQ(out[1].data<int64_t>()[u], first[uniques[u]]);
      EXPECT_EQ(out[3].data<int64_t>()[u], count[uniques[u]]);
    }
    for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(uniques[out[2].data<int64_t>()[i]], x[i]);
  }
}

TEST(TensorOps, NonZeroSizesItsOutputFromData) {
  auto x = random_ints(12, 22, 0, 2);
  OneNode g("NonZero", 13);
  g.input(ints({3, 4}, x));
  auto out = run_ok(g);
  ASSERT_EQ(out.size(), 1u);
  std::vector<int64_t> rows, cols;
  for (int i = 0; i < 12; ++i)
    if (x[i]) rows.push_back(i / 4), cols.push_back(i % 4);
  ASSERT_EQ(out[0].dims(), (Dims{2, static_cast<int64_t>(rows.size())}));
  rows.insert(rows.end(), cols.begin(), cols.end());
  EXPECT_EQ(values_of<int64_t>(out[0]), rows);
}

TEST(TensorOps, DropoutInferencePassesThroughWithTrueMask) {
  auto x = random_floats(6, 23);
  OneNode g("Dropout", 13);
  g.input(floats({2, 3}, x)).constant(floats({}, {0.3f})).constant(scalar_bool(false)).outputs(2);
  auto out = run_ok(g);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(values_of<float>(out[0]), x);
  ASSERT_EQ(out[1].dtype(), DataType::kBool);
  for (int i = 0; i < 6; ++i) EXPECT_TRUE(out[1].data<bool>()[i]);
}

TEST(TensorOps, DropoutTrainingModeIsUnimplemented) {
  OneNode g("Dropout", 13);
  g.input(floats({2}, {1, 2})).constant(floats({}, {0.5f})).input(scalar_bool(true));
  auto out = g.run();
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kUnimplemented);
}

TEST(TensorOps, RangeAndConstantOfShapeKnownWhileBuilding) {
  OneNode r("Range", 11);
  r.constant(ints({}, {10})).constant(ints({}, {1})).constant(ints({}, {-3}));
  auto engine = r.build();
  ASSERT_TRUE(engine.ok()) << engine.status().to_string();
  EXPECT_EQ((*engine)->outputs()[0].shape.known_dims(), (Dims{3}));
  OneNode r2("Range", 11);
  r2.constant(ints({}, {10})).constant(ints({}, {1})).constant(ints({}, {-3}));
  auto out = run_ok(r2);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(values_of<int64_t>(out[0]), (std::vector<int64_t>{10, 7, 4}));

  OneNode c("ConstantOfShape", 9);
  c.input(ints({2}, {2, 3}))
      .attr("value", Attribute::of_tensor(Tensor::from_vector<int32_t>(DataType::kInt32, {1}, {7})));
  out = run_ok(c);
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(out[0].dtype(), DataType::kInt32);
  EXPECT_EQ(values_of<int32_t>(out[0]), std::vector<int32_t>(6, 7));
}

TEST(TensorOps, DepthToSpaceRoundTripsThroughSpaceToDepth) {
  auto x = random_floats(1 * 8 * 2 * 3, 24);
  OneNode d("DepthToSpace", 13);
  d.input(floats({1, 8, 2, 3}, x)).attr("blocksize", Attribute::of_int(2)).attr("mode", Attribute::of_string("DCR"));
  auto out = run_ok(d);
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(out[0].dims(), (Dims{1, 2, 4, 6}));
  // DCR: y[0, c, h*b+i, w*b+j] = x[0, (i*b + j)*C' + c, h, w]
  for (int c = 0; c < 2; ++c)
    for (int h = 0; h < 2; ++h)
      for (int w = 0; w < 3; ++w)
        for (int i = 0; i < 2; ++i)
          for (int j = 0; j < 2; ++j)
            EXPECT_EQ(out[0].data<float>()[(c * 4 + h * 2 + i) * 6 + w * 2 + j],
                      x[(((i * 2 + j) * 2 + c) * 2 + h) * 3 + w]);
  OneNode s("SpaceToDepth", 13);
  s.input(out[0]).attr("blocksize", Attribute::of_int(2));
  auto back = run_ok(s);
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(values_of<float>(back[0]), x);
}

TEST(TensorOps, TriluOneHotAndCompress) {
  auto x = random_floats(12, 25);
  OneNode t("Trilu", 14);
  t.input(floats({3, 4}, x)).constant(ints({}, {1})).attr("upper", Attribute::of_int(0));
  auto out = run_ok(t);
  ASSERT_EQ(out.size(), 1u);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 4; ++j) EXPECT_EQ(out[0].data<float>()[i * 4 + j], j - i <= 1 ? x[i * 4 + j] : 0.f);

  OneNode o("OneHot", 11);
  o.input(ints({3}, {0, -1, 7}))
      .constant(ints({}, {3}))
      .constant(floats({2}, {-1.f, 2.f}))
      .attr("axis", Attribute::of_int(0));
  out = run_ok(o);
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(out[0].dims(), (Dims{3, 3}));
  EXPECT_EQ(values_of<float>(out[0]), (std::vector<float>{2, -1, -1, -1, -1, -1, -1, 2, -1}));

  OneNode c("Compress", 11);
  c.input(floats({3, 4}, x))
      .input(Tensor::from_vector<bool>(DataType::kBool, {3}, {true, false, true}))
      .attr("axis", Attribute::of_int(0));
  out = run_ok(c);
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(out[0].dims(), (Dims{2, 4}));
  std::vector<float> expected(x.begin(), x.begin() + 4);
  expected.insert(expected.end(), x.begin() + 8, x.end());
  EXPECT_EQ(values_of<float>(out[0]), expected);
}

TEST(TensorOps, ShapeWithStartEndAndSize) {
  OneNode g("Shape", 15);
  g.input(floats({2, 3, 4, 5}, random_floats(120, 26)))
      .attr("start", Attribute::of_int(1))
      .attr("end", Attribute::of_int(-1));
  auto out = run_ok(g);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(values_of<int64_t>(out[0]), (std::vector<int64_t>{3, 4}));
  OneNode s("Size", 13);
  s.input(floats({2, 3, 4, 5}, random_floats(120, 27)));
  out = run_ok(s);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].data<int64_t>()[0], 120);
}

TEST(TensorOps, ReverseSequenceAndEyeLike) {
  auto x = random_floats(4 * 2, 28);  // time 4, batch 2
  OneNode g("ReverseSequence", 10);
  g.input(floats({4, 2}, x)).input(ints({2}, {3, 1}));
  auto out = run_ok(g);
  ASSERT_EQ(out.size(), 1u);
  std::vector<float> expected{x[4], x[1], x[2], x[3], x[0], x[5], x[6], x[7]};
  EXPECT_EQ(values_of<float>(out[0]), expected);

  OneNode e("EyeLike", 9);
  e.input(floats({2, 3}, random_floats(6, 29))).attr("k", Attribute::of_int(1)).attr("dtype", Attribute::of_int(7));
  out = run_ok(e);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(values_of<int64_t>(out[0]), (std::vector<int64_t>{0, 1, 0, 0, 0, 1}));
}

TEST(TensorOps, PadReflectAndWrapBeyondTheExtent) {
  auto x = random_floats(3, 30);
  for (std::string mode : {"reflect", "wrap"}) {
    OneNode g("Pad", 13);
    g.input(floats({3}, x)).constant(ints({2}, {5, 4})).attr("mode", Attribute::of_string(mode));
    auto out = run_ok(g);
    ASSERT_EQ(out.size(), 1u);
    ASSERT_EQ(out[0].dims(), (Dims{12}));
    for (int64_t i = 0; i < 12; ++i)
      EXPECT_EQ(out[0].data<float>()[i], x[reference_pad_index(i - 5, 3, mode)]) << mode << i;
  }
}

TEST(TensorOps, UniqueAlongAnAxis) {
  // Columns 0 and 2 are equal; sorted order compares columns lexicographically.
  std::vector<int64_t> x{3, 1, 3, 0, 2, 5, 2, 9};
  OneNode g("Unique", 11);
  g.input(ints({2, 4}, x)).attr("axis", Attribute::of_int(1)).outputs(4);
  auto out = run_ok(g);
  ASSERT_EQ(out.size(), 4u);
  ASSERT_EQ(out[0].dims(), (Dims{2, 3}));
  EXPECT_EQ(values_of<int64_t>(out[0]), (std::vector<int64_t>{0, 1, 3, 9, 5, 2}));
  EXPECT_EQ(values_of<int64_t>(out[1]), (std::vector<int64_t>{3, 1, 0}));
  EXPECT_EQ(values_of<int64_t>(out[2]), (std::vector<int64_t>{2, 1, 2, 0}));
  EXPECT_EQ(values_of<int64_t>(out[3]), (std::vector<int64_t>{1, 1, 2}));
}

TEST(TensorOps, SqueezeFlattenAndGatherElements) {
  auto x = random_floats(6, 31);
  OneNode s("Squeeze", 13);
  s.input(floats({1, 2, 1, 3}, x));
  auto out = run_ok(s);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].dims(), (Dims{2, 3}));
  OneNode f("Flatten", 13);
  f.input(floats({1, 2, 1, 3}, x)).attr("axis", Attribute::of_int(-1));
  out = run_ok(f);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].dims(), (Dims{2, 3}));
  OneNode g("GatherElements", 13);
  g.input(floats({2, 3}, x)).input(ints({2, 2}, {-1, 0, 1, 1})).attr("axis", Attribute::of_int(1));
  out = run_ok(g);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(values_of<float>(out[0]), (std::vector<float>{x[2], x[0], x[4], x[4]}));
}

TEST(TensorOps, ReshapeInfersMinusOneWithUnknownBatch) {
  auto graph = std::make_unique<Graph>();
  graph->opsets[""] = 14;
  Value* x = graph->value("x");
  x->dtype = DataType::kFloat32;
  x->shape = Shape({Dim::symbolic("batch"), Dim::known(3), Dim::known(4), Dim::known(5)});
  graph->inputs().push_back(x);
  Value* shape = graph->value("shape");
  shape->dtype = DataType::kInt64;
  shape->constant = ints({2}, {0, -1});
  shape->shape = Shape::from_dims({2});
  Value* y = graph->value("y");
  auto node = std::make_unique<Node>();
  node->name = "reshape";
  node->op_type = "Reshape";
  node->opset = 14;
  node->inputs = {x, shape};
  node->outputs = {y};
  graph->add_node(std::move(node));
  graph->outputs().push_back(y);
  auto engine = Builder::build(std::move(graph));
  ASSERT_TRUE(engine.ok()) << engine.status().to_string();
  const Shape& out = (*engine)->outputs()[0].shape;
  ASSERT_EQ(out.rank(), 2u);
  EXPECT_EQ(out[1].value, 60);
  EXPECT_FALSE(out[0].is_known());
  auto context = (*engine)->create_context();
  ASSERT_TRUE(context.ok());
  auto x_value = random_floats(2 * 60, 32);
  auto result = (*context)->execute({{"x", floats({2, 3, 4, 5}, x_value)}});
  ASSERT_TRUE(result.ok()) << result.status().to_string();
  EXPECT_EQ((*result)[0].dims(), (Dims{2, 60}));
  EXPECT_EQ(values_of<float>((*result)[0]), x_value);
}

TEST(TensorOps, LargeTransposeUsesTilesCorrectly) {
  // Extents that are not multiples of the tile size, float and strings.
  const int64_t b = 3, r = 70, c = 45;
  auto x = random_floats(b * r * c, 33);
  OneNode g("Transpose", 13);
  g.input(floats({b, r, c}, x)).attr("perm", Attribute::of_ints({2, 0, 1}));
  auto out = run_ok(g);
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(out[0].dims(), (Dims{c, b, r}));
  for (int64_t k = 0; k < c; ++k)
    for (int64_t i = 0; i < b; ++i)
      for (int64_t j = 0; j < r; ++j) ASSERT_EQ(out[0].data<float>()[(k * b + i) * r + j], x[(i * r + j) * c + k]);

  std::vector<std::string> s;
  for (int64_t i = 0; i < r * c; ++i) s.push_back(std::to_string(i));
  OneNode t("Transpose", 13);
  t.input(Tensor::strings({r, c}, s));
  out = run_ok(t);
  ASSERT_EQ(out.size(), 1u);
  for (int64_t k = 0; k < c; ++k)
    for (int64_t j = 0; j < r; ++j) ASSERT_EQ(out[0].string_data()[k * r + j], s[j * c + k]);
}

TEST(TensorOps, SpaceToDepthInvertsDepthToSpaceInBothModes) {
  auto x = random_floats(2 * 12 * 2 * 3, 34);
  for (std::string mode : {"DCR", "CRD"}) {
    OneNode d("DepthToSpace", 13);
    d.input(floats({2, 12, 2, 3}, x)).attr("blocksize", Attribute::of_int(2)).attr("mode", Attribute::of_string(mode));
    auto out = run_ok(d);
    ASSERT_EQ(out.size(), 1u);
    ASSERT_EQ(out[0].dims(), (Dims{2, 3, 4, 6}));
    OneNode s("SpaceToDepth", 22);
    s.input(out[0]).attr("blocksize", Attribute::of_int(2)).attr("mode", Attribute::of_string(mode));
    auto back = run_ok(s);
    ASSERT_EQ(back.size(), 1u);
    EXPECT_EQ(values_of<float>(back[0]), x) << mode;
  }
}

}  // namespace
}  // namespace kiln
