// Tactic timing on the CUDA backend: a build records one tactic per conv/matmul
// node and profile, the outputs agree with the heuristic's choice and with the
// CPU, the timing cache turns a second build into cache hits only, plans keep
// the choices, and a stored tactic that does not fit falls back to the
// heuristic. Every test skips when no CUDA device exists. Timing itself is
// never asserted. Float32 layers run in TF32 (10 mantissa bits): two TF32
// algorithms, or TF32 against the CPU, agree to kTf32Tolerance relative on
// these layers (differences up to 1.7e-2 were measured on an H100).
#if KILN_WITH_CUDA

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "backends/cuda/cuda_resources.h"
#include "build/tactic_record.h"
#include "build/timing_cache.h"
#include "cuda_test_support.h"
#include "graph_test_util.h"
#include "kiln/builder.h"

namespace kiln {
namespace {

using testing::GraphMaker;
using testing::random_tensor;

using testing::ints;

// x[batch, 3, 16, 16] -> Conv(+bias, pads) -> Relu -> Conv(stride 2) -> GlobalAveragePool -> Flatten
// -> Gemm(transB, bias) -> Relu -> MatMul: two convolutions and two matrix products, different shapes.
std::unique_ptr<Graph> conv_matmul_graph() {
  GraphMaker m;
  Value* x = m.input("x", {1, 3, 16, 16});
  x->shape.dims()[0] = Dim::symbolic("batch");
  Value* c1 = m.node("Conv", {x, m.constant("w1", random_tensor({16, 3, 3, 3}, 1)), m.constant("b1", random_tensor({16}, 2))},
                     "conv1", {{"pads", ints({1, 1, 1, 1})}});
  Value* r1 = m.node("Relu", {c1}, "relu1");
  Value* c2 = m.node("Conv", {r1, m.constant("w2", random_tensor({32, 16, 3, 3}, 3))}, "conv2",
                     {{"pads", ints({1, 1, 1, 1})}, {"strides", ints({2, 2})}});
  Value* g = m.node("GlobalAveragePool", {c2}, "gap");
  Value* f = m.node("Flatten", {g}, "flat");
  Value* fc = m.node("Gemm", {f, m.constant("w3", random_tensor({24, 32}, 4)), m.constant("b3", random_tensor({24}, 5))},
                     "fc", {{"transB", Attribute::of_int(1)}});
  Value* r2 = m.node("Relu", {fc}, "relu2");
  m.output(m.node("MatMul", {r2, m.constant("w4", random_tensor({24, 10}, 6))}, "logits"));
  return m.take();
}

OptimizationProfile batch_profile(int64_t min, int64_t opt, int64_t max) {
  OptimizationProfile p;
  p.inputs["x"] = ProfileRange{{min, 3, 16, 16}, {opt, 3, 16, 16}, {max, 3, 16, 16}};
  return p;
}

bool has_tactics(const Node& node) {
  static const char* kOps[] = {"Conv", "Gemm", "MatMul", "FusedConv", "FusedGemm", "FusedMatMul"};
  for (const char* op : kOps) {
    if (node.op_type == op) return true;
  }
  return false;
}

// Every conv/matmul node's record; fails the test when one has none.
std::map<std::string, std::vector<StoredTactic>> records_of(const Engine& engine, size_t profiles) {
  std::map<std::string, std::vector<StoredTactic>> out;
  for (const auto& node : engine.graph().nodes()) {
    if (!has_tactics(*node)) continue;
    auto entries = stored_tactics(*node);
    EXPECT_TRUE(entries.ok()) << entries.status().to_string();
    if (!entries.ok()) continue;
    EXPECT_EQ(entries->size(), profiles) << node->describe();
    for (const StoredTactic& e : *entries) {
      EXPECT_FALSE(e.tactic.empty()) << node->describe();
      EXPECT_GT(e.time_ms, 0.0) << node->describe();
    }
    out[node->name] = *entries;
  }
  return out;
}

Expected<std::vector<Tensor>> run(const Engine& engine, const Tensor& x, const ExecutionOptions& options = {}) {
  KILN_ASSIGN_OR_RETURN(auto context, engine.create_context(options));
  return context->execute({{"x", x}});
}

constexpr double kTf32Tolerance = 3e-2;

void expect_close(const Tensor& actual, const Tensor& expected, double tolerance) {
  ASSERT_EQ(actual.dims(), expected.dims());
  ASSERT_EQ(actual.dtype(), DataType::kFloat32);
  for (int64_t i = 0; i < actual.element_count(); ++i) {
    const double e = expected.data<float>()[i];
    ASSERT_NEAR(actual.data<float>()[i], e, tolerance * std::max(1.0, std::fabs(e))) << "element " << i;
  }
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("kiln_cuda_tactics_test_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

struct Totals {
  size_t layers = 0, timed = 0, hits = 0, warnings = 0;
  std::string last_warning;
};

BuildConfig cuda_config(Totals* totals) {
  BuildConfig config;
  config.backend = BackendKind::kCuda;
  config.profiles = {batch_profile(1, 4, 8)};
  config.progress = [totals](const BuildProgress& p) {
    if (p.event == BuildProgress::Event::kTacticsDone) {
      totals->layers = p.layers_total;
      totals->timed = p.layers_timed;
      totals->hits = p.cache_hits;
    } else if (p.event == BuildProgress::Event::kWarning) {
      ++totals->warnings;
      totals->last_warning = p.message;
    }
  };
  return config;
}

TEST(CudaTactics, BuildRecordsATacticPerLayerAndMatchesTheHeuristic) {
  SKIP_WITHOUT_DEVICE();
  Totals totals;
  auto timed = Builder::build(conv_matmul_graph(), cuda_config(&totals));
  ASSERT_TRUE(timed.ok()) << timed.status().to_string();
  auto records = records_of(**timed, 1);
  EXPECT_EQ(records.size(), 4u) << "two convolutions and two matrix products (possibly fused)";
  EXPECT_EQ(totals.layers, records.size());
  EXPECT_EQ(totals.timed + totals.hits, totals.layers);
  for (const auto& [name, entries] : records) {
    EXPECT_EQ(entries[0].mode, "tf32") << name;
    // Labels name the algorithm's configuration (none of it unreadable).
    EXPECT_EQ(entries[0].label.find("-1"), std::string::npos) << name << ": " << entries[0].label;
    EXPECT_EQ(entries[0].min_inputs[0]->at(0), 1) << name;  // the batch range of the profile
    EXPECT_EQ(entries[0].max_inputs[0]->at(0), 8) << name;
  }

  Totals unused;
  BuildConfig heuristic_config = cuda_config(&unused);
  heuristic_config.time_tactics = false;
  auto heuristic = Builder::build(conv_matmul_graph(), heuristic_config);
  ASSERT_TRUE(heuristic.ok()) << heuristic.status().to_string();
  for (const auto& node : (*heuristic)->graph().nodes()) EXPECT_FALSE(node->has_attribute(kTacticsAttribute));
  BuildConfig cpu_config;
  cpu_config.profiles = {batch_profile(1, 4, 8)};
  auto cpu = Builder::build(conv_matmul_graph(), cpu_config);
  ASSERT_TRUE(cpu.ok()) << cpu.status().to_string();

  for (int64_t batch : {4, 1, 7}) {  // opt, min and a batch between
    Tensor x = random_tensor({batch, 3, 16, 16}, 20 + static_cast<uint32_t>(batch));
    auto a = run(**timed, x), b = run(**heuristic, x), c = run(**cpu, x);
    ASSERT_TRUE(a.ok()) << a.status().to_string();
    ASSERT_TRUE(b.ok()) << b.status().to_string();
    ASSERT_TRUE(c.ok()) << c.status().to_string();
    expect_close((*a)[0], (*b)[0], kTf32Tolerance);  // both TF32, possibly different algorithms
    expect_close((*a)[0], (*c)[0], kTf32Tolerance);
    // A context without TF32 cannot use tactics timed for TF32: the heuristic runs in FP32.
    ExecutionOptions fp32;
    fp32.allow_tf32 = false;
    auto d = run(**timed, x, fp32);
    ASSERT_TRUE(d.ok()) << d.status().to_string();
    expect_close((*d)[0], (*c)[0], 1e-4);
  }
}

TEST(CudaTactics, SecondBuildWithTheTimingCacheTimesNothing) {
  SKIP_WITHOUT_DEVICE();
  const std::string cache_path = temp_path("timing.cache");
  std::filesystem::remove(cache_path);
  Totals first, second;
  BuildConfig config = cuda_config(&first);
  config.timing_cache = cache_path;
  auto engine1 = Builder::build(conv_matmul_graph(), config);
  ASSERT_TRUE(engine1.ok()) << engine1.status().to_string();
  EXPECT_EQ(first.warnings, 0u) << first.last_warning;
  EXPECT_GT(first.layers, 0u);
  EXPECT_EQ(first.timed, first.layers);  // the four layers differ: nothing to reuse
  ASSERT_TRUE(std::filesystem::exists(cache_path));
  std::string warning;
  TimingCache cache = TimingCache::load(cache_path, &warning);
  EXPECT_EQ(warning, "");
  EXPECT_EQ(cache.size(), first.layers);

  BuildConfig again = cuda_config(&second);
  again.timing_cache = cache_path;
  auto engine2 = Builder::build(conv_matmul_graph(), again);
  ASSERT_TRUE(engine2.ok()) << engine2.status().to_string();
  EXPECT_EQ(second.layers, first.layers);
  EXPECT_EQ(second.timed, 0u);
  EXPECT_EQ(second.hits, second.layers);
  auto records1 = records_of(**engine1, 1), records2 = records_of(**engine2, 1);
  ASSERT_EQ(records1.size(), records2.size());
  for (const auto& [name, entries] : records1) {
    ASSERT_TRUE(records2.count(name)) << name;
    EXPECT_EQ(records2[name][0].tactic, entries[0].tactic) << name;
  }
  std::filesystem::remove(cache_path);
}

TEST(CudaTactics, UnusableTimingCacheWarnsAndIsRewritten) {
  SKIP_WITHOUT_DEVICE();
  const std::string cache_path = temp_path("corrupt.cache");
  {
    std::ofstream out(cache_path);
    out << std::string(kTimingCacheMagic) << " 1\n1\ngarbage\n";
  }
  Totals totals;
  BuildConfig config = cuda_config(&totals);
  config.timing_cache = cache_path;
  auto engine = Builder::build(conv_matmul_graph(), config);
  ASSERT_TRUE(engine.ok()) << engine.status().to_string();
  EXPECT_EQ(totals.warnings, 1u);
  EXPECT_NE(totals.last_warning.find(cache_path), std::string::npos) << totals.last_warning;
  EXPECT_EQ(totals.timed, totals.layers);
  std::string warning;
  TimingCache rewritten = TimingCache::load(cache_path, &warning);
  EXPECT_EQ(warning, "");
  EXPECT_EQ(rewritten.size(), totals.layers);
  std::filesystem::remove(cache_path);
}

TEST(CudaTactics, PlanKeepsTheTactics) {
  SKIP_WITHOUT_DEVICE();
  Totals totals;
  auto engine = Builder::build(conv_matmul_graph(), cuda_config(&totals));
  ASSERT_TRUE(engine.ok()) << engine.status().to_string();
  const std::string plan_path = temp_path("plan.kiln");
  ASSERT_TRUE(save_engine(**engine, plan_path).ok());
  auto loaded = load_engine(plan_path, BackendKind::kCuda);
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  EXPECT_EQ(records_of(**loaded, 1), records_of(**engine, 1));
  Tensor x = random_tensor({4, 3, 16, 16}, 31);
  auto a = run(**engine, x), b = run(**loaded, x);
  ASSERT_TRUE(a.ok() && b.ok());
  expect_close((*b)[0], (*a)[0], 1e-5);  // same algorithms on the same data
  std::filesystem::remove(plan_path);
}

TEST(CudaTactics, EachProfileGetsItsOwnEntry) {
  SKIP_WITHOUT_DEVICE();
  Totals totals;
  BuildConfig config = cuda_config(&totals);
  config.profiles = {batch_profile(1, 1, 1), batch_profile(2, 16, 32)};
  auto engine = Builder::build(conv_matmul_graph(), config);
  ASSERT_TRUE(engine.ok()) << engine.status().to_string();
  auto records = records_of(**engine, 2);
  for (const auto& [name, entries] : records) {
    EXPECT_EQ(entries[0].profile, 0u);
    EXPECT_EQ(entries[1].profile, 1u);
  }
  BuildConfig cpu_config;
  cpu_config.profiles = config.profiles;
  auto cpu = Builder::build(conv_matmul_graph(), cpu_config);
  ASSERT_TRUE(cpu.ok());
  for (int64_t batch : {1, 16, 32}) {
    Tensor x = random_tensor({batch, 3, 16, 16}, 40 + static_cast<uint32_t>(batch));
    auto a = run(**engine, x), c = run(**cpu, x);
    ASSERT_TRUE(a.ok()) << a.status().to_string();
    ASSERT_TRUE(c.ok());
    expect_close((*a)[0], (*c)[0], kTf32Tolerance);
  }
}

TEST(CudaTactics, HalfPrecisionLayersAreTimedInTheirOwnMode) {
  SKIP_WITHOUT_DEVICE();
  Totals totals;
  BuildConfig config = cuda_config(&totals);
  config.precision = DataType::kFloat16;
  auto engine = Builder::build(conv_matmul_graph(), config);
  ASSERT_TRUE(engine.ok()) << engine.status().to_string();
  for (const auto& [name, entries] : records_of(**engine, 1)) EXPECT_EQ(entries[0].mode, "fp16") << name;
  BuildConfig cpu_config;
  cpu_config.profiles = config.profiles;
  auto cpu = Builder::build(conv_matmul_graph(), cpu_config);
  ASSERT_TRUE(cpu.ok());
  Tensor x = random_tensor({4, 3, 16, 16}, 50);
  auto a = run(**engine, x), c = run(**cpu, x);
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  ASSERT_TRUE(c.ok());
  expect_close((*a)[0], (*c)[0], 5e-2);
}

TEST(CudaTactics, StoredTacticsThatDoNotFitFallBackToTheHeuristic) {
  SKIP_WITHOUT_DEVICE();
  // Records naming tactics no kernel can run, covering the shapes used below.
  auto graph = conv_matmul_graph();
  for (const auto& node : graph->nodes()) {
    if (!has_tactics(*node)) continue;
    StoredTactic entry;
    entry.mode = "tf32";
    entry.time_ms = 1;
    for (Value* in : node->inputs) {
      entry.min_inputs.push_back(in ? std::optional<Dims>(Dims{}) : std::nullopt);
      entry.max_inputs.push_back(in ? std::optional<Dims>(Dims{}) : std::nullopt);
    }
    // Any rank-4 input (conv) or rank-2 input (matmul) with extents 0..1024.
    for (size_t i = 0; i < node->inputs.size(); ++i) {
      if (!node->inputs[i]) continue;
      const size_t rank = node->op_type == "Conv" ? 4 : 2;
      const size_t r = node->inputs[i]->constant ? node->inputs[i]->constant->rank() : rank;
      entry.min_inputs[i] = Dims(r, 0);
      entry.max_inputs[i] = Dims(r, 1024);
    }
    entry.tactic = node->op_type == "Conv" ? "cudnn:99,1" : "cublaslt:0:not-an-algorithm";
    entry.label = "bogus";
    set_stored_tactics(*node, {entry});
  }
  Totals totals;
  BuildConfig config = cuda_config(&totals);
  config.optimize = false;       // keep the nodes (and their records) as made
  config.time_tactics = false;   // and do not replace the records
  auto engine = Builder::build(std::move(graph), config);
  ASSERT_TRUE(engine.ok()) << engine.status().to_string();
  BuildConfig cpu_config;
  cpu_config.profiles = config.profiles;
  auto cpu = Builder::build(conv_matmul_graph(), cpu_config);
  ASSERT_TRUE(cpu.ok());
  Tensor x = random_tensor({3, 3, 16, 16}, 60);
  auto a = run(**engine, x), c = run(**cpu, x);
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  ASSERT_TRUE(c.ok());
  expect_close((*a)[0], (*c)[0], 1e-2);
}

}  // namespace
}  // namespace kiln

#endif  // KILN_WITH_CUDA
