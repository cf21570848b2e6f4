// Whole graphs built for BackendKind::kCuda and kCpu must compute the same
// outputs: 1e-4 for element-wise work, 1e-2 relative where convolutions or
// matrix products may use TF32. Every test skips when no CUDA device exists.
#if KILN_WITH_CUDA

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>

#include "backends/cuda/cuda_resources.h"
#include "cuda_test_support.h"
#include "graph_test_util.h"
#include "kiln/builder.h"
#include "kiln/host_memory.h"

namespace kiln {
namespace {

using testing::GraphMaker;
using testing::random_tensor;

using testing::ints;

Expected<std::vector<Tensor>> run_on(BackendKind backend, std::unique_ptr<Graph> graph, const TensorMap& inputs) {
  BuildConfig config;
  config.backend = backend;
  KILN_ASSIGN_OR_RETURN(auto engine, Builder::build(std::move(graph), config));
  KILN_ASSIGN_OR_RETURN(auto context, engine->create_context());
  return context->execute(inputs);
}

void expect_close(const Tensor& actual, const Tensor& expected, double tolerance) {
  ASSERT_EQ(actual.dtype(), expected.dtype());
  ASSERT_EQ(actual.dims(), expected.dims());
  if (actual.dtype() != DataType::kFloat32) {
    ASSERT_EQ(0, std::memcmp(actual.raw_data(), expected.raw_data(), actual.byte_size()));
    return;
  }
  for (int64_t i = 0; i < actual.element_count(); ++i) {
    double e = expected.data<float>()[i];
    ASSERT_NEAR(actual.data<float>()[i], e, tolerance * std::max(1.0, std::fabs(e))) << "element " << i;
  }
}

// Builds the graph twice (building consumes it) and compares CUDA with CPU.
template <typename MakeFn>
void compare_backends(MakeFn make, const TensorMap& inputs, double tolerance) {
  GraphMaker cpu_maker, cuda_maker;
  make(cpu_maker);
  make(cuda_maker);
  auto expected = run_on(BackendKind::kCpu, cpu_maker.take(), inputs);
  ASSERT_TRUE(expected.ok()) << expected.status().to_string();
  auto actual = run_on(BackendKind::kCuda, cuda_maker.take(), inputs);
  ASSERT_TRUE(actual.ok()) << actual.status().to_string();
  ASSERT_EQ(actual->size(), expected->size());
  for (size_t i = 0; i < actual->size(); ++i) expect_close((*actual)[i], (*expected)[i], tolerance);
}

TEST(CudaBackend, SmallConvNetMatchesCpu) {
  SKIP_WITHOUT_DEVICE();
  Tensor w1 = random_tensor({8, 3, 3, 3}, 1), b1 = random_tensor({8}, 2);
  Tensor w2 = random_tensor({10, 8}, 3), b2 = random_tensor({10}, 4);
  auto make = [&](GraphMaker& m) {
    Value* x = m.input("x", {2, 3, 16, 16});
    Value* c = m.node("Conv", {x, m.constant("w1", w1), m.constant("b1", b1)}, "conv",
                      {{"pads", ints({1, 1, 1, 1})}, {"strides", ints({2, 2})}});
    Value* r = m.node("Relu", {c}, "relu");
    Value* p = m.node("MaxPool", {r}, "pool", {{"kernel_shape", ints({2, 2})}, {"strides", ints({2, 2})}});
    Value* g = m.node("GlobalAveragePool", {p}, "gap");
    Value* f = m.node("Flatten", {g}, "flat");
    Value* fc = m.node("Gemm", {f, m.constant("w2", w2), m.constant("b2", b2)}, "fc",
                       {{"transB", Attribute::of_int(1)}});
    m.output(m.node("Softmax", {fc}, "prob", {{"axis", Attribute::of_int(-1)}}));
  };
  compare_backends(make, {{"x", random_tensor({2, 3, 16, 16}, 5)}}, 1e-2);
}

// Pinned inputs skip the staging copy and outputs land in pinned tensors: the
// results must not depend on where the input lives, and each query reports
// its phases.
TEST(CudaBackend, PinnedAndPageableInputsGiveTheSameOutputsAndPhaseTimings) {
  SKIP_WITHOUT_DEVICE();
  Tensor w = random_tensor({16, 8, 3, 3}, 21), b = random_tensor({16}, 22);
  GraphMaker m;
  Value* x = m.input("x", {4, 8, 12, 12});
  Value* c = m.node("Conv", {x, m.constant("w", w), m.constant("b", b)}, "conv", {{"pads", ints({1, 1, 1, 1})}});
  m.output(m.node("Relu", {c}, "relu"));
  BuildConfig config;
  config.backend = BackendKind::kCuda;
  auto engine = Builder::build(m.take(), config);
  ASSERT_TRUE(engine.ok()) << engine.status().to_string();
  for (bool spin : {false, true}) {
    ExecutionOptions options;
    options.spin_wait = spin;
    auto context = (*engine)->create_context(options);
    ASSERT_TRUE(context.ok()) << context.status().to_string();
    EXPECT_FALSE((*context)->last_timings().valid);
    Tensor pageable = random_tensor({4, 8, 12, 12}, 23);
    Tensor pinned = PinnedMemoryPool::global().copy_of(pageable);
    auto from_pageable = (*context)->execute({{"x", pageable}});
    ASSERT_TRUE(from_pageable.ok()) << from_pageable.status().to_string();
    auto from_pinned = (*context)->execute({{"x", pinned}});
    ASSERT_TRUE(from_pinned.ok()) << from_pinned.status().to_string();
    ASSERT_EQ(0, std::memcmp((*from_pinned)[0].raw_data(), (*from_pageable)[0].raw_data(),
                             (*from_pageable)[0].byte_size()));
    EXPECT_TRUE(PinnedMemoryPool::global().is_pinned((*from_pinned)[0].raw_data(), (*from_pinned)[0].byte_size()));
    QueryTimings t = (*context)->last_timings();
    EXPECT_TRUE(t.valid);
    EXPECT_GT(t.h2d_ms, 0);
    EXPECT_GT(t.compute_ms, 0);
    EXPECT_GT(t.d2h_ms, 0);
    EXPECT_GE(t.host_wall_ms, t.enqueue_ms);
  }
}

TEST(CudaBackend, LayerProfileTimesEveryKernelWithoutChangingOutputs) {
  SKIP_WITHOUT_DEVICE();
  Tensor w = random_tensor({8, 4, 3, 3}, 31);
  GraphMaker m;
  Value* x = m.input("x", {2, 4, 10, 10});
  Value* c = m.node("Conv", {x, m.constant("w", w)}, "conv", {{"pads", ints({1, 1, 1, 1})}});
  Value* s = m.node("Sigmoid", {c}, "sig");
  m.output(m.node("GlobalAveragePool", {s}, "gap"));
  BuildConfig config;
  config.backend = BackendKind::kCuda;
  config.optimize = false;
  auto engine = Builder::build(m.take(), config);
  ASSERT_TRUE(engine.ok()) << engine.status().to_string();
  ExecutionOptions profiled;
  profiled.profile_layers = true;
  profiled.cuda_graphs = true;  // ignored while profiling: events sit between kernels
  auto a = (*engine)->create_context(profiled);
  auto b = (*engine)->create_context();
  ASSERT_TRUE(a.ok() && b.ok());
  Tensor input = random_tensor({2, 4, 10, 10}, 32);
  auto pa = (*a)->execute({{"x", input}});
  pa = (*a)->execute({{"x", input}});
  auto pb = (*b)->execute({{"x", input}});
  ASSERT_TRUE(pa.ok() && pb.ok());
  ASSERT_EQ(0, std::memcmp((*pa)[0].raw_data(), (*pb)[0].raw_data(), (*pb)[0].byte_size()));
  std::vector<LayerTime> layers = (*a)->layer_profile();
  ASSERT_EQ(layers.size(), 3u);
  for (const LayerTime& layer : layers) {
    EXPECT_EQ(layer.runs, 2) << layer.name;
    EXPECT_GT(layer.total_ms, 0.0) << layer.name;
  }
  EXPECT_TRUE((*b)->layer_profile().empty());
}

TEST(CudaBackend, AttentionBlockWithShapeComputedOnHost) {
  SKIP_WITHOUT_DEVICE();
  const int64_t tokens = 6, hidden = 16, heads = 2;
  Tensor wq = random_tensor({hidden, hidden}, 6), bq = random_tensor({hidden}, 7);
  Tensor gamma = random_tensor({hidden}, 8), beta = random_tensor({hidden}, 9);
  auto make = [&](GraphMaker& m) {
    Value* x = m.input("x", {1, tokens, hidden});
    Value* q = m.node("Add", {m.node("MatMul", {x, m.constant("wq", wq)}, "mm"), m.constant("bq", bq)}, "q");
    // Reshape to [batch, tokens, heads, -1] with batch/tokens read by Shape at run time.
    Value* shape = m.node("Shape", {q}, "shape");
    Value* first_two = m.node("Slice", {shape, m.constant("s0", Tensor::from_vector<int64_t>(DataType::kInt64, {1}, {0})),
                                        m.constant("s1", Tensor::from_vector<int64_t>(DataType::kInt64, {1}, {2}))},
                              "bt");
    Value* target = m.node("Concat", {first_two, m.constant("tail", Tensor::from_vector<int64_t>(
                                                                       DataType::kInt64, {2}, {heads, -1}))},
                           "target", {{"axis", Attribute::of_int(0)}});
    Value* split = m.node("Reshape", {q, target}, "split_heads");
    Value* t = m.node("Transpose", {split}, "heads_first", {{"perm", ints({0, 2, 1, 3})}});
    Value* scores = m.node("MatMul", {t, m.node("Transpose", {t}, "kt", {{"perm", ints({0, 1, 3, 2})}})}, "scores");
    Value* attn = m.node("Softmax", {scores}, "attn", {{"axis", Attribute::of_int(-1)}});
    Value* ctx = m.node("MatMul", {attn, t}, "ctx");
    Value* merged = m.node("Reshape", {m.node("Transpose", {ctx}, "back", {{"perm", ints({0, 2, 1, 3})}}),
                                      m.constant("merged_shape", Tensor::from_vector<int64_t>(DataType::kInt64, {3},
                                                                                              {1, tokens, hidden}))},
                           "merged");
    Value* residual = m.node("Add", {merged, x}, "residual");
    Value* norm = m.node("LayerNormalization", {residual, m.constant("gamma", gamma), m.constant("beta", beta)},
                         "norm", {{"axis", Attribute::of_int(-1)}});
    m.output(m.node("Mul", {m.node("Sigmoid", {norm}, "sig"), norm}, "silu"));
  };
  compare_backends(make, {{"x", random_tensor({1, tokens, hidden}, 10)}}, 1e-2);
}

TEST(CudaBackend, ReshapeViewsKeepTheirStorageAliveUntilTheirLastReader) {
  SKIP_WITHOUT_DEVICE();
  // v is a view of s; the nodes between them allocate tensors of s's size
  // that would overwrite s if its memory were released after the Reshape.
  auto make = [](GraphMaker& m) {
    Value* x = m.input("x", {2, 3, 4});
    Value* target = m.constant("target", Tensor::from_vector<int64_t>(DataType::kInt64, {2}, {6, 4}));
    Value* s = m.node("Sigmoid", {x}, "s");
    Value* v = m.node("Reshape", {s, target}, "v");
    Value* c = m.node("Abs", {m.node("Neg", {m.node("Tanh", {x}, "a")}, "b")}, "c");
    Value* w = m.node("Unsqueeze", {m.node("Reshape", {c, target}, "c2"),
                                    m.constant("axis", Tensor::from_vector<int64_t>(DataType::kInt64, {1}, {0}))},
                      "w");
    m.output(m.node("Add", {v, w}, "sum"));
    m.output(v);
    m.output(m.node("Flatten", {x}, "x_flat"));
  };
  compare_backends(make, {{"x", random_tensor({2, 3, 4}, 11)}}, 1e-5);
}

TEST(CudaBackend, NewInputShapesArePreparedAgain) {
  SKIP_WITHOUT_DEVICE();
  auto make = [](GraphMaker& m) {
    Value* x = m.input("x", {1, 4});
    x->shape.dims()[0] = Dim::symbolic("batch");
    Value* y = m.node("Tanh", {m.node("Mul", {x, m.scalar("two", 2.f)}, "doubled")}, "y");
    m.output(m.node("ReduceSum", {y, m.constant("axes", Tensor::from_vector<int64_t>(DataType::kInt64, {1}, {1}))},
                    "sum", {{"keepdims", Attribute::of_int(0)}}));
  };
  GraphMaker cpu_maker, cuda_maker;
  make(cpu_maker);
  make(cuda_maker);
  BuildConfig cpu_config, cuda_config;
  cuda_config.backend = BackendKind::kCuda;
  auto cpu_engine = Builder::build(cpu_maker.take(), cpu_config);
  auto cuda_engine = Builder::build(cuda_maker.take(), cuda_config);
  ASSERT_TRUE(cpu_engine.ok()) << cpu_engine.status().to_string();
  ASSERT_TRUE(cuda_engine.ok()) << cuda_engine.status().to_string();
  auto cpu_context = (*cpu_engine)->create_context();
  auto cuda_context = (*cuda_engine)->create_context();
  // The second context shares the engine's device weights and replays CUDA graphs.
  setenv("KILN_CUDA_GRAPHS", "1", 1);
  auto second_cuda_context = (*cuda_engine)->create_context();
  unsetenv("KILN_CUDA_GRAPHS");
  ASSERT_TRUE(cuda_context.ok()) << cuda_context.status().to_string();
  ASSERT_TRUE(second_cuda_context.ok()) << second_cuda_context.status().to_string();
  for (int64_t batch : {3, 7, 3}) {
    TensorMap inputs = {{"x", random_tensor({batch, 4}, static_cast<uint32_t>(batch))}};
    auto expected = (*cpu_context)->execute(inputs);
    auto actual = (*cuda_context)->execute(inputs);
    auto again = (*second_cuda_context)->execute(inputs);
    ASSERT_TRUE(expected.ok()) << expected.status().to_string();
    ASSERT_TRUE(actual.ok()) << actual.status().to_string();
    ASSERT_TRUE(again.ok()) << again.status().to_string();
    expect_close((*actual)[0], (*expected)[0], 1e-4);
    expect_close((*again)[0], (*expected)[0], 1e-4);
  }
}

TEST(CudaBackend, ShapeGivenAsGraphInputIsReadOnTheHost) {
  SKIP_WITHOUT_DEVICE();
  auto make = [](GraphMaker& m) {
    Value* x = m.input("x", {2, 6});
    Value* shape = m.input("shape", {2}, DataType::kInt64);
    m.output(m.node("Relu", {m.node("Reshape", {x, shape}, "reshaped")}, "y"));
  };
  for (std::vector<int64_t> target : {std::vector<int64_t>{3, 4}, std::vector<int64_t>{4, -1}}) {
    TensorMap inputs = {{"x", random_tensor({2, 6}, 40)},
                        {"shape", Tensor::from_vector<int64_t>(DataType::kInt64, {2}, target)}};
    compare_backends(make, inputs, 1e-6);
  }
}

TEST(CudaBackend, DataDependentShapesAreRejectedAtBuild) {
  SKIP_WITHOUT_DEVICE();
  GraphMaker m;
  Value* x = m.input("x", {4});
  m.output(m.node("NonZero", {x}, "nz"));
  BuildConfig config;
  config.backend = BackendKind::kCuda;
  auto engine = Builder::build(m.take(), config);
  ASSERT_FALSE(engine.ok());
  EXPECT_NE(engine.status().message().find("NonZero"), std::string::npos) << engine.status().message();
}

}  // namespace
}  // namespace kiln

#endif  // KILN_WITH_CUDA
