// Channels-last convolution networks on the GPU: built for CUDA in float16
// (or bfloat16) the builder stores the convolution regions NHWC; outputs are
// compared with the CPU in float32.
//
// Tolerances, |actual - expected| <= t * max(1, |expected|): float16 t = 3e-2,
// bfloat16 t = 1e-1. Weights are scaled so activations stay near unit
// variance; every layer rounds its output to 11 (float16) or 8 (bfloat16)
// significant bits, and the networks here are up to 7 layers deep.
// Every test skips when no CUDA device exists.
#if KILN_WITH_CUDA

#include <gtest/gtest.h>

#include <cmath>

#include "backends/cuda/cuda_resources.h"
#include "channels_last_graphs.h"
#include "cuda_test_support.h"
#include "graph_test_util.h"
#include "ir/channels_last.h"
#include "kiln/builder.h"
#include "kiln/onnx.h"

namespace kiln {
namespace {

using testing::ChannelsLastCase;
using testing::count_ops;
using testing::GraphMaker;
using testing::random_tensor;

constexpr double kFloat16Tolerance = 3e-2;
constexpr double kBFloat16Tolerance = 1e-1;

struct BuiltRun {
  std::vector<Tensor> outputs;
  int channels_last_nodes = 0;
};

Expected<BuiltRun> build_and_run(const std::function<void(GraphMaker&)>& make, BackendKind backend, DataType precision,
                                 const TensorMap& inputs, bool channels_last = true) {
  GraphMaker m;
  make(m);
  BuildConfig config;
  config.backend = backend;
  config.precision = precision;
  config.channels_last = channels_last;
  KILN_ASSIGN_OR_RETURN(auto engine, Builder::build(m.take(), config));
  BuiltRun run;
  for (const auto& node : engine->graph().nodes()) {
    run.channels_last_nodes += find_channels_last_op(node->op_type, node->domain) != nullptr;
  }
  KILN_ASSIGN_OR_RETURN(auto context, engine->create_context());
  KILN_ASSIGN_OR_RETURN(run.outputs, context->execute(inputs));
  return run;
}

void expect_close(const Tensor& actual, const Tensor& expected, double tolerance) {
  ASSERT_EQ(actual.dtype(), DataType::kFloat32);
  ASSERT_EQ(actual.dims(), expected.dims());
  double worst = 0;
  for (int64_t i = 0; i < actual.element_count(); ++i) {
    double e = expected.data<float>()[i];
    double error = std::fabs(actual.data<float>()[i] - e) / std::max(1.0, std::fabs(e));
    worst = std::max(worst, error);
    ASSERT_LE(error, tolerance) << "element " << i << ": " << actual.data<float>()[i] << " vs " << e;
  }
  ::testing::Test::RecordProperty("worst_relative_error", std::to_string(worst));
}

// The case built for CUDA at `precision` runs channels-last and matches the CPU in float32.
void check_case(const ChannelsLastCase& c, DataType precision, double tolerance) {
  SCOPED_TRACE(c.name);
  TensorMap inputs{{"x", random_tensor(c.input, 2024)}};
  auto expected = build_and_run(c.make, BackendKind::kCpu, DataType::kFloat32, inputs);
  ASSERT_TRUE(expected.ok()) << expected.status().to_string();
  auto actual = build_and_run(c.make, BackendKind::kCuda, precision, inputs);
  ASSERT_TRUE(actual.ok()) << actual.status().to_string();
  EXPECT_GT(actual->channels_last_nodes, 0) << "the builder kept every convolution NCHW";
  ASSERT_EQ(actual->outputs.size(), expected->outputs.size());
  for (size_t i = 0; i < actual->outputs.size(); ++i) {
    expect_close(actual->outputs[i], expected->outputs[i], tolerance);
  }
}

const ChannelsLastCase& find_case(const std::string& name) {
  static const std::vector<ChannelsLastCase> cases = testing::channels_last_cases();
  for (const ChannelsLastCase& c : cases) {
    if (c.name == name) return c;
  }
  return cases.front();
}

TEST(CudaNhwc, ConvBiasReluPoolClassifierFloat16) {
  SKIP_WITHOUT_DEVICE();
  check_case(find_case("conv_pool_classifier"), DataType::kFloat16, kFloat16Tolerance);
}

TEST(CudaNhwc, ResNetStemAndBottleneckFloat16) {
  SKIP_WITHOUT_DEVICE();
  check_case(find_case("resnet_block"), DataType::kFloat16, kFloat16Tolerance);
}

TEST(CudaNhwc, ConcatAndBroadcastConstantsFloat16) {
  SKIP_WITHOUT_DEVICE();
  check_case(find_case("concat_branches"), DataType::kFloat16, kFloat16Tolerance);
}

TEST(CudaNhwc, SqueezeExciteFloat16) {
  SKIP_WITHOUT_DEVICE();
  check_case(find_case("squeeze_excite"), DataType::kFloat16, kFloat16Tolerance);
}

TEST(CudaNhwc, GroupedDepthwiseAndAsymmetricPadsFloat16) {
  SKIP_WITHOUT_DEVICE();
  check_case(find_case("grouped_and_padded"), DataType::kFloat16, kFloat16Tolerance);
}

// Channels-last pooling reads V channels per thread (8 half values, or 2, or 1
// as the channel count allows): a conv of C output channels feeds a dilated,
// padded MaxPool and a count_include_pad AveragePool with ceil_mode, for channel
// counts on each vector width.
TEST(CudaNhwc, PoolingAtEveryVectorWidth) {
  SKIP_WITHOUT_DEVICE();
  for (int64_t channels : {3, 6, 16, 24}) {
    for (DataType precision : {DataType::kFloat16, DataType::kBFloat16}) {
      SCOPED_TRACE("channels " + std::to_string(channels) + " " + dtype_name(precision));
      ChannelsLastCase c{"pools", {2, 5, 17, 19}, [channels](GraphMaker& m) {
                           Value* x = m.input("x", {2, 5, 17, 19});
                           Value* conv = m.node("Conv",
                                                {x, m.constant("w", testing::conv_weights({channels, 5, 3, 3}, 41)),
                                                 m.constant("b", random_tensor({channels}, 42))},
                                                "conv", {{"pads", testing::ints({1, 1, 1, 1})}});
                           Value* max = m.node("MaxPool", {conv}, "max",
                                               {{"kernel_shape", testing::ints({3, 3})},
                                                {"strides", testing::ints({2, 1})},
                                                {"dilations", testing::ints({1, 2})},
                                                {"pads", testing::ints({1, 0, 1, 2})}});
                           Value* avg = m.node("AveragePool", {max}, "avg",
                                               {{"kernel_shape", testing::ints({2, 3})},
                                                {"strides", testing::ints({2, 2})},
                                                {"pads", testing::ints({0, 1, 1, 1})},
                                                {"ceil_mode", Attribute::of_int(1)},
                                                {"count_include_pad", Attribute::of_int(1)}});
                           m.output(m.node("Conv",
                                           {avg, m.constant("o_w", testing::conv_weights({4, channels, 1, 1}, 43))},
                                           "out_conv"));
                         }};
      check_case(c, precision, precision == DataType::kFloat16 ? kFloat16Tolerance : kBFloat16Tolerance);
    }
  }
}

// bfloat16 takes the bias + program epilogue instead of cuDNN's fused bias+Relu:
// the epilogue's channel index must be the last axis.
TEST(CudaNhwc, EveryNetworkBFloat16) {
  SKIP_WITHOUT_DEVICE();
  for (const ChannelsLastCase& c : testing::channels_last_cases())
    check_case(c, DataType::kBFloat16, kBFloat16Tolerance);
}

// Same precision, both layouts: differences come from the layout alone, so the
// bound is tighter than against float32.
TEST(CudaNhwc, MatchesNchwAtTheSamePrecision) {
  SKIP_WITHOUT_DEVICE();
  for (const ChannelsLastCase& c : testing::channels_last_cases()) {
    SCOPED_TRACE(c.name);
    TensorMap inputs{{"x", random_tensor(c.input, 7)}};
    auto nchw = build_and_run(c.make, BackendKind::kCuda, DataType::kFloat16, inputs, /*channels_last=*/false);
    ASSERT_TRUE(nchw.ok()) << nchw.status().to_string();
    EXPECT_EQ(nchw->channels_last_nodes, 0);
    auto nhwc = build_and_run(c.make, BackendKind::kCuda, DataType::kFloat16, inputs);
    ASSERT_TRUE(nhwc.ok()) << nhwc.status().to_string();
    ASSERT_EQ(nhwc->outputs.size(), nchw->outputs.size());
    for (size_t i = 0; i < nhwc->outputs.size(); ++i) expect_close(nhwc->outputs[i], nchw->outputs[i], 1e-2);
  }
}

// A larger batch with a symbolic batch axis and a profile: shapes are prepared
// per batch size and the NHWC values carry the symbolic axis.
TEST(CudaNhwc, DynamicBatchProfileFloat16) {
  SKIP_WITHOUT_DEVICE();
  auto make = [](GraphMaker& m) {
    testing::resnet_block(m);
    m.graph().find_value("x")->shape = Shape({Dim::symbolic("batch"), Dim::known(3), Dim::known(32), Dim::known(32)});
  };
  GraphMaker m;
  make(m);
  BuildConfig config;
  config.backend = BackendKind::kCuda;
  config.precision = DataType::kFloat16;
  OptimizationProfile profile;
  profile.inputs["x"] = ProfileRange{{1, 3, 32, 32}, {4, 3, 32, 32}, {8, 3, 32, 32}};
  config.profiles = {profile};
  auto engine = Builder::build(m.take(), config);
  ASSERT_TRUE(engine.ok()) << engine.status().to_string();
  auto context = (*engine)->create_context();
  ASSERT_TRUE(context.ok()) << context.status().to_string();
  for (int64_t batch : {1, 8, 3}) {
    SCOPED_TRACE(batch);
    TensorMap inputs{{"x", random_tensor({batch, 3, 32, 32}, static_cast<uint32_t>(batch))}};
    auto expected = build_and_run(make, BackendKind::kCpu, DataType::kFloat32, inputs);
    ASSERT_TRUE(expected.ok()) << expected.status().to_string();
    auto actual = (*context)->execute(inputs);
    ASSERT_TRUE(actual.ok()) << actual.status().to_string();
    expect_close((*actual)[0], expected->outputs[0], kFloat16Tolerance);
  }
}

// The bundled ResNet-18-like model (224x224, batch 4): one NHWC region of 20
// convolutions. Logits reach ~20, so the bound is relative to the largest
// reference logit: 1e-2 (float16 on the CPU, activations rounded between
// layers the same way, stays below 1e-3).
TEST(CudaNhwc, ResNet18MiniFloat16) {
  SKIP_WITHOUT_DEVICE();
  const std::string path = std::string(KILN_SOURCE_DIR) + "/models/resnet18_mini.onnx";
  TensorMap inputs{{"input", random_tensor({4, 3, 224, 224}, 11)}};
  auto run = [&](BackendKind backend, DataType precision) -> Expected<BuiltRun> {
    KILN_ASSIGN_OR_RETURN(auto graph, import_onnx_file(path));
    BuildConfig config;
    config.backend = backend;
    config.precision = precision;
    KILN_ASSIGN_OR_RETURN(auto engine, Builder::build(std::move(graph), config));
    BuiltRun result;
    for (const auto& node : engine->graph().nodes()) {
      result.channels_last_nodes += find_channels_last_op(node->op_type, node->domain) != nullptr;
    }
    KILN_ASSIGN_OR_RETURN(auto context, engine->create_context());
    KILN_ASSIGN_OR_RETURN(result.outputs, context->execute(inputs));
    return result;
  };
  auto expected = run(BackendKind::kCpu, DataType::kFloat32);
  ASSERT_TRUE(expected.ok()) << expected.status().to_string();
  auto actual = run(BackendKind::kCuda, DataType::kFloat16);
  ASSERT_TRUE(actual.ok()) << actual.status().to_string();
  EXPECT_EQ(actual->channels_last_nodes, 22);  // 20 convs, MaxPool, GlobalAveragePool
  const Tensor& e = expected->outputs[0];
  const Tensor& a = actual->outputs[0];
  ASSERT_EQ(a.dims(), e.dims());
  double largest = 0, worst = 0;
  for (int64_t i = 0; i < e.element_count(); ++i) {
    largest = std::max(largest, std::fabs(static_cast<double>(e.data<float>()[i])));
    worst = std::max(worst, std::fabs(static_cast<double>(a.data<float>()[i]) - e.data<float>()[i]));
  }
  EXPECT_LE(worst, 1e-2 * largest) << "max |cuda fp16 - cpu fp32| " << worst << ", max |logit| " << largest;
}

}  // namespace
}  // namespace kiln

#endif  // KILN_WITH_CUDA
