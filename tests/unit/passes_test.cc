// Each pass is checked numerically: the optimised graph must compute what the
// original computed on random inputs.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "graph_test_util.h"
#include "ir/pointwise_program.h"
#include "ir/shape_inference.h"
#include "kiln/builder.h"
#include "passes/passes.h"

namespace kiln {
namespace {

using testing::GraphMaker;
using testing::count_ops;
using testing::random_tensor;

std::vector<Tensor> run(std::unique_ptr<Graph> g, const TensorMap& inputs, bool optimize) {
  BuildConfig config;
  config.optimize = optimize;
  auto engine = Builder::build(std::move(g), config);
  EXPECT_TRUE(engine.ok()) << engine.status().to_string();
  if (!engine.ok()) return {};
  auto context = (*engine)->create_context();
  EXPECT_TRUE(context.ok());
  auto out = (*context)->execute(inputs);
  EXPECT_TRUE(out.ok()) << out.status().to_string();
  return out.ok() ? *out : std::vector<Tensor>{};
}

void expect_close(const Tensor& a, const Tensor& b, double tol) {
  ASSERT_EQ(a.dims(), b.dims());
  for (int64_t i = 0; i < a.element_count(); ++i) {
    if (std::isnan(a.data<float>()[i]) && std::isnan(b.data<float>()[i])) continue;  // a softmax row fully masked
    ASSERT_NEAR(a.data<float>()[i], b.data<float>()[i], tol * (1 + std::fabs(b.data<float>()[i]))) << "at " << i;
  }
}

// Builds the same graph twice (the passes mutate it) and compares optimised with plain execution.
template <typename MakeFn>
void check_equivalent(MakeFn make, const TensorMap& inputs, double tol, std::unique_ptr<Graph>* optimized = nullptr) {
  GraphMaker reference_maker, optimized_maker;
  make(reference_maker);
  make(optimized_maker);
  auto expected = run(reference_maker.take(), inputs, false);
  if (optimized) {
    auto g = optimized_maker.take();
    ASSERT_TRUE(infer_graph_shapes(*g).ok());
    ASSERT_TRUE(run_default_passes(*g).ok());
    *optimized = g->clone();
    auto actual = run(std::move(g), inputs, false);
    ASSERT_EQ(actual.size(), expected.size());
    for (size_t i = 0; i < actual.size(); ++i) expect_close(actual[i], expected[i], tol);
    return;
  }
  auto actual = run(optimized_maker.take(), inputs, true);
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) expect_close(actual[i], expected[i], tol);
}

using testing::ints;

TEST(PointwiseProgram, StoresAndLoads) {
  PointwiseProgram p;
  p.constants = {0.5f};
  p.code.push_back({PointwiseOp::kSigmoid, 0, 0, 0, 0});
  p.code.push_back({PointwiseOp::kMul, 0, 1, 0, 0});
  p.code.push_back({PointwiseOp::kMul, 2, -1, 0, 0});
  Node n;
  n.name = "n";
  p.store(n);
  auto loaded = PointwiseProgram::load(n);
  ASSERT_TRUE(loaded.ok());
  EXPECT_NEAR(loaded->evaluate(2.0), 0.5 * 2.0 / (1 + std::exp(-2.0)), 1e-12);
  n.attributes["pw_code"] = Attribute::of_ints({static_cast<int64_t>(PointwiseOp::kMul), 0, 7});
  n.attributes["pw_params"] = Attribute::of_floats({0, 0});
  EXPECT_FALSE(PointwiseProgram::load(n).ok());
}

TEST(Passes, FoldConstantsEvaluatesConstantSubgraphs) {
  auto make = [](GraphMaker& m) {
    Value* x = m.input("x", {2, 3});
    Value* a = m.constant("a", random_tensor({2, 3}, 1));
    Value* b = m.constant("b", random_tensor({2, 3}, 2));
    Value* ab = m.node("Mul", {a, b}, "ab");
    m.output(m.node("Add", {x, ab}, "y"));
  };
  std::unique_ptr<Graph> optimized;
  check_equivalent(make, {{"x", random_tensor({2, 3}, 3)}}, 1e-6, &optimized);
  EXPECT_EQ(count_ops(*optimized, "Mul"), 0);
}

TEST(Passes, RemovesIdentityDropoutAndSameTypeCast) {
  auto make = [](GraphMaker& m) {
    Value* x = m.input("x", {4, 5});
    Value* i = m.node("Identity", {x}, "i");
    Value* d = m.node("Dropout", {i}, "d");
    Value* c = m.node("Cast", {d}, "c", {{"to", Attribute::of_int(1)}});
    m.output(m.node("Relu", {c}, "y"));
  };
  std::unique_ptr<Graph> optimized;
  check_equivalent(make, {{"x", random_tensor({4, 5}, 4)}}, 0, &optimized);
  EXPECT_EQ(count_ops(*optimized, "Identity") + count_ops(*optimized, "Dropout") + count_ops(*optimized, "Cast"), 0);
}

TEST(Passes, FoldsBatchNormIntoConvAndFusesRelu) {
  auto make = [](GraphMaker& m) {
    Value* x = m.input("x", {2, 3, 8, 8});
    Value* w = m.constant("w", random_tensor({4, 3, 3, 3}, 5));
    Value* b = m.constant("b", random_tensor({4}, 6));
    Value* conv = m.node("Conv", {x, w, b}, "conv", {{"pads", ints({1, 1, 1, 1})}});
    Value* bn = m.node("BatchNormalization",
                       {conv, m.constant("g", random_tensor({4}, 7, 0.5f, 1.5f)), m.constant("be", random_tensor({4}, 8)),
                        m.constant("mu", random_tensor({4}, 9)), m.constant("var", random_tensor({4}, 10, 0.5f, 2.f))},
                       "bn");
    m.output(m.node("Relu", {bn}, "y"));
  };
  std::unique_ptr<Graph> optimized;
  check_equivalent(make, {{"x", random_tensor({2, 3, 8, 8}, 11)}}, 1e-4, &optimized);
  EXPECT_EQ(optimized->nodes().size(), 1u);
  EXPECT_EQ(count_ops(*optimized, "FusedConv"), 1);
}

TEST(Passes, FusesResidualAddIntoConv) {
  auto make = [](GraphMaker& m) {
    Value* x = m.input("x", {1, 4, 6, 6});
    Value* w = m.constant("w", random_tensor({4, 4, 1, 1}, 20));
    Value* skip = m.node("Sigmoid", {x}, "skip");
    Value* conv = m.node("Conv", {x, w}, "conv");
    Value* sum = m.node("Add", {skip, conv}, "sum");
    m.output(m.node("Relu", {sum}, "y"));
  };
  std::unique_ptr<Graph> optimized;
  check_equivalent(make, {{"x", random_tensor({1, 4, 6, 6}, 21)}}, 1e-5, &optimized);
  EXPECT_EQ(count_ops(*optimized, "FusedConv"), 1);
  EXPECT_EQ(count_ops(*optimized, "Add") + count_ops(*optimized, "Relu"), 0);
}

TEST(Passes, ResidualThatBroadcastsStillComputesTheSame) {
  auto make = [](GraphMaker& m) {
    Value* x = m.input("x", {2, 3, 5, 5});
    Value* z = m.input("z", {1, 3, 1, 5});
    Value* w = m.constant("w", random_tensor({3, 3, 3, 3}, 22));
    Value* conv = m.node("Conv", {x, w}, "conv", {{"pads", ints({1, 1, 1, 1})}});
    m.output(m.node("Add", {conv, z}, "y"));
  };
  check_equivalent(make, {{"x", random_tensor({2, 3, 5, 5}, 23)}, {"z", random_tensor({1, 3, 1, 5}, 24)}}, 1e-5);
}

TEST(Passes, FusesSiluAndGeluTailsIntoMatMulWithBias) {
  auto make = [](GraphMaker& m) {
    Value* x = m.input("x", {3, 16});
    Value* w = m.constant("w", random_tensor({16, 8}, 12));
    Value* mm = m.node("MatMul", {x, w}, "mm");
    Value* biased = m.node("Add", {mm, m.constant("bias", random_tensor({8}, 13))}, "biased");
    // GELU, Erf form as exported by PyTorch.
    Value* div = m.node("Div", {biased, m.scalar("sqrt2", 1.4142135f)}, "div");
    Value* erf = m.node("Erf", {div}, "erf");
    Value* add1 = m.node("Add", {erf, m.scalar("one", 1.f)}, "add1");
    Value* mul = m.node("Mul", {biased, add1}, "mul");
    Value* gelu = m.node("Mul", {mul, m.scalar("half", 0.5f)}, "gelu");
    // SiLU on a Gemm.
    Value* w2 = m.constant("w2", random_tensor({8, 4}, 14));
    Value* gemm = m.node("Gemm", {gelu, w2}, "gemm");
    Value* sig = m.node("Sigmoid", {gemm}, "sig");
    m.output(m.node("Mul", {gemm, sig}, "y"));
  };
  std::unique_ptr<Graph> optimized;
  check_equivalent(make, {{"x", random_tensor({3, 16}, 15)}}, 1e-5, &optimized);
  EXPECT_EQ(optimized->nodes().size(), 2u);
  EXPECT_EQ(count_ops(*optimized, "FusedMatMul"), 1);
  EXPECT_EQ(count_ops(*optimized, "FusedGemm"), 1);
}

TEST(Passes, KeepsTailWhoseIntermediateIsReadElsewhere) {
  auto make = [](GraphMaker& m) {
    Value* x = m.input("x", {2, 8});
    Value* w = m.constant("w", random_tensor({8, 8}, 16));
    Value* mm = m.node("MatMul", {x, w}, "mm");
    Value* r = m.node("Relu", {mm}, "r");
    m.output(r);
    m.output(mm);  // the MatMul result itself is a graph output: no fusion into it
  };
  std::unique_ptr<Graph> optimized;
  check_equivalent(make, {{"x", random_tensor({2, 8}, 17)}}, 1e-6, &optimized);
  EXPECT_EQ(count_ops(*optimized, "Relu"), 1);
}

TEST(Passes, FusesPointwiseChainsAndHardSwish) {
  auto make = [](GraphMaker& m) {
    Value* x = m.input("x", {5, 7});
    Value* a = m.node("Mul", {x, m.scalar("k", 3.f)}, "a");
    Value* b = m.node("HardSigmoid", {a}, "b", {{"alpha", Attribute::of_float(1.0 / 6)}, {"beta", Attribute::of_float(0.5)}});
    Value* c = m.node("Mul", {a, b}, "c");
    Value* d = m.node("Clip", {c, m.scalar("lo", -0.5f), m.scalar("hi", 2.f)}, "d");
    m.output(m.node("Tanh", {d}, "y"));
  };
  std::unique_ptr<Graph> optimized;
  check_equivalent(make, {{"x", random_tensor({5, 7}, 18, -3, 3)}}, 1e-6, &optimized);
  EXPECT_EQ(optimized->nodes().size(), 1u);
  EXPECT_EQ(count_ops(*optimized, "PointwiseChain"), 1);
}

TEST(Passes, FusesBiasAndResidualAddsIntoMatMul) {
  auto make = [](GraphMaker& m) {
    Value* x = m.input("x", {2, 4, 8});
    Value* w = m.constant("w", random_tensor({8, 8}, 40));
    Value* b = m.constant("b", random_tensor({8}, 41));
    Value* skip = m.node("Sigmoid", {x}, "skip");
    Value* mm = m.node("MatMul", {x, w}, "mm");
    Value* biased = m.node("Add", {b, mm}, "biased");
    Value* sum = m.node("Add", {skip, biased}, "sum");
    m.output(m.node("Tanh", {sum}, "y"));
  };
  std::unique_ptr<Graph> optimized;
  check_equivalent(make, {{"x", random_tensor({2, 4, 8}, 42)}}, 1e-5, &optimized);
  EXPECT_EQ(count_ops(*optimized, "FusedMatMul"), 1);
  EXPECT_EQ(count_ops(*optimized, "Add") + count_ops(*optimized, "Tanh"), 0);
}

TEST(Passes, ResidualWithAnotherBatchSymbolIsFusedIntoMatMul) {
  // Exporters name one batch axis differently along a residual path.
  auto make = [](GraphMaker& m) {
    Value* x = m.input("x", {2, 4, 8});
    x->shape = Shape({Dim::symbolic("batch"), Dim::known(4), Dim::known(8)});
    Value* z = m.input("z", {2, 4, 8});
    z->shape = Shape({Dim::symbolic("unk__1"), Dim::known(4), Dim::known(8)});
    Value* w = m.constant("w", random_tensor({8, 8}, 46));
    m.output(m.node("Add", {m.node("MatMul", {x, w}, "mm"), z}, "y"));
  };
  std::unique_ptr<Graph> optimized;
  check_equivalent(make, {{"x", random_tensor({2, 4, 8}, 47)}, {"z", random_tensor({2, 4, 8}, 48)}}, 1e-5, &optimized);
  EXPECT_EQ(count_ops(*optimized, "FusedMatMul"), 1);
  EXPECT_EQ(count_ops(*optimized, "Add"), 0);
}

// The fusion accepts axes it cannot compare; at run time a residual may still
// be larger than the product (batch 4 against a product of batch 1), and the
// fused node then computes what the Add did: the broadcast sum.
TEST(Passes, ResidualLargerThanTheProductGivesTheBroadcastSum) {
  auto matmul = [](GraphMaker& m) {
    Value* x = m.input("x", {1, 4, 8});
    x->shape = Shape({Dim::symbolic("a"), Dim::known(4), Dim::known(8)});
    Value* z = m.input("z", {4, 4, 8});
    z->shape = Shape({Dim::symbolic("b"), Dim::known(4), Dim::known(8)});
    Value* w = m.constant("w", random_tensor({8, 8}, 50));
    m.output(m.node("Relu", {m.node("Add", {m.node("MatMul", {x, w}, "mm"), z}, "sum")}, "y"));
  };
  std::unique_ptr<Graph> optimized;
  check_equivalent(matmul, {{"x", random_tensor({1, 4, 8}, 51)}, {"z", random_tensor({4, 4, 8}, 52)}}, 1e-5,
                   &optimized);
  EXPECT_EQ(count_ops(*optimized, "FusedMatMul"), 1);
  auto conv = [](GraphMaker& m) {
    Value* x = m.input("x", {1, 3, 6, 6});
    x->shape = Shape({Dim::symbolic("a"), Dim::known(3), Dim::known(6), Dim::known(6)});
    Value* z = m.input("z", {3, 4, 6, 6});
    z->shape = Shape({Dim::symbolic("b"), Dim::known(4), Dim::known(6), Dim::known(6)});
    Value* c = m.node("Conv", {x, m.constant("w", random_tensor({4, 3, 3, 3}, 53))}, "conv",
                      {{"pads", Attribute::of_ints({1, 1, 1, 1})}});
    m.output(m.node("Relu", {m.node("Add", {c, z}, "sum")}, "y"));
  };
  check_equivalent(conv, {{"x", random_tensor({1, 3, 6, 6}, 54)}, {"z", random_tensor({3, 4, 6, 6}, 55)}}, 1e-5,
                   &optimized);
  EXPECT_EQ(count_ops(*optimized, "FusedConv"), 1);
}

TEST(Passes, ResidualThatBroadcastsStaysOutOfMatMul) {
  auto make = [](GraphMaker& m) {
    Value* x = m.input("x", {2, 4, 8});
    Value* z = m.input("z", {4, 8});
    Value* w = m.constant("w", random_tensor({8, 8}, 43));
    m.output(m.node("Add", {m.node("MatMul", {x, w}, "mm"), z}, "y"));
  };
  std::unique_ptr<Graph> optimized;
  check_equivalent(make, {{"x", random_tensor({2, 4, 8}, 44)}, {"z", random_tensor({4, 8}, 45)}}, 1e-5, &optimized);
  EXPECT_EQ(count_ops(*optimized, "Add"), 1);
}

TEST(Passes, FoldsScalarScaleThroughLayoutOpsIntoMatMulWeights) {
  // The query path of exported attention: MatMul + bias, split heads, scale.
  auto make = [](GraphMaker& m) {
    Value* x = m.input("x", {2, 4, 8});
    Value* w = m.constant("w", random_tensor({8, 8}, 50));
    Value* b = m.constant("b", random_tensor({8}, 51));
    Value* q = m.node("Add", {m.node("MatMul", {x, w}, "mm"), b}, "q");
    Value* heads = m.node("Reshape", {q, m.constant("split", Tensor::from_vector<int64_t>(DataType::kInt64, {4},
                                                                                          {2, 4, 2, 4}))},
                          "heads");
    Value* t = m.node("Transpose", {heads}, "t", {{"perm", ints({0, 2, 1, 3})}});
    Value* scaled = m.node("Mul", {t, m.scalar("scale", 0.3535534f)}, "scaled");
    m.output(m.node("Transpose", {scaled}, "y", {{"perm", ints({0, 2, 1, 3})}}));
  };
  std::unique_ptr<Graph> optimized;
  check_equivalent(make, {{"x", random_tensor({2, 4, 8}, 52)}}, 1e-5, &optimized);
  EXPECT_EQ(count_ops(*optimized, "Mul"), 0);
}

TEST(Passes, KeepsScaleWhenTheProductIsReadElsewhere) {
  auto make = [](GraphMaker& m) {
    Value* x = m.input("x", {2, 8});
    Value* mm = m.node("MatMul", {x, m.constant("w", random_tensor({8, 8}, 53))}, "mm");
    m.output(m.node("Mul", {mm, m.scalar("scale", 0.5f)}, "y"));
    m.output(m.node("Relu", {mm}, "r"));
  };
  std::unique_ptr<Graph> optimized;
  check_equivalent(make, {{"x", random_tensor({2, 8}, 54)}}, 1e-5, &optimized);
  EXPECT_EQ(count_ops(*optimized, "Mul"), 1);
}

// The exported attention softmax: Add(scores, mask) -> Softmax -> Where(IsNaN(p), 0, p),
// with a fully masked batch so that the guard has NaN rows to clear.
void make_attention_softmax(GraphMaker& m, const Dims& scores, const Dims& mask) {
  Value* x = m.input("x", scores);
  Value* b = m.input("mask", mask);
  Value* sum = m.node("Add", {b, x}, "sum");
  Value* p = m.node("Softmax", {sum}, "p", {{"axis", Attribute::of_int(-1)}});
  Value* nan = m.node("IsNaN", {p}, "nan");
  m.output(m.node("Where", {nan, m.scalar("zero", 0.f), p}, "y"));
}

TensorMap attention_inputs(const Dims& scores, const Dims& mask) {
  Tensor b = random_tensor(mask, 31, -2.f, 0.f);
  for (int64_t i = 0; i < b.element_count() / mask[0]; ++i) b.data<float>()[i] = -INFINITY;
  return {{"x", random_tensor(scores, 30, -3.f, 3.f)}, {"mask", b}};
}

TEST(Passes, FusesAttentionSoftmaxWithMaskAndNanGuard) {
  const Dims scores = {2, 3, 4, 8}, mask = {2, 1, 1, 8};
  std::unique_ptr<Graph> optimized;
  check_equivalent([&](GraphMaker& m) { make_attention_softmax(m, scores, mask); }, attention_inputs(scores, mask),
                   1e-6, &optimized);
  EXPECT_EQ(count_ops(*optimized, "MaskedSoftmax"), 1);
  EXPECT_EQ(count_ops(*optimized, "Add") + count_ops(*optimized, "Softmax") + count_ops(*optimized, "IsNaN") +
                count_ops(*optimized, "Where"),
            0);
}

TEST(Passes, AttentionSoftmaxTakesAnAddThatBroadcastsBothOperands) {
  // [2,1,4,8] + [1,3,4,8]: neither operand has the sum's shape.
  const Dims scores = {2, 1, 4, 8}, mask = {1, 3, 4, 8};
  std::unique_ptr<Graph> optimized;
  TensorMap inputs = {{"x", random_tensor(scores, 32)}, {"mask", random_tensor(mask, 33)}};
  check_equivalent([&](GraphMaker& m) { make_attention_softmax(m, scores, mask); }, inputs, 1e-6, &optimized);
  EXPECT_EQ(count_ops(*optimized, "MaskedSoftmax"), 1);
  EXPECT_EQ(count_ops(*optimized, "Add") + count_ops(*optimized, "IsNaN") + count_ops(*optimized, "Where"), 0);
}

// The attention block of an exported encoder on [B, S, H*D] projections:
// Reshape to [B, S, H, D], head transposes, scaled score product, boolean
// padding mask turned additive, masked softmax with the NaN guard, product
// with V, transpose back and Reshape to [B, S, H*D].
struct AttentionShape {
  int64_t batch, seq, heads, head;
};

// Other exporters: the scores divided by sqrt(d) after the product instead of
// Q and K scaled before it, and K transposed in two steps.
struct AttentionForm {
  bool scale_after_product = false;
  bool key_in_two_transposes = false;
};

void make_attention_block(GraphMaker& m, const AttentionShape& a, bool projections, bool with_mask,
                          AttentionForm form = {}) {
  const int64_t hidden = a.heads * a.head;
  Value* split = m.constant("split", Tensor::from_vector<int64_t>(DataType::kInt64, {4}, {a.batch, a.seq, a.heads, a.head}));
  Value* merged = m.constant("merged", Tensor::from_vector<int64_t>(DataType::kInt64, {3}, {a.batch, a.seq, hidden}));
  auto heads = [&](const std::string& name, uint32_t seed) {
    if (!projections) return m.input(name, {a.batch, a.seq, a.heads, a.head});
    Value* x = m.graph().find_value("x") ? m.graph().find_value("x") : m.input("x", {a.batch, a.seq, hidden});
    Value* y = m.node("MatMul", {x, m.constant(name + "_w", random_tensor({hidden, hidden}, seed, -0.3f, 0.3f))},
                      name + "_proj");
    return m.node("Reshape", {y, split}, name + "4");
  };
  Value* q = heads("q", 81);
  Value* k = heads("k", 82);
  Value* v = heads("v", 83);
  const float root = 1.f / std::sqrt(std::sqrt(static_cast<float>(a.head)));
  Value* qt = m.node("Transpose", {q}, "qt", {{"perm", ints({0, 2, 1, 3})}});
  Value* kt = form.key_in_two_transposes
                  ? m.node("Transpose", {m.node("Transpose", {k}, "kh", {{"perm", ints({0, 2, 1, 3})}})}, "kt",
                           {{"perm", ints({0, 1, 3, 2})}})
                  : m.node("Transpose", {k}, "kt", {{"perm", ints({0, 2, 3, 1})}});
  if (!form.scale_after_product) {
    qt = m.node("Mul", {qt, m.scalar("qs", root)}, "qts");
    kt = m.node("Mul", {m.scalar("ks", root), kt}, "kts");
  }
  Value* vt = m.node("Transpose", {v}, "vt", {{"perm", ints({0, 2, 1, 3})}});
  Value* scores = m.node("MatMul", {qt, kt}, "scores");
  if (form.scale_after_product) {
    scores = m.node("Div", {scores, m.scalar("root_d", std::sqrt(static_cast<float>(a.head)))}, "scaled");
  }
  Value* p = nullptr;
  if (with_mask) {
    Value* keep = m.input("keep", {a.batch, 1, 1, a.seq}, DataType::kBool);
    Value* additive = m.node("Where", {keep, m.scalar("open", 0.f), m.scalar("shut", -INFINITY)}, "additive");
    Value* sm = m.node("Softmax", {m.node("Add", {scores, additive}, "masked")}, "p", {{"axis", Attribute::of_int(-1)}});
    p = m.node("Where", {m.node("IsNaN", {sm}, "nan"), m.scalar("zero", 0.f), sm}, "guarded");
  } else {
    p = m.node("Softmax", {scores}, "p", {{"axis", Attribute::of_int(-1)}});
  }
  Value* o = m.node("Transpose", {m.node("MatMul", {p, vt}, "o")}, "ot", {{"perm", ints({0, 2, 1, 3})}});
  m.output(m.node("Reshape", {o, merged}, "y"));
}

TensorMap attention_block_inputs(const AttentionShape& a, bool projections, bool with_mask) {
  TensorMap inputs;
  if (projections) {
    inputs["x"] = random_tensor({a.batch, a.seq, a.heads * a.head}, 84);
  } else {
    for (const char* name : {"q", "k", "v"}) inputs[name] = random_tensor({a.batch, a.seq, a.heads, a.head}, 85 + name[0]);
  }
  if (with_mask) {
    // The first batch row keeps 3 positions, the last none (its output is 0 through the guard).
    Tensor keep = Tensor::zeros(DataType::kBool, {a.batch, 1, 1, a.seq});
    for (int64_t b = 0; b < a.batch; ++b) {
      for (int64_t s = 0; s < a.seq; ++s) keep.data<bool>()[b * a.seq + s] = b + 1 < a.batch && (b > 0 || s < 3);
    }
    inputs["keep"] = std::move(keep);
  }
  return inputs;
}

TEST(Passes, FusesExportedAttentionIntoOneNode) {
  const AttentionShape a{3, 7, 2, 8};
  for (bool projections : {false, true}) {
    std::unique_ptr<Graph> optimized;
    check_equivalent([&](GraphMaker& m) { make_attention_block(m, a, projections, true); },
                     attention_block_inputs(a, projections, true), 1e-5, &optimized);
    EXPECT_EQ(count_ops(*optimized, "Attention"), 1) << "projections " << projections;
    EXPECT_EQ(count_ops(*optimized, "Transpose") + count_ops(*optimized, "Softmax") +
                  count_ops(*optimized, "MaskedSoftmax") + count_ops(*optimized, "IsNaN"),
              0);
    for (const auto& n : optimized->nodes()) {
      if (n->op_type != "Attention") continue;
      // The scalar Muls are either the node's scale or folded into the projection weights.
      const double expected = projections ? 1.0 : 1.0 / std::sqrt(8.0);
      EXPECT_NEAR(n->attr_float("scale", 1.0), expected, 1e-6);
      EXPECT_EQ(n->attr_int("nan_to_zero", 0), 1);
      EXPECT_EQ(n->inputs.size(), 4u);
    }
  }
}

TEST(Passes, FusesAttentionScaledAfterTheProductWithKeyTransposedTwice) {
  const AttentionShape a{2, 6, 2, 8};
  for (bool projections : {false, true}) {
    std::unique_ptr<Graph> optimized;
    check_equivalent([&](GraphMaker& m) { make_attention_block(m, a, projections, true, {true, true}); },
                     attention_block_inputs(a, projections, true), 1e-5, &optimized);
    EXPECT_EQ(count_ops(*optimized, "Attention"), 1) << "projections " << projections;
    EXPECT_EQ(count_ops(*optimized, "Transpose") + count_ops(*optimized, "Div"), 0);
    for (const auto& n : optimized->nodes()) {
      if (n->op_type == "Attention") EXPECT_NEAR(n->attr_float("scale", 1.0), 1.0 / std::sqrt(8.0), 1e-6);
    }
  }
}

TEST(Passes, FusesUnmaskedAttention) {
  const AttentionShape a{2, 5, 3, 4};
  std::unique_ptr<Graph> optimized;
  check_equivalent([&](GraphMaker& m) { make_attention_block(m, a, false, false); },
                   attention_block_inputs(a, false, false), 1e-5, &optimized);
  EXPECT_EQ(count_ops(*optimized, "Attention"), 1);
  EXPECT_EQ(count_ops(*optimized, "Softmax") + count_ops(*optimized, "Transpose"), 0);
}

TEST(Passes, KeepsAttentionWhoseScoresAreReadElsewhere) {
  const AttentionShape a{2, 5, 3, 4};
  std::unique_ptr<Graph> optimized;
  check_equivalent(
      [&](GraphMaker& m) {
        make_attention_block(m, a, false, true);
        m.output(m.graph().find_value("p"));  // the probabilities are also a graph output
      },
      attention_block_inputs(a, false, true), 1e-5, &optimized);
  EXPECT_EQ(count_ops(*optimized, "Attention"), 0);
  EXPECT_EQ(count_ops(*optimized, "MatMul"), 2);
}

// torch.export's transpose(-2, -1) of a 4-D tensor: merge the leading axes,
// swap the last two, split the leading axes again, with every extent read
// back from the input's shape.
void make_reshaped_transpose(GraphMaker& m, const Dims& dims, bool swap_back, bool symbolic_batch = true) {
  Value* x = m.input("x", dims);
  if (symbolic_batch) {
    x->shape = Shape({Dim::symbolic("batch"), Dim::known(dims[1]), Dim::known(dims[2]), Dim::known(dims[3])});
  }
  Value* shape = m.node("Shape", {x}, "shape");
  shape->dtype = DataType::kInt64;
  auto slice = [&](const std::string& name, int64_t start, int64_t end) {
    Value* s = m.node("Slice", {shape, m.constant(name + "_s", Tensor::from_vector<int64_t>(DataType::kInt64, {1}, {start})),
                                m.constant(name + "_e", Tensor::from_vector<int64_t>(DataType::kInt64, {1}, {end}))},
                      name);
    s->dtype = DataType::kInt64;
    return s;
  };
  Value* lead = slice("lead", std::numeric_limits<int64_t>::min(), -2);
  Value* rows = slice("rows", -2, -1);
  Value* cols = slice("cols", -1, std::numeric_limits<int64_t>::max());
  Value* minus_one = m.constant("minus_one", Tensor::from_vector<int64_t>(DataType::kInt64, {1}, {-1}));
  Value* inner = m.node("Concat", {minus_one, rows, cols}, "inner", {{"axis", Attribute::of_int(0)}});
  inner->dtype = DataType::kInt64;
  Value* outer = swap_back ? m.node("Concat", {lead, cols, rows}, "outer", {{"axis", Attribute::of_int(0)}})
                           : m.node("Concat", {lead, rows, cols}, "outer", {{"axis", Attribute::of_int(0)}});
  outer->dtype = DataType::kInt64;
  Value* merged = m.node("Reshape", {x, inner}, "merged");
  Value* swapped = m.node("Transpose", {merged}, "swapped", {{"perm", ints({0, 2, 1})}});
  m.output(m.node("Relu", {m.node("Reshape", {swapped, outer}, "split")}, "y"));
}

TEST(Passes, FoldsReshapedTransposeOfTheLastTwoAxes) {
  const Dims dims = {2, 3, 4, 5};
  // A symbolic batch keeps the shape arithmetic; a static shape has it folded
  // to constants first.
  for (bool symbolic : {true, false}) {
    std::unique_ptr<Graph> optimized;
    check_equivalent([&](GraphMaker& m) { make_reshaped_transpose(m, dims, true, symbolic); },
                     {{"x", random_tensor(dims, 90)}}, 1e-6, &optimized);
    EXPECT_EQ(count_ops(*optimized, "Reshape") + count_ops(*optimized, "Shape") + count_ops(*optimized, "Slice") +
                  count_ops(*optimized, "Concat"),
              0)
        << "symbolic batch " << symbolic;
    ASSERT_EQ(count_ops(*optimized, "Transpose"), 1);
    for (const auto& n : optimized->nodes()) {
      if (n->op_type == "Transpose") EXPECT_EQ(n->attr_ints("perm"), (std::vector<int64_t>{0, 1, 3, 2}));
    }
  }
}

TEST(Passes, KeepsReshapesThatDoNotSwapBack) {
  // The split restores rows then columns: the result is [.., cols, rows] data
  // read as [.., rows, cols], not a transpose.
  const Dims dims = {2, 3, 4, 5};
  std::unique_ptr<Graph> optimized;
  check_equivalent([&](GraphMaker& m) { make_reshaped_transpose(m, dims, false); }, {{"x", random_tensor(dims, 91)}},
                   1e-6, &optimized);
  EXPECT_EQ(count_ops(*optimized, "Reshape"), 2);
}

TEST(Passes, RemovesDeadNodes) {
  GraphMaker m;
  Value* x = m.input("x", {2});
  m.node("Relu", {x}, "unused");
  m.output(m.node("Neg", {x}, "y"));
  ASSERT_TRUE(eliminate_dead_nodes(m.graph()).ok());
  EXPECT_EQ(m.graph().nodes().size(), 1u);
  EXPECT_EQ(count_ops(m.graph(), "Relu"), 0);
}

}  // namespace
}  // namespace kiln

namespace kiln {
namespace {

TEST(Precision, Float16BuildKeepsFloat32InterfaceAndAgrees) {
  auto make = [](testing::GraphMaker& m) {
    Value* x = m.input("x", {2, 3, 8, 8});
    Value* w = m.constant("w", testing::random_tensor({4, 3, 3, 3}, 31));
    Value* conv = m.node("Conv", {x, w, m.constant("b", testing::random_tensor({4}, 32))}, "conv",
                         {{"pads", Attribute::of_ints({1, 1, 1, 1})}});
    Value* r = m.node("Relu", {conv}, "r");
    Value* flat = m.node("Flatten", {r}, "flat");
    Value* w2 = m.constant("w2", testing::random_tensor({256, 5}, 33, -0.1f, 0.1f));
    m.output(m.node("MatMul", {flat, w2}, "y"));
  };
  testing::GraphMaker a, b;
  make(a);
  make(b);
  TensorMap inputs{{"x", testing::random_tensor({2, 3, 8, 8}, 34)}};
  auto reference = Builder::build(a.take());
  BuildConfig half;
  half.precision = DataType::kFloat16;
  auto lowp = Builder::build(b.take(), half);
  ASSERT_TRUE(reference.ok() && lowp.ok()) << lowp.status().to_string();
  EXPECT_EQ((*lowp)->inputs()[0].dtype, DataType::kFloat32);
  EXPECT_EQ((*lowp)->outputs()[0].dtype, DataType::kFloat32);
  auto want = (*(*reference)->create_context())->execute(inputs);
  auto got = (*(*lowp)->create_context())->execute(inputs);
  ASSERT_TRUE(want.ok() && got.ok()) << got.status().to_string();
  ASSERT_EQ((*got)[0].dtype(), DataType::kFloat32);
  double num = 0, den = 0;
  for (int64_t i = 0; i < (*want)[0].element_count(); ++i) {
    double d = (*got)[0].data<float>()[i] - (*want)[0].data<float>()[i];
    num += d * d;
    den += static_cast<double>((*want)[0].data<float>()[i]) * (*want)[0].data<float>()[i];
  }
  EXPECT_LT(std::sqrt(num / den), 5e-3);  // float16 tolerance: relative L2 below 5e-3
  EXPECT_GT(std::sqrt(num / den), 0.0);   // it really ran in float16
}

}  // namespace
}  // namespace kiln
