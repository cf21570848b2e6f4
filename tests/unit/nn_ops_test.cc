// Conv / ConvTranspose / pooling / MatMul / Gemm / integer variants on the CPU
// backend, checked against naive loops written here independently of the
// kernels (random inputs, stated tolerances).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <thread>

#include "ir/op_registry.h"
#include "kiln/builder.h"
#include "kiln/engine.h"

namespace kiln {
namespace {

// ---------------------------------------------------------------- helpers

struct InputSpec {
  std::string name;
  Tensor value;
  bool constant = false;  // weight (initializer) rather than graph input
};

// Builds a one-node graph, runs it on the CPU backend and returns its outputs.
Expected<std::vector<Tensor>> run_node(const std::string& op_type, const std::vector<InputSpec>& inputs,
                                       std::map<std::string, Attribute> attributes, int outputs = 1, int opset = 19) {
  auto graph = std::make_unique<Graph>();
  graph->opsets[""] = opset;
  auto node = std::make_unique<Node>();
  node->name = "n";
  node->op_type = op_type;
  node->opset = opset;
  node->attributes = std::move(attributes);
  TensorMap feeds;
  for (const InputSpec& in : inputs) {
    if (in.name.empty()) {
      node->inputs.push_back(nullptr);
      continue;
    }
    Value* v = graph->value(in.name);
    v->dtype = in.value.dtype();
    v->shape = Shape::from_dims(in.value.dims());
    if (in.constant) {
      v->constant = in.value;
    } else {
      graph->inputs().push_back(v);
      feeds[in.name] = in.value;
    }
    node->inputs.push_back(v);
  }
  for (int i = 0; i < outputs; ++i) {
    Value* v = graph->value("out" + std::to_string(i));
    node->outputs.push_back(v);
    graph->outputs().push_back(v);
  }
  graph->add_node(std::move(node));
  KILN_ASSIGN_OR_RETURN(auto engine, Builder::build(std::move(graph)));
  KILN_ASSIGN_OR_RETURN(auto context, engine->create_context());
  return context->execute(feeds);
}

Tensor random_tensor(DataType dtype, const Dims& dims, uint32_t seed, double low = -1.0, double high = 1.0) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> dist(low, high);
  Tensor t = Tensor::empty(dtype, dims);
  for (int64_t i = 0; i < t.element_count(); ++i) {
    double v = dist(rng);
    switch (dtype) {
      case DataType::kFloat32:
        t.data<float>()[i] = static_cast<float>(v);
        break;
      case DataType::kFloat64:
        t.data<double>()[i] = v;
        break;
      case DataType::kInt32:
        t.data<int32_t>()[i] = static_cast<int32_t>(std::lround(v));
        break;
      case DataType::kInt64:
        t.data<int64_t>()[i] = std::lround(v);
        break;
      case DataType::kUint8:
        t.data<uint8_t>()[i] = static_cast<uint8_t>(std::lround(v));
        break;
      case DataType::kInt8:
        t.data<int8_t>()[i] = static_cast<int8_t>(std::lround(v));
        break;
      default:
        break;
    }
  }
  return t;
}

std::vector<double> as_doubles(const Tensor& t) { return t.to_double_vector(); }

void expect_close(const Tensor& actual, const Dims& expected_dims, const std::vector<double>& expected, double atol,
                  double rtol, const std::string& what) {
  ASSERT_EQ(actual.dims(), expected_dims) << what;
  std::vector<double> got = as_doubles(actual);
  ASSERT_EQ(got.size(), expected.size()) << what;
  int reported = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::fabs(got[i] - expected[i]) > atol + rtol * std::fabs(expected[i])) {
      ADD_FAILURE() << what << ": element " << i << " is " << got[i] << ", expected " << expected[i];
      if (++reported > 5) return;
    }
  }
}

Attribute ints(std::vector<int64_t> v) { return Attribute::of_ints(std::move(v)); }

// Row-major flat index of a multi-index.
int64_t flat_index(const Dims& dims, const Dims& index) {
  int64_t flat = 0;
  for (size_t i = 0; i < dims.size(); ++i) flat = flat * dims[i] + index[i];
  return flat;
}

// Advances a multi-index over `dims`; false once it wrapped around.
bool next_index(const Dims& dims, Dims& index) {
  for (size_t i = dims.size(); i-- > 0;) {
    if (++index[i] < dims[i]) return true;
    index[i] = 0;
  }
  return false;
}

// ---------------------------------------------------------------- naive references

struct ConvCase {
  Dims x;  // N, C, spatial...
  Dims w;  // forward: M, C/g, k...; transposed: C, M/g, k...
  int64_t group = 1;
  Dims strides, dilations, pads;  // empty = default
  bool bias = true;
  Dims output_padding;
};

// Direct convolution with explicit pads, any spatial rank.
std::vector<double> naive_conv(const ConvCase& c, const Dims& out_dims, const std::vector<double>& x,
                               const std::vector<double>& w, const std::vector<double>* b, const Dims& pads_begin) {
  size_t rank = c.x.size() - 2;
  Dims strides = c.strides.empty() ? Dims(rank, 1) : c.strides;
  Dims dilations = c.dilations.empty() ? Dims(rank, 1) : c.dilations;
  int64_t m_per_group = c.w[0] / c.group, c_per_group = c.w[1];
  Dims kernel(c.w.begin() + 2, c.w.end());
  std::vector<double> y(element_count(out_dims), 0.0);
  Dims oi(out_dims.size(), 0);
  do {
    int64_t n = oi[0], m = oi[1];
    double acc = b ? (*b)[m] : 0.0;
    for (int64_t ci = 0; ci < c_per_group; ++ci) {
      int64_t channel = (m / m_per_group) * c_per_group + ci;
      Dims ki(rank, 0);
      do {
        Dims xi = {n, channel};
        bool inside = true;
        for (size_t d = 0; d < rank; ++d) {
          int64_t pos = oi[d + 2] * strides[d] - pads_begin[d] + ki[d] * dilations[d];
          inside &= pos >= 0 && pos < c.x[d + 2];
          xi.push_back(pos);
        }
        if (!inside) continue;
        Dims wi = {m, ci};
        wi.insert(wi.end(), ki.begin(), ki.end());
        acc += x[flat_index(c.x, xi)] * w[flat_index(c.w, wi)];
      } while (next_index(kernel, ki));
    }
    y[flat_index(out_dims, oi)] = acc;
  } while (next_index(out_dims, oi));
  return y;
}

// Transposed convolution as a scatter of every input cell.
std::vector<double> naive_conv_transpose(const ConvCase& c, const Dims& out_dims, const std::vector<double>& x,
                                         const std::vector<double>& w, const std::vector<double>* b,
                                         const Dims& pads_begin) {
  size_t rank = c.x.size() - 2;
  Dims strides = c.strides.empty() ? Dims(rank, 1) : c.strides;
  Dims dilations = c.dilations.empty() ? Dims(rank, 1) : c.dilations;
  int64_t c_per_group = c.x[1] / c.group, m_per_group = c.w[1];
  Dims kernel(c.w.begin() + 2, c.w.end());
  std::vector<double> y(element_count(out_dims), 0.0);
  Dims xi(c.x.size(), 0);
  do {
    int64_t n = xi[0], channel = xi[1];
    int64_t group = channel / c_per_group;
    double xv = x[flat_index(c.x, xi)];
    for (int64_t mi = 0; mi < m_per_group; ++mi) {
      Dims ki(rank, 0);
      do {
        Dims yi = {n, group * m_per_group + mi};
        bool inside = true;
        for (size_t d = 0; d < rank; ++d) {
          int64_t pos = xi[d + 2] * strides[d] - pads_begin[d] + ki[d] * dilations[d];
          inside &= pos >= 0 && pos < out_dims[d + 2];
          yi.push_back(pos);
        }
        if (!inside) continue;
        Dims wi = {channel, mi};
        wi.insert(wi.end(), ki.begin(), ki.end());
        y[flat_index(out_dims, yi)] += xv * w[flat_index(c.w, wi)];
      } while (next_index(kernel, ki));
    }
  } while (next_index(c.x, xi));
  if (b) {
    Dims yi(out_dims.size(), 0);
    do y[flat_index(out_dims, yi)] += (*b)[yi[1]];
    while (next_index(out_dims, yi));
  }
  return y;
}

std::map<std::string, Attribute> conv_attributes(const ConvCase& c) {
  std::map<std::string, Attribute> a;
  if (c.group != 1) a["group"] = Attribute::of_int(c.group);
  if (!c.strides.empty()) a["strides"] = ints(c.strides);
  if (!c.dilations.empty()) a["dilations"] = ints(c.dilations);
  if (!c.pads.empty()) a["pads"] = ints(c.pads);
  if (!c.output_padding.empty()) a["output_padding"] = ints(c.output_padding);
  return a;
}

Dims forward_output_dims(const ConvCase& c) {
  size_t rank = c.x.size() - 2;
  Dims out = {c.x[0], c.w[0]};
  for (size_t d = 0; d < rank; ++d) {
    int64_t s = c.strides.empty() ? 1 : c.strides[d], dil = c.dilations.empty() ? 1 : c.dilations[d];
    int64_t pb = c.pads.empty() ? 0 : c.pads[d], pe = c.pads.empty() ? 0 : c.pads[d + rank];
    out.push_back((c.x[d + 2] + pb + pe - dil * (c.w[d + 2] - 1) - 1) / s + 1);
  }
  return out;
}

Dims transposed_output_dims(const ConvCase& c) {
  size_t rank = c.x.size() - 2;
  Dims out = {c.x[0], c.w[1] * c.group};
  for (size_t d = 0; d < rank; ++d) {
    int64_t s = c.strides.empty() ? 1 : c.strides[d], dil = c.dilations.empty() ? 1 : c.dilations[d];
    int64_t pb = c.pads.empty() ? 0 : c.pads[d], pe = c.pads.empty() ? 0 : c.pads[d + rank];
    int64_t op = c.output_padding.empty() ? 0 : c.output_padding[d];
    out.push_back(s * (c.x[d + 2] - 1) + op + dil * (c.w[d + 2] - 1) + 1 - pb - pe);
  }
  return out;
}

Dims pads_begin_of(const ConvCase& c) {
  size_t rank = c.x.size() - 2;
  return c.pads.empty() ? Dims(rank, 0) : Dims(c.pads.begin(), c.pads.begin() + rank);
}

void check_conv(const ConvCase& c, DataType dtype, bool transposed, bool constant_weights, uint32_t seed,
                const std::string& what) {
  Tensor x = random_tensor(dtype, c.x, seed);
  Tensor w = random_tensor(dtype, c.w, seed + 1);
  int64_t out_channels = transposed ? c.w[1] * c.group : c.w[0];
  Tensor b = random_tensor(dtype, {out_channels}, seed + 2);
  std::vector<InputSpec> inputs = {{"x", x}, {"w", w, constant_weights}};
  if (c.bias) inputs.push_back({"b", b, constant_weights});
  std::vector<double> bias = as_doubles(b);
  Dims out_dims = transposed ? transposed_output_dims(c) : forward_output_dims(c);
  std::vector<double> expected =
      transposed
          ? naive_conv_transpose(c, out_dims, as_doubles(x), as_doubles(w), c.bias ? &bias : nullptr, pads_begin_of(c))
          : naive_conv(c, out_dims, as_doubles(x), as_doubles(w), c.bias ? &bias : nullptr, pads_begin_of(c));
  double tol = dtype == DataType::kFloat32 ? 1e-4 : 1e-10;
  // Twice: the second run reuses the cached oneDNN primitive (and weights).
  for (int run = 0; run < 2; ++run) {
    auto outputs = run_node(transposed ? "ConvTranspose" : "Conv", inputs, conv_attributes(c));
    ASSERT_TRUE(outputs.ok()) << what << ": " << outputs.status().to_string();
    expect_close((*outputs)[0], out_dims, expected, tol, tol, what + " run " + std::to_string(run));
  }
}

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

// ---------------------------------------------------------------- MatMul / Gemm

std::vector<double> naive_matmul(const Dims& a_dims, const std::vector<double>& a, const Dims& b_dims,
                                 const std::vector<double>& b, Dims* out_dims) {
  Dims ad = a_dims.size() == 1 ? Dims{1, a_dims[0]} : a_dims;
  Dims bd = b_dims.size() == 1 ? Dims{b_dims[0], 1} : b_dims;
  size_t rank = std::max(ad.size(), bd.size());
  while (ad.size() < rank) ad.insert(ad.begin(), 1);
  while (bd.size() < rank) bd.insert(bd.begin(), 1);
  int64_t m = ad[rank - 2], k = ad[rank - 1], n = bd[rank - 1];
  Dims full;
  for (size_t i = 0; i + 2 < rank; ++i) full.push_back(std::max(ad[i], bd[i]));
  full.push_back(m);
  full.push_back(n);
  std::vector<double> y(element_count(full), 0.0);
  Dims index(rank, 0);
  do {
    Dims ai(index), bi(index);
    for (size_t i = 0; i + 2 < rank; ++i) {
      if (ad[i] == 1) ai[i] = 0;
      if (bd[i] == 1) bi[i] = 0;
    }
    double acc = 0;
    for (int64_t kk = 0; kk < k; ++kk) {
      ai[rank - 1] = kk;
      bi[rank - 2] = kk;
      bi[rank - 1] = index[rank - 1];
      acc += a[flat_index(ad, ai)] * b[flat_index(bd, bi)];
    }
    y[flat_index(full, index)] = acc;
  } while (next_index(full, index));
  // Batch axes as numpy broadcasts them, then the matrix axes that were not added for vectors.
  *out_dims = Dims(full.begin(), full.end() - 2);
  if (a_dims.size() != 1) out_dims->push_back(m);
  if (b_dims.size() != 1) out_dims->push_back(n);
  return y;
}

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

// ---------------------------------------------------------------- pooling

struct PoolCase {
  Dims x, kernel, strides, pads, dilations;
  bool ceil_mode = false;
};

// Max / average over the window cells; average divides by the cells inside
// the input, or with count_include_pad by those inside the explicit padding.
std::vector<double> naive_pool(const PoolCase& p, const std::string& kind, bool count_include_pad,
                               const std::vector<double>& x, Dims* out_dims, std::vector<int64_t>* indices) {
  size_t rank = p.kernel.size();
  Dims strides = p.strides.empty() ? Dims(rank, 1) : p.strides;
  Dims dilations = p.dilations.empty() ? Dims(rank, 1) : p.dilations;
  Dims pads = p.pads.empty() ? Dims(2 * rank, 0) : p.pads;
  *out_dims = {p.x[0], p.x[1]};
  for (size_t d = 0; d < rank; ++d) {
    double span = static_cast<double>(p.x[d + 2] + pads[d] + pads[d + rank] - dilations[d] * (p.kernel[d] - 1) - 1);
    int64_t out = static_cast<int64_t>(p.ceil_mode ? std::ceil(span / strides[d]) : std::floor(span / strides[d])) + 1;
    if (p.ceil_mode && (out - 1) * strides[d] >= p.x[d + 2] + pads[d]) --out;
    out_dims->push_back(out);
  }
  std::vector<double> y(element_count(*out_dims));
  if (indices) indices->assign(y.size(), -1);
  Dims oi(out_dims->size(), 0);
  do {
    double best = -INFINITY, sum = 0;
    int64_t real = 0, padded = 0, best_index = -1;
    Dims ki(rank, 0);
    do {
      Dims xi = {oi[0], oi[1]};
      bool inside = true, inside_padding = true;
      for (size_t d = 0; d < rank; ++d) {
        int64_t pos = oi[d + 2] * strides[d] - pads[d] + ki[d] * dilations[d];
        inside &= pos >= 0 && pos < p.x[d + 2];
        inside_padding &= pos >= -pads[d] && pos < p.x[d + 2] + pads[d + rank];
        xi.push_back(pos);
      }
      padded += inside_padding;
      if (!inside) continue;
      double v = x[flat_index(p.x, xi)];
      ++real;
      sum += v;
      if (v > best) best = v, best_index = flat_index(p.x, xi);
    } while (next_index(p.kernel, ki));
    int64_t o = flat_index(*out_dims, oi);
    y[o] = kind == "max" ? best : sum / static_cast<double>(count_include_pad ? padded : real);
    if (indices) (*indices)[o] = best_index;
  } while (next_index(*out_dims, oi));
  return y;
}

std::map<std::string, Attribute> pool_attributes(const PoolCase& p) {
  std::map<std::string, Attribute> a = {{"kernel_shape", ints(p.kernel)}};
  if (!p.strides.empty()) a["strides"] = ints(p.strides);
  if (!p.pads.empty()) a["pads"] = ints(p.pads);
  if (!p.dilations.empty()) a["dilations"] = ints(p.dilations);
  if (p.ceil_mode) a["ceil_mode"] = Attribute::of_int(1);
  return a;
}

const std::vector<PoolCase>& pool_cases() {
  static const std::vector<PoolCase> cases = {
      {{1, 3, 8, 8}, {2, 2}, {2, 2}},
      {{2, 2, 9, 7}, {3, 3}, {2, 2}, {1, 1, 1, 1}},
      {{1, 2, 10, 11}, {3, 2}, {2, 3}, {1, 0, 2, 1}, {}, true},
      {{1, 1, 9, 9}, {2, 3}, {1, 2}, {}, {2, 2}},
      {{1, 2, 13}, {4}, {3}, {2, 1}, {}, true},
      {{1, 2, 5, 6, 7}, {2, 3, 2}, {2, 2, 2}, {1, 0, 1, 0, 1, 1}},
      {{1, 64, 112, 112}, {3, 3}, {2, 2}, {1, 1, 1, 1}},  // ResNet stem
  };
  return cases;
}

TEST(NnPool, MaxPoolWithIndicesMatchesNaiveLoops) {
  uint32_t seed = 500;
  for (const PoolCase& p : pool_cases()) {
    Tensor x = random_tensor(DataType::kFloat32, p.x, seed += 3);
    Dims out_dims;
    std::vector<int64_t> indices;
    std::vector<double> expected = naive_pool(p, "max", false, as_doubles(x), &out_dims, &indices);
    auto out = run_node("MaxPool", {{"x", x}}, pool_attributes(p), 2);
    std::string what = "maxpool x=" + dims_to_string(p.x) + " k=" + dims_to_string(p.kernel);
    ASSERT_TRUE(out.ok()) << what << ": " << out.status().to_string();
    expect_close((*out)[0], out_dims, expected, 0, 0, what);
    std::vector<double> expected_indices(indices.begin(), indices.end());
    expect_close((*out)[1], out_dims, expected_indices, 0, 0, what + " indices");
    // Without Indices float32 max pooling takes the oneDNN path.
    auto values_only = run_node("MaxPool", {{"x", x}}, pool_attributes(p), 1);
    ASSERT_TRUE(values_only.ok()) << what << ": " << values_only.status().to_string();
    expect_close((*values_only)[0], out_dims, expected, 0, 0, what + " without indices");
  }
}

TEST(NnPool, AveragePoolWithAndWithoutPaddingInCount) {
  uint32_t seed = 600;
  for (const PoolCase& p : pool_cases()) {
    for (bool include : {false, true}) {
      Tensor x = random_tensor(DataType::kFloat32, p.x, seed += 3);
      Dims out_dims;
      std::vector<double> expected = naive_pool(p, "avg", include, as_doubles(x), &out_dims, nullptr);
      auto attributes = pool_attributes(p);
      attributes["count_include_pad"] = Attribute::of_int(include);
      auto out = run_node("AveragePool", {{"x", x}}, attributes);
      std::string what = "avgpool x=" + dims_to_string(p.x) + " include_pad=" + std::to_string(include);
      ASSERT_TRUE(out.ok()) << what << ": " << out.status().to_string();
      expect_close((*out)[0], out_dims, expected, 1e-6, 1e-5, what);
    }
  }
}

TEST(NnPool, GlobalPoolsAndLpPool) {
  Tensor x = random_tensor(DataType::kFloat32, {2, 3, 4, 5}, 700);
  std::vector<double> xv = as_doubles(x);
  std::vector<double> mean(6, 0), maximum(6, -INFINITY), lp(6, 0);
  for (int64_t plane = 0; plane < 6; ++plane)
    for (int64_t i = 0; i < 20; ++i) {
      double v = xv[plane * 20 + i];
      mean[plane] += v / 20;
      maximum[plane] = std::max(maximum[plane], v);
    }
  // p = 3 below.
  for (int64_t plane = 0; plane < 6; ++plane)
    for (int64_t i = 0; i < 20; ++i) lp[plane] += std::pow(std::fabs(xv[plane * 20 + i]), 3);
  for (double& v : lp) v = std::cbrt(v);
  auto avg = run_node("GlobalAveragePool", {{"x", x}}, {});
  auto max = run_node("GlobalMaxPool", {{"x", x}}, {});
  auto lpp = run_node("GlobalLpPool", {{"x", x}}, {{"p", Attribute::of_int(3)}});
  ASSERT_TRUE(avg.ok() && max.ok() && lpp.ok());
  expect_close((*avg)[0], {2, 3, 1, 1}, mean, 1e-6, 1e-5, "GlobalAveragePool");
  expect_close((*max)[0], {2, 3, 1, 1}, maximum, 0, 0, "GlobalMaxPool");
  expect_close((*lpp)[0], {2, 3, 1, 1}, lp, 1e-5, 1e-5, "GlobalLpPool");
  // LpPool with a window covering the whole plane equals GlobalLpPool.
  auto window = run_node("LpPool", {{"x", x}}, {{"p", Attribute::of_int(3)}, {"kernel_shape", ints({4, 5})}});
  ASSERT_TRUE(window.ok()) << window.status().to_string();
  expect_close((*window)[0], {2, 3, 1, 1}, lp, 1e-5, 1e-5, "LpPool");
}

TEST(NnPool, MaxUnpoolInvertsMaxPool) {
  PoolCase p{{1, 2, 6, 6}, {2, 2}, {2, 2}};
  Tensor x = random_tensor(DataType::kFloat32, p.x, 800);
  auto pooled = run_node("MaxPool", {{"x", x}}, pool_attributes(p), 2);
  ASSERT_TRUE(pooled.ok()) << pooled.status().to_string();
  auto unpooled = run_node("MaxUnpool", {{"y", (*pooled)[0]}, {"i", (*pooled)[1]}},
                           {{"kernel_shape", ints({2, 2})}, {"strides", ints({2, 2})}});
  ASSERT_TRUE(unpooled.ok()) << unpooled.status().to_string();
  std::vector<double> expected(72, 0.0), xv = as_doubles(x), yv = as_doubles((*pooled)[0]);
  std::vector<int64_t> where = (*pooled)[1].to_int64_vector();
  for (size_t i = 0; i < where.size(); ++i) {
    expected[where[i]] = yv[i];
    EXPECT_EQ(xv[where[i]], yv[i]);
  }
  expect_close((*unpooled)[0], p.x, expected, 0, 0, "MaxUnpool");
}

}  // namespace
}  // namespace kiln
