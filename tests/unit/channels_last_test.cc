// The channels-last layout pass (src/passes/choose_channels_last.cc) on the
// CPU: graph structure after the pass (Nhwc ops, permuted filters, Transpose
// only at region edges, shapes), and numeric agreement of the rewritten graph
// with the original, both run by the CPU kernels (which run the Nhwc variants
// by permuting around the NCHW kernels).
#include "ir/channels_last.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>

#include "channels_last_graphs.h"
#include "graph_test_util.h"
#include "ir/shape_inference.h"
#include "kiln/builder.h"
#include "kiln/onnx.h"
#include "passes/passes.h"

namespace kiln {
namespace {

using testing::ChannelsLastCase;
using testing::count_ops;
using testing::GraphMaker;
using testing::random_tensor;

// The graph as the CUDA builder sees it before choosing layouts: shapes
// inferred, default passes run, optionally converted to a lower precision.
std::unique_ptr<Graph> optimized_graph(const std::function<void(GraphMaker&)>& make,
                                       DataType precision = DataType::kFloat32) {
  GraphMaker m;
  make(m);
  auto g = m.take();
  EXPECT_TRUE(infer_graph_shapes(*g).ok());
  EXPECT_TRUE(run_default_passes(*g).ok());
  EXPECT_TRUE(infer_graph_shapes(*g).ok());
  if (precision != DataType::kFloat32) {
    EXPECT_TRUE(convert_float_precision(*g, precision).ok());
    EXPECT_TRUE(infer_graph_shapes(*g).ok());
  }
  return g;
}

std::unique_ptr<Graph> channels_last_graph(const std::function<void(GraphMaker&)>& make,
                                           DataType precision = DataType::kFloat32) {
  auto g = optimized_graph(make, precision);
  auto stats = choose_channels_last(*g);
  EXPECT_TRUE(stats.ok()) << stats.status().to_string();
  Status inferred = infer_graph_shapes(*g);
  EXPECT_TRUE(inferred.ok()) << inferred.to_string();
  return g;
}

Expected<std::vector<Tensor>> run_cpu(std::unique_ptr<Graph> g, const TensorMap& inputs, bool optimize) {
  BuildConfig config;
  config.optimize = optimize;
  KILN_ASSIGN_OR_RETURN(auto engine, Builder::build(std::move(g), config));
  KILN_ASSIGN_OR_RETURN(auto context, engine->create_context());
  return context->execute(inputs);
}

void expect_close(const Tensor& actual, const Tensor& expected, double tolerance) {
  ASSERT_EQ(actual.dims(), expected.dims());
  ASSERT_EQ(actual.dtype(), DataType::kFloat32);
  for (int64_t i = 0; i < actual.element_count(); ++i) {
    double e = expected.data<float>()[i];
    ASSERT_NEAR(actual.data<float>()[i], e, tolerance * std::max(1.0, std::fabs(e))) << "element " << i;
  }
}

int count_channels_last_nodes(const Graph& g) {
  int n = 0;
  for (const auto& node : g.nodes()) n += find_channels_last_op(node->op_type, node->domain) != nullptr;
  return n;
}

std::vector<int64_t> perm_of(const Node& n) { return n.attr_ints("perm"); }
const std::vector<int64_t> kToNhwc = {0, 2, 3, 1};
const std::vector<int64_t> kToNchw = {0, 3, 1, 2};

// Every Transpose sits at a region edge: one into NHWC reads a value produced
// outside the region, one back to NCHW is read outside it; never two in a row.
void expect_transposes_only_at_edges(const Graph& g) {
  for (const auto& node : g.nodes()) {
    if (node->op_type != "Transpose") continue;
    const Value* in = node->inputs[0];
    ASSERT_FALSE(in->producer && in->producer->op_type == "Transpose") << node->name << " follows a Transpose";
    if (perm_of(*node) == kToNhwc) {
      EXPECT_TRUE(!in->producer || !find_channels_last_op(in->producer->op_type, in->producer->domain))
          << node->name << " transposes a value that is already NHWC";
    } else {
      ASSERT_EQ(perm_of(*node), kToNchw) << node->name;
      bool read_outside = is_graph_output(g, node->outputs[0]);
      for (Node* c : g.consumers(node->outputs[0])) {
        read_outside |= !find_channels_last_op(c->op_type, c->domain) && c->op_type != "Transpose";
      }
      EXPECT_TRUE(read_outside) << node->name << " leaves NHWC for no reader";
    }
  }
}

TEST(ChannelsLastPass, ConvStackBecomesNhwcWithTransposesAtTheEdges) {
  auto g = channels_last_graph(testing::conv_pool_classifier);
  EXPECT_EQ(count_ops(*g, "NhwcFusedConv"), 2);
  EXPECT_EQ(count_ops(*g, "NhwcMaxPool"), 1);
  EXPECT_EQ(count_ops(*g, "NhwcGlobalAveragePool"), 1);
  EXPECT_EQ(count_ops(*g, "Conv") + count_ops(*g, "FusedConv") + count_ops(*g, "MaxPool"), 0);
  // In after the graph input, out before Flatten: nothing else.
  EXPECT_EQ(count_ops(*g, "Transpose"), 2);
  expect_transposes_only_at_edges(*g);
  for (const auto& node : g->nodes()) {
    if (node->op_type == "Transpose" && perm_of(*node) == kToNhwc) {
      EXPECT_EQ(node->inputs[0]->name, "x");
      EXPECT_EQ(node->outputs[0]->shape.to_string(), "2x16x16x3");
    }
    if (node->op_type == "Flatten") EXPECT_EQ(node->inputs[0]->shape.to_string(), "2x16x1x1");
  }
  // The graph's own inputs and outputs keep their names and NCHW shapes.
  ASSERT_EQ(g->outputs().size(), 1u);
  EXPECT_EQ(g->outputs()[0]->name, "fc");
  EXPECT_EQ(g->inputs()[0]->shape.to_string(), "2x3x16x16");
}

TEST(ChannelsLastPass, FiltersArePermutedAndShapesAreNhwc) {
  Tensor w2 = testing::conv_weights({16, 8, 3, 3}, 3);  // the second conv of conv_pool_classifier
  auto g = channels_last_graph(testing::conv_pool_classifier);
  const Node* conv2 = nullptr;
  for (const auto& node : g->nodes()) {
    if (node->op_type == "NhwcFusedConv" && node->inputs[1]->constant && node->inputs[1]->constant->dim(0) == 16) {
      conv2 = node.get();
    }
  }
  ASSERT_NE(conv2, nullptr);
  const Tensor& w = *conv2->inputs[1]->constant;
  ASSERT_EQ(w.dims(), (Dims{16, 3, 3, 8}));
  for (int64_t m = 0; m < 16; ++m)
    for (int64_t kh = 0; kh < 3; ++kh)
      for (int64_t kw = 0; kw < 3; ++kw)
        for (int64_t c = 0; c < 8; ++c) {
          ASSERT_EQ(w.data<float>()[((m * 3 + kh) * 3 + kw) * 8 + c], w2.data<float>()[((m * 8 + c) * 3 + kh) * 3 + kw])
              << "m " << m << " kh " << kh << " kw " << kw << " c " << c;
        }
  EXPECT_EQ(conv2->inputs[2]->constant->dims(), (Dims{16}));  // the bias stays a vector
  EXPECT_EQ(conv2->inputs[0]->shape.to_string(), "2x8x8x8");
  EXPECT_EQ(conv2->outputs[0]->shape.to_string(), "2x8x8x16");
  // The fused Relu program travels with the node.
  EXPECT_TRUE(conv2->has_attribute("pw_code"));
}

TEST(ChannelsLastPass, BroadcastConstantsAndConcatAxisFollowTheLayout) {
  auto g = channels_last_graph(testing::concat_branches);
  EXPECT_EQ(count_ops(*g, "NhwcFusedConv"), 3);
  EXPECT_EQ(count_ops(*g, "NhwcAveragePool"), 1);
  // One Transpose reads x for both branches; one brings the output conv back to NCHW.
  EXPECT_EQ(count_ops(*g, "Transpose"), 2);
  expect_transposes_only_at_edges(*g);
  for (const auto& node : g->nodes()) {
    if (node->op_type == "Concat") EXPECT_EQ(node->attr_int("axis", 0), 3);
    if (node->op_type == "Mul" || node->op_type == "Add") {
      for (const Value* in : node->inputs) {
        if (in->constant && in->constant->element_count() > 1) EXPECT_EQ(in->constant->dims(), (Dims{1, 1, 1, 12}));
      }
    }
  }
  EXPECT_EQ(g->outputs()[0]->shape.to_string(), "2x6x5x5");  // NCHW, as declared
}

TEST(ChannelsLastPass, RegionsWithoutConvolutionStayNchw) {
  auto make = [](GraphMaker& m) {
    Value* x = m.input("x", {1, 4, 8, 8});
    Value* p = m.node("MaxPool", {x}, "pool", {{"kernel_shape", testing::ints({2, 2})}});
    m.output(m.node("Relu", {m.node("GlobalAveragePool", {p}, "gap")}, "y"));
  };
  auto g = optimized_graph(make);
  auto stats = choose_channels_last(*g);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->changed, 0);
  EXPECT_EQ(count_ops(*g, "Transpose"), 0);
  EXPECT_EQ(count_channels_last_nodes(*g), 0);
}

TEST(ChannelsLastPass, MaxPoolWithIndicesStaysNchw) {
  auto make = [](GraphMaker& m) {
    Value* x = m.input("x", {1, 4, 8, 8});
    Value* c1 = m.node("Conv", {x, m.constant("w1", testing::conv_weights({4, 4, 3, 3}, 1))}, "conv1",
                       {{"pads", testing::ints({1, 1, 1, 1})}});
    Value* c2 = m.node("Conv", {c1, m.constant("w2", testing::conv_weights({4, 4, 3, 3}, 3))}, "conv2",
                       {{"pads", testing::ints({1, 1, 1, 1})}});
    Value* pooled = m.node("MaxPool", {c2}, "pooled", {{"kernel_shape", testing::ints({2, 2})}});
    Value* indices = m.graph().value("indices");
    indices->dtype = DataType::kInt64;
    pooled->producer->outputs.push_back(indices);
    indices->producer = pooled->producer;
    m.output(pooled);
    m.output(indices);
  };
  auto g = channels_last_graph(make);
  EXPECT_EQ(count_ops(*g, "NhwcFusedConv"), 2);
  EXPECT_EQ(count_ops(*g, "MaxPool"), 1);
  EXPECT_EQ(count_ops(*g, "Transpose"), 2);
  expect_transposes_only_at_edges(*g);
  TensorMap inputs{{"x", random_tensor({1, 4, 8, 8}, 2)}};
  auto expected = run_cpu(optimized_graph(make), inputs, false);
  auto actual = run_cpu(std::move(g), inputs, false);
  ASSERT_TRUE(expected.ok() && actual.ok());
  expect_close((*actual)[0], (*expected)[0], 1e-5);
  ASSERT_EQ(0, std::memcmp((*actual)[1].raw_data(), (*expected)[1].raw_data(), (*expected)[1].byte_size()));
}

// One convolution between NCHW neighbours would need a Transpose on each side:
// no gain over the library's own handling of NCHW.
TEST(ChannelsLastPass, LoneConvolutionStaysNchw) {
  auto make = [](GraphMaker& m) {
    Value* x = m.input("x", {1, 4, 8, 8});
    Value* c = m.node("Conv", {x, m.constant("w", testing::conv_weights({4, 4, 3, 3}, 1))}, "conv",
                      {{"pads", testing::ints({1, 1, 1, 1})}});
    m.output(m.node("Softmax", {m.node("Relu", {c}, "relu")}, "prob", {{"axis", Attribute::of_int(1)}}));
  };
  auto g = optimized_graph(make);
  auto stats = choose_channels_last(*g);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->changed, 0);
  EXPECT_EQ(count_ops(*g, "Transpose"), 0);
}

TEST(ChannelsLastPass, SymbolicBatchSurvivesThePass) {
  auto make = [](GraphMaker& m) {
    testing::conv_pool_classifier(m);
    Value* x = m.graph().find_value("x");
    x->shape = Shape({Dim::symbolic("batch"), Dim::known(3), Dim::known(16), Dim::known(16)});
    m.graph().outputs()[0]->shape = Shape::unranked();
  };
  auto g = channels_last_graph(make);
  for (const auto& node : g->nodes()) {
    if (node->op_type == "Transpose" && node->inputs[0]->name == "x") {
      EXPECT_EQ(node->outputs[0]->shape.to_string(), "batchx16x16x3");
    }
    if (node->op_type == "NhwcMaxPool") EXPECT_EQ(node->outputs[0]->shape.to_string(), "?x8x8x8");
  }
  for (int64_t batch : {1, 3}) {
    TensorMap inputs{{"x", random_tensor({batch, 3, 16, 16}, 7)}};
    GraphMaker reference;
    make(reference);
    auto expected = run_cpu(reference.take(), inputs, true);
    auto actual = run_cpu(g->clone(), inputs, false);
    ASSERT_TRUE(expected.ok()) << expected.status().to_string();
    ASSERT_TRUE(actual.ok()) << actual.status().to_string();
    expect_close((*actual)[0], (*expected)[0], 1e-4);
  }
}

// Every shared network: the rewritten graph computes what the original does.
TEST(ChannelsLastPass, RewrittenNetworksMatchTheOriginalOnCpu) {
  for (const ChannelsLastCase& c : testing::channels_last_cases()) {
    SCOPED_TRACE(c.name);
    TensorMap inputs{{"x", random_tensor(c.input, 99)}};
    GraphMaker reference;
    c.make(reference);
    auto expected = run_cpu(reference.take(), inputs, true);
    ASSERT_TRUE(expected.ok()) << expected.status().to_string();
    auto g = channels_last_graph(c.make);
    EXPECT_GT(count_ops(*g, "NhwcFusedConv"), 0);
    expect_transposes_only_at_edges(*g);
    auto actual = run_cpu(std::move(g), inputs, false);
    ASSERT_TRUE(actual.ok()) << actual.status().to_string();
    ASSERT_EQ(actual->size(), expected->size());
    for (size_t i = 0; i < actual->size(); ++i) expect_close((*actual)[i], (*expected)[i], 1e-4);
  }
}

// float16 weights are permuted like float32 ones; a plan keeps the Nhwc ops.
TEST(ChannelsLastPass, Float16GraphRunsAndSurvivesAPlanRoundTrip) {
  const ChannelsLastCase c = testing::channels_last_cases()[1];  // resnet_block
  TensorMap inputs{{"x", random_tensor(c.input, 5)}};
  GraphMaker reference;
  c.make(reference);
  auto expected = run_cpu(reference.take(), inputs, true);
  ASSERT_TRUE(expected.ok()) << expected.status().to_string();
  auto g = channels_last_graph(c.make, DataType::kFloat16);
  EXPECT_GT(count_ops(*g, "NhwcFusedConv"), 0);
  BuildConfig config;
  config.optimize = false;
  auto engine = Builder::build(std::move(g), config);
  ASSERT_TRUE(engine.ok()) << engine.status().to_string();
  const std::string path = (std::filesystem::path(::testing::TempDir()) / "channels_last_fp16.kiln").string();
  ASSERT_TRUE(save_engine(**engine, path).ok());
  auto loaded = load_engine(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  EXPECT_GT(count_ops((*loaded)->graph(), "NhwcFusedConv"), 0);
  auto context = (*loaded)->create_context();
  ASSERT_TRUE(context.ok());
  auto actual = (*context)->execute(inputs);
  ASSERT_TRUE(actual.ok()) << actual.status().to_string();
  // float16 activations between layers: a few units in the third decimal.
  expect_close((*actual)[0], (*expected)[0], 3e-2);
  std::filesystem::remove(path);
}

// The bundled ResNet-18-like model: the whole conv stack is one region, so
// the only Transposes are the input's and the one before Flatten.
TEST(ChannelsLastPass, ResNet18MiniIsOneRegion) {
  const std::string path = std::string(KILN_SOURCE_DIR) + "/models/resnet18_mini.onnx";
  auto reference = import_onnx_file(path);
  ASSERT_TRUE(reference.ok()) << reference.status().to_string();
  auto g = import_onnx_file(path);
  ASSERT_TRUE(g.ok());
  Graph& graph = **g;
  ASSERT_TRUE(infer_graph_shapes(graph).ok());
  ASSERT_TRUE(run_default_passes(graph).ok());
  ASSERT_TRUE(infer_graph_shapes(graph).ok());
  auto stats = choose_channels_last(graph);
  ASSERT_TRUE(stats.ok()) << stats.status().to_string();
  ASSERT_TRUE(infer_graph_shapes(graph).ok());
  EXPECT_EQ(count_ops(graph, "NhwcFusedConv"), 20);
  EXPECT_EQ(count_ops(graph, "NhwcMaxPool"), 1);
  EXPECT_EQ(count_ops(graph, "NhwcGlobalAveragePool"), 1);
  EXPECT_EQ(count_ops(graph, "Transpose"), 2);
  expect_transposes_only_at_edges(graph);

  TensorMap inputs{{"input", random_tensor({1, 3, 224, 224}, 3)}};
  auto expected = run_cpu(std::move(*reference), inputs, true);
  ASSERT_TRUE(expected.ok()) << expected.status().to_string();
  auto actual = run_cpu(std::move(*g), inputs, false);
  ASSERT_TRUE(actual.ok()) << actual.status().to_string();
  expect_close((*actual)[0], (*expected)[0], 1e-4);
}

TEST(ChannelsLastPass, CpuBuilderKeepsNchwAtFloat16) {
  GraphMaker m;
  testing::conv_pool_classifier(m);
  BuildConfig config;
  config.precision = DataType::kFloat16;
  auto engine = Builder::build(m.take(), config);
  ASSERT_TRUE(engine.ok()) << engine.status().to_string();
  EXPECT_EQ(count_channels_last_nodes((*engine)->graph()), 0);
}

TEST(ChannelsLastPass, VariantInferenceRejectsWrongRank) {
  Node conv;
  conv.name = "c";
  conv.op_type = "NhwcFusedConv";
  conv.domain = "kiln";
  conv.opset = 17;
  Value out;
  conv.outputs = {&out};
  InferContext ctx{
      conv,
      {TensorInfo{DataType::kFloat32, {1, 8, 8}, true}, TensorInfo{DataType::kFloat32, {4, 3, 3, 8}, true}},
      {nullptr, nullptr}};
  auto result = OpRegistry::global().infer(ctx);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find("N, H, W, C"), std::string::npos) << result.status().message();
  ctx.inputs[0].dims = {1, 8, 8, 8};
  result = OpRegistry::global().infer(ctx);
  ASSERT_TRUE(result.ok()) << result.status().to_string();
  EXPECT_EQ((*result)[0].dims, (Dims{1, 6, 6, 4}));
}

}  // namespace
}  // namespace kiln
