// Conv and ConvTranspose on the CPU backend (oneDNN for float32, loops for
// float64, float32 for half types) against naive loops, plus shape inference.
#include <gtest/gtest.h>

#include <thread>

#include "nn_test_support.h"

namespace kiln::nn_test {
namespace {

// ---------------------------------------------------------------- Conv

const std::vector<ConvCase>& conv_cases() {
  static const std::vector<ConvCase> cases = {
      {{1, 3, 8, 8}, {4, 3, 3, 3}},
      {{2, 4, 9, 7}, {6, 2, 3, 3}, 2, {2, 2}, {}, {1, 1, 1, 1}},
      {{1, 8, 10, 10}, {8, 1, 3, 3}, 8, {1, 1}, {}, {1, 1, 1, 1}},                      // depthwise
      {{1, 4, 10, 10}, {8, 1, 3, 3}, 4, {2, 2}, {}, {0, 1, 2, 1}},                      // depthwise x2, asymmetric pads
      {{1, 3, 11, 12}, {5, 3, 3, 2}, 1, {1, 2}, {2, 3}, {2, 1, 0, 1}},                  // dilated, strided
      {{2, 16, 7, 7}, {32, 16, 1, 1}, 1, {}, {}, {}, false},                            // 1x1, no bias
      {{1, 64, 14, 14}, {64, 64, 3, 3}, 1, {}, {}, {1, 1, 1, 1}},                       // ResNet-like
      {{1, 3, 17}, {4, 3, 4}, 1, {2}, {2}, {1, 2}},                                     // 1-D
      {{1, 4, 5, 6, 7}, {6, 2, 2, 3, 2}, 2, {1, 2, 1}, {1, 1, 2}, {1, 0, 1, 0, 1, 1}},  // 3-D grouped
  };
  return cases;
}

TEST(NnConv, Float32MatchesNaiveLoops) {
  uint32_t seed = 1;
  for (const ConvCase& c : conv_cases()) {
    check_conv(c, DataType::kFloat32, false, true, seed += 10,
               "conv x=" + dims_to_string(c.x) + " w=" + dims_to_string(c.w));
  }
}

TEST(NnConv, Float32WithWeightsAsGraphInput) {
  check_conv(conv_cases()[1], DataType::kFloat32, false, false, 7, "grouped conv, runtime weights");
}

TEST(NnConv, Float64MatchesNaiveLoops) {
  uint32_t seed = 3;
  for (const ConvCase& c : conv_cases()) {
    check_conv(c, DataType::kFloat64, false, true, seed += 10, "conv f64 x=" + dims_to_string(c.x));
  }
}

TEST(NnConv, ContextsOnSeveralThreadsShareCachedPrimitives) {
  ConvCase c = conv_cases()[6];  // 3x3, blocked layouts with reorders
  Tensor w = random_tensor(DataType::kFloat32, c.w, 21);
  auto graph = std::make_unique<Graph>();
  graph->opsets[""] = 17;
  Value* x = graph->value("x");
  x->dtype = DataType::kFloat32;
  x->shape = Shape::from_dims(c.x);
  graph->inputs().push_back(x);
  Value* weights = graph->value("w");
  weights->dtype = DataType::kFloat32;
  weights->shape = Shape::from_dims(c.w);
  weights->constant = w;
  Value* y = graph->value("y");
  graph->outputs().push_back(y);
  auto node = std::make_unique<Node>();
  node->name = "conv";
  node->op_type = "Conv";
  node->opset = 17;
  node->attributes = conv_attributes(c);
  node->inputs = {x, weights};
  node->outputs = {y};
  graph->add_node(std::move(node));
  auto engine = Builder::build(std::move(graph));
  ASSERT_TRUE(engine.ok()) << engine.status().to_string();
  ConvCase no_bias = c;
  no_bias.bias = false;
  Dims out_dims = forward_output_dims(c);
  constexpr int kThreads = 4;
  std::vector<Tensor> inputs;
  std::vector<std::vector<double>> expected;
  for (int t = 0; t < kThreads; ++t) {
    inputs.push_back(random_tensor(DataType::kFloat32, c.x, 30 + t));
    expected.push_back(naive_conv(no_bias, out_dims, as_doubles(inputs[t]), as_doubles(w), nullptr, pads_begin_of(c)));
  }
  std::vector<std::vector<Tensor>> results(kThreads);
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto context = (*engine)->create_context();
      if (!context.ok()) return void(errors[t] = context.status().to_string());
      for (int run = 0; run < 3; ++run) {
        auto out = (*context)->execute({{"x", inputs[t]}});
        if (!out.ok()) return void(errors[t] = out.status().to_string());
        results[t] = *out;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_TRUE(errors[t].empty()) << errors[t];
    expect_close(results[t][0], out_dims, expected[t], 1e-4, 1e-4, "thread " + std::to_string(t));
  }
}

TEST(NnConv, AutoPadSameUpperAndLower) {
  Tensor x = random_tensor(DataType::kFloat32, {1, 2, 7, 6}, 11);
  Tensor w = random_tensor(DataType::kFloat32, {3, 2, 4, 3}, 12);
  for (const char* mode : {"SAME_UPPER", "SAME_LOWER"}) {
    // Stride 2: out = ceil(7/2)=4, ceil(6/2)=3; total pads (4-1)*2+4-7=3 and (3-1)*2+3-6=1.
    Dims begin = std::string(mode) == "SAME_UPPER" ? Dims{1, 0} : Dims{2, 1};
    Dims end = std::string(mode) == "SAME_UPPER" ? Dims{2, 1} : Dims{1, 0};
    ConvCase c{{1, 2, 7, 6}, {3, 2, 4, 3}, 1, {2, 2}, {}, {begin[0], begin[1], end[0], end[1]}, false};
    std::vector<double> expected = naive_conv(c, {1, 3, 4, 3}, as_doubles(x), as_doubles(w), nullptr, begin);
    auto out = run_node("Conv", {{"x", x}, {"w", w, true}},
                        {{"auto_pad", Attribute::of_string(mode)}, {"strides", ints({2, 2})}});
    ASSERT_TRUE(out.ok()) << out.status().to_string();
    expect_close((*out)[0], {1, 3, 4, 3}, expected, 1e-4, 1e-4, mode);
  }
}

TEST(NnConv, ShapeInferenceKeepsUnknownExtentsUnknown) {
  Node node;
  node.name = "c";
  node.op_type = "Conv";
  node.attributes["strides"] = ints({2, 2});
  node.attributes["auto_pad"] = Attribute::of_string("SAME_UPPER");
  InferContext ctx{node,
                   {TensorInfo{DataType::kFloat32, {-1, 3, -1, 9}}, TensorInfo{DataType::kFloat32, {8, 3, 3, 3}}},
                   {nullptr, nullptr}};
  auto out = OpRegistry::global().infer(ctx);
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ((*out)[0].dims, (Dims{-1, 8, -1, 5}));
}

TEST(NnConv, Float16ComputesInFloat32) {
  ConvCase c = conv_cases()[1];
  Tensor x = random_tensor(DataType::kFloat32, c.x, 41);
  Tensor w = random_tensor(DataType::kFloat32, c.w, 42);
  Tensor b = random_tensor(DataType::kFloat32, {c.w[0]}, 43);
  auto x16 = cast_tensor(x, DataType::kFloat16);
  auto w16 = cast_tensor(w, DataType::kFloat16);
  auto b16 = cast_tensor(b, DataType::kFloat16);
  ASSERT_TRUE(x16.ok() && w16.ok() && b16.ok());
  std::vector<double> bias = as_doubles(*b16);
  Dims out_dims = forward_output_dims(c);
  std::vector<double> expected = naive_conv(c, out_dims, as_doubles(*x16), as_doubles(*w16), &bias, pads_begin_of(c));
  auto out = run_node("Conv", {{"x", *x16}, {"w", *w16, true}, {"b", *b16, true}}, conv_attributes(c));
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  ASSERT_EQ((*out)[0].dtype(), DataType::kFloat16);
  expect_close((*out)[0], out_dims, expected, 5e-3, 2e-3, "Conv float16");
}

TEST(NnShapes, UnknownExtentsStayUnknownAndKnownOnesAreExact) {
  auto infer = [](const std::string& op, std::vector<TensorInfo> inputs, std::map<std::string, Attribute> attrs,
                  size_t outputs = 1) {
    Node node;
    node.name = "n";
    node.op_type = op;
    node.opset = 19;
    node.attributes = std::move(attrs);
    static Value dummy;
    node.outputs.assign(outputs, &dummy);
    InferContext ctx{node, inputs, std::vector<const Tensor*>(inputs.size(), nullptr)};
    return OpRegistry::global().infer(ctx);
  };
  auto pool = infer("MaxPool", {TensorInfo{DataType::kFloat32, {-1, 64, 112, 112}}},
                    {{"kernel_shape", ints({3, 3})}, {"strides", ints({2, 2})}, {"pads", ints({1, 1, 1, 1})}}, 2);
  ASSERT_TRUE(pool.ok()) << pool.status().to_string();
  EXPECT_EQ((*pool)[0].dims, (Dims{-1, 64, 56, 56}));
  EXPECT_EQ((*pool)[1].dtype, DataType::kInt64);
  auto ceil = infer("AveragePool", {TensorInfo{DataType::kFloat32, {1, 1, 5, 5}}},
                    {{"kernel_shape", ints({2, 2})}, {"strides", ints({2, 2})}, {"ceil_mode", Attribute::of_int(1)}});
  ASSERT_TRUE(ceil.ok());
  EXPECT_EQ((*ceil)[0].dims, (Dims{1, 1, 3, 3}));
  auto matmul =
      infer("MatMul", {TensorInfo{DataType::kFloat32, {-1, 1, 8, 16}}, TensorInfo{DataType::kFloat32, {4, 16, 3}}}, {});
  ASSERT_TRUE(matmul.ok());
  EXPECT_EQ((*matmul)[0].dims, (Dims{-1, 4, 8, 3}));
  auto bad = infer("MatMul", {TensorInfo{DataType::kFloat32, {2, 8, 16}}, TensorInfo{DataType::kFloat32, {15, 3}}}, {});
  EXPECT_FALSE(bad.ok());
  auto transposed = infer("ConvTranspose",
                          {TensorInfo{DataType::kFloat32, {1, 8, 7, 7}}, TensorInfo{DataType::kFloat32, {8, 4, 3, 3}}},
                          {{"strides", ints({2, 2})},
                           {"pads", ints({1, 1, 1, 1})},
                           {"output_padding", ints({1, 1})},
                           {"group", Attribute::of_int(2)}});
  ASSERT_TRUE(transposed.ok()) << transposed.status().to_string();
  EXPECT_EQ((*transposed)[0].dims, (Dims{1, 8, 14, 14}));
  auto gemm = infer("Gemm", {TensorInfo{DataType::kFloat32, {5, -1}}, TensorInfo{DataType::kFloat32, {10, 5}}},
                    {{"transA", Attribute::of_int(1)}, {"transB", Attribute::of_int(1)}});
  ASSERT_TRUE(gemm.ok());
  EXPECT_EQ((*gemm)[0].dims, (Dims{-1, 10}));
}

TEST(NnConv, UnsupportedTypeIsRejectedAtBuildTime) {
  Tensor x = random_tensor(DataType::kInt32, {1, 1, 4, 4}, 1, -5, 5);
  Tensor w = random_tensor(DataType::kInt32, {1, 1, 2, 2}, 2, -5, 5);
  auto out = run_node("Conv", {{"x", x}, {"w", w, true}}, {});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(out.status().message().find("int32"), std::string::npos) << out.status().message();
}

TEST(NnConv, MismatchedChannelsIsAnError) {
  Tensor x = random_tensor(DataType::kFloat32, {1, 3, 5, 5}, 1);
  Tensor w = random_tensor(DataType::kFloat32, {2, 4, 3, 3}, 2);
  auto out = run_node("Conv", {{"x", x}, {"w", w, true}}, {});
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("channels"), std::string::npos) << out.status().message();
}

// ---------------------------------------------------------------- ConvTranspose

TEST(NnConvTranspose, Float32AndFloat64MatchNaiveLoops) {
  const std::vector<ConvCase> cases = {
      {{1, 3, 4, 4}, {3, 2, 3, 3}},
      {{2, 4, 5, 3}, {4, 3, 3, 2}, 2, {2, 3}, {}, {1, 0, 1, 1}},
      {{1, 2, 4, 5}, {2, 3, 3, 3}, 1, {2, 2}, {2, 1}, {0, 1, 1, 0}, true, {1, 1}},  // dilation, output_padding
      {{1, 6, 5}, {6, 1, 4}, 6, {3}, {}, {1, 2}},                                   // 1-D depthwise
      {{1, 2, 3, 3, 3}, {2, 2, 2, 2, 2}, 1, {2, 2, 2}, {}, {}, false},              // 3-D
  };
  uint32_t seed = 100;
  for (const ConvCase& c : cases) {
    for (DataType dtype : {DataType::kFloat32, DataType::kFloat64}) {
      check_conv(c, dtype, true, true, seed += 10, "conv_transpose x=" + dims_to_string(c.x) + " " + dtype_name(dtype));
    }
  }
}

TEST(NnConvTranspose, OutputShapeSetsPads) {
  // Natural output is 3*(3-1)+3 = 9 per axis; asking for 10 puts the extra
  // (zero + bias) cell at the end, as ONNX's pads formula says.
  ConvCase c{{1, 1, 3, 3}, {1, 2, 3, 3}, 1, {3, 3}};
  Tensor x = random_tensor(DataType::kFloat32, c.x, 5);
  Tensor w = random_tensor(DataType::kFloat32, c.w, 6);
  std::vector<double> expected = naive_conv_transpose(c, {1, 2, 10, 10}, as_doubles(x), as_doubles(w), nullptr, {0, 0});
  auto out = run_node("ConvTranspose", {{"x", x}, {"w", w, true}},
                      {{"strides", ints({3, 3})}, {"output_shape", ints({10, 10})}});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  expect_close((*out)[0], {1, 2, 10, 10}, expected, 1e-5, 1e-5, "output_shape");
}

}  // namespace
}  // namespace kiln::nn_test
