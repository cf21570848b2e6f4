// Per-layer precision: the builder runs each layer in the build's precision,
// in one forced by a --layer-precisions pattern, or in float32 where the
// backend cannot run it lower, with Casts only where values cross precisions.
#include <gtest/gtest.h>

#include <cmath>

#include "graph_test_util.h"
#include "ir/shape_inference.h"
#include "kiln/builder.h"
#include "passes/passes.h"

namespace kiln {
namespace {

using testing::count_ops;
using testing::GraphMaker;
using testing::random_tensor;

// x -> Conv "conv_node" -> Relu "r_node" -> Flatten "flat_node" -> MatMul "y_node" (graph output).
void conv_relu_matmul(GraphMaker& m) {
  Value* x = m.input("x", {2, 3, 8, 8});
  Value* conv = m.node("Conv",
                       {x, m.constant("w", random_tensor({4, 3, 3, 3}, 31)), m.constant("b", random_tensor({4}, 32))},
                       "conv", {{"pads", Attribute::of_ints({1, 1, 1, 1})}});
  Value* r = m.node("Relu", {conv}, "r");
  Value* flat = m.node("Flatten", {r}, "flat");
  m.output(m.node("MatMul", {flat, m.constant("w2", random_tensor({256, 5}, 33, -0.1f, 0.1f))}, "y"));
}

std::unique_ptr<Graph> inferred(const std::function<void(GraphMaker&)>& make) {
  GraphMaker m;
  make(m);
  auto g = m.take();
  EXPECT_TRUE(infer_graph_shapes(*g).ok());
  return g;
}

const Node& node_named(const Graph& g, const std::string& name) {
  for (const auto& node : g.nodes()) {
    if (node->name == name) return *node;
  }
  ADD_FAILURE() << "no node '" << name << "'";
  return *g.nodes().front();
}

DataType output_dtype(const Graph& g, const std::string& name) { return node_named(g, name).outputs[0]->dtype; }

TEST(LayerPrecision, ForcedFloat32LayerGetsCastsOnlyAtItsEdge) {
  auto g = inferred(conv_relu_matmul);
  PrecisionPolicy policy;
  policy.default_precision = DataType::kFloat16;
  policy.layers = {{"y_node", DataType::kFloat32}};
  auto report = assign_float_precision(*g, policy);
  ASSERT_TRUE(report.ok()) << report.status().to_string();
  ASSERT_TRUE(infer_graph_shapes(*g).ok());
  EXPECT_EQ(output_dtype(*g, "conv_node"), DataType::kFloat16);
  EXPECT_EQ(output_dtype(*g, "flat_node"), DataType::kFloat16);  // follows Relu's float16
  EXPECT_EQ(output_dtype(*g, "y_node"), DataType::kFloat32);
  // The MatMul reads its weight unconverted and a cast of the Flatten output.
  const Node& y = node_named(*g, "y_node");
  EXPECT_EQ(y.inputs[1]->constant->dtype(), DataType::kFloat32);
  ASSERT_NE(y.inputs[0]->producer, nullptr);
  EXPECT_EQ(y.inputs[0]->producer->op_type, "Cast");
  // One Cast into float16 for x, one back to float32 before y; none after y.
  EXPECT_EQ(count_ops(*g, "Cast"), 2);
  EXPECT_EQ(report->float32_layers, 1u);
  EXPECT_EQ(report->float16_layers, 3u);
  EXPECT_TRUE(report->fallbacks.empty());
}

// An additive mask built from float32's lowest value (what torch.export
// writes): in float16 it is clamped to -65504, not turned into -inf, so a row
// the mask covers entirely still averages its values as in float32; the
// report names the weight. Infinities stay infinite.
TEST(LayerPrecision, Float16ClampsOutOfRangeWeights) {
  auto g = inferred([](GraphMaker& m) {
    Value* x = m.input("x", {2, 4});
    Value* lowest = m.constant("lowest", Tensor::from_vector<float>(DataType::kFloat32, {4},
                                                                    {-3.4028235e38f, 1.f, 70000.f, -INFINITY}));
    m.output(m.node("Add", {x, lowest}, "y"));
  });
  PrecisionPolicy policy;
  policy.default_precision = DataType::kFloat16;
  auto report = assign_float_precision(*g, policy);
  ASSERT_TRUE(report.ok()) << report.status().to_string();
  ASSERT_EQ(report->clamped.size(), 1u);
  EXPECT_EQ(report->clamped[0], "'lowest' (2 values)");
  const Value* converted = node_named(*g, "y_node").inputs[1];
  ASSERT_TRUE(converted->constant.has_value());
  auto widened = cast_tensor(*converted->constant, DataType::kFloat32);
  ASSERT_TRUE(widened.ok());
  EXPECT_EQ(widened->data<float>()[0], -65504.f);
  EXPECT_EQ(widened->data<float>()[1], 1.f);
  EXPECT_EQ(widened->data<float>()[2], 65504.f);
  EXPECT_EQ(widened->data<float>()[3], -INFINITY);
}

TEST(LayerPrecision, LayerTheBackendRefusesFallsBackToFloat32) {
  auto g = inferred(conv_relu_matmul);
  PrecisionPolicy policy;
  policy.default_precision = DataType::kFloat16;
  policy.supports = [](const Node& node, const std::vector<TensorInfo>& inputs) -> Status {
    if (node.op_type == "Relu" && inputs[0].dtype == DataType::kFloat16) {
      return unimplemented(node.describe() + " has no float16 kernel");
    }
    return ok_status();
  };
  auto report = assign_float_precision(*g, policy);
  ASSERT_TRUE(report.ok()) << report.status().to_string();
  ASSERT_TRUE(infer_graph_shapes(*g).ok());
  EXPECT_EQ(output_dtype(*g, "conv_node"), DataType::kFloat16);
  EXPECT_EQ(output_dtype(*g, "r_node"), DataType::kFloat32);
  EXPECT_EQ(output_dtype(*g, "flat_node"), DataType::kFloat32);  // data movement keeps float32: no cast before it
  EXPECT_EQ(output_dtype(*g, "y_node"), DataType::kFloat16);
  ASSERT_EQ(report->fallbacks.size(), 1u);
  EXPECT_NE(report->fallbacks[0].find("'r_node'"), std::string::npos) << report->fallbacks[0];
  EXPECT_NE(report->fallbacks[0].find("no float16 kernel"), std::string::npos) << report->fallbacks[0];
  // x in, conv out to float32, flat into float16, y back to float32.
  EXPECT_EQ(count_ops(*g, "Cast"), 4);
}

TEST(LayerPrecision, ForcedPrecisionTheBackendRefusesIsAnError) {
  auto g = inferred(conv_relu_matmul);
  PrecisionPolicy policy;
  policy.default_precision = DataType::kFloat32;
  policy.layers = {{"r_node", DataType::kBFloat16}};
  policy.supports = [](const Node& node, const std::vector<TensorInfo>& inputs) -> Status {
    if (inputs[0].dtype == DataType::kBFloat16) return unimplemented(node.describe() + " has no bfloat16 kernel");
    return ok_status();
  };
  auto report = assign_float_precision(*g, policy);
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.status().message().find("pattern 'r_node'"), std::string::npos) << report.status().to_string();
  EXPECT_NE(report.status().message().find("bfloat16 kernel"), std::string::npos) << report.status().to_string();
}

TEST(LayerPrecision, PatternMatchingNoLayerIsAnError) {
  auto g = inferred(conv_relu_matmul);
  PrecisionPolicy policy;
  policy.layers = {{"*Softmax*", DataType::kFloat32}};
  auto report = assign_float_precision(*g, policy);
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.status().message().find("'*Softmax*' matches no layer"), std::string::npos)
      << report.status().to_string();
}

TEST(LayerPrecision, GlobsAndLaterEntriesWin) {
  auto g = inferred(conv_relu_matmul);
  PrecisionPolicy policy;
  policy.default_precision = DataType::kFloat16;
  policy.layers = {{"*", DataType::kFloat32}, {"c?nv_node", DataType::kBFloat16}};
  auto report = assign_float_precision(*g, policy);
  ASSERT_TRUE(report.ok()) << report.status().to_string();
  EXPECT_EQ(output_dtype(*g, "conv_node"), DataType::kBFloat16);
  EXPECT_EQ(output_dtype(*g, "r_node"), DataType::kFloat32);
  EXPECT_EQ(report->bfloat16_layers, 1u);
  EXPECT_EQ(report->float32_layers, 3u);
}

Expected<std::vector<Tensor>> build_and_run(const BuildConfig& config, const TensorMap& inputs) {
  GraphMaker m;
  conv_relu_matmul(m);
  KILN_ASSIGN_OR_RETURN(auto engine, Builder::build(m.take(), config));
  KILN_ASSIGN_OR_RETURN(auto context, engine->create_context());
  return context->execute(inputs);
}

double relative_l2(const Tensor& got, const Tensor& want) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < want.element_count(); ++i) {
    double d = got.data<float>()[i] - want.data<float>()[i];
    num += d * d;
    den += static_cast<double>(want.data<float>()[i]) * want.data<float>()[i];
  }
  return std::sqrt(num / den);
}

// A float16 build whose every layer is forced back to float32 computes exactly
// what the float32 build does; forcing only the last layer stays within the
// float16 tolerance and still rounds somewhere.
TEST(LayerPrecision, BuilderHonoursLayerPrecisionsEndToEnd) {
  TensorMap inputs{{"x", random_tensor({2, 3, 8, 8}, 34)}};
  auto reference = build_and_run(BuildConfig{}, inputs);
  ASSERT_TRUE(reference.ok()) << reference.status().to_string();

  BuildConfig all_float32;
  all_float32.precision = DataType::kFloat16;
  all_float32.layer_precisions = {{"*", DataType::kFloat32}};
  auto same = build_and_run(all_float32, inputs);
  ASSERT_TRUE(same.ok()) << same.status().to_string();
  ASSERT_EQ((*same)[0].dtype(), DataType::kFloat32);
  EXPECT_EQ(relative_l2((*same)[0], (*reference)[0]), 0.0);

  BuildConfig mixed;
  mixed.precision = DataType::kFloat16;
  mixed.layer_precisions = {{"y_node", DataType::kFloat32}};
  auto got = build_and_run(mixed, inputs);
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  const double error = relative_l2((*got)[0], (*reference)[0]);
  EXPECT_LT(error, 5e-3);  // float16 tolerance: relative L2 below 5e-3
  EXPECT_GT(error, 0.0);

  BuildConfig typo = mixed;
  typo.layer_precisions = {{"no_such_layer", DataType::kFloat32}};
  auto refused = build_and_run(typo, inputs);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("no_such_layer"), std::string::npos);
}

}  // namespace
}  // namespace kiln
