// Profiles at run time: selection by shape, static-batch padding, batch
// buckets, errors naming the input and every profile's range, plan round trip.
#include <gtest/gtest.h>

#include <filesystem>

#include "graph_test_util.h"
#include "kiln/builder.h"

namespace kiln {
namespace {

using testing::random_tensor;

// y = Relu(x @ W), x: [batch, 6]
std::unique_ptr<Graph> make_graph() {
  return testing::matmul_relu_graph(6, 3);
}

OptimizationProfile batch_range(int64_t lo, int64_t opt, int64_t hi) {
  OptimizationProfile p;
  p.inputs["x"] = ProfileRange{{lo, 6}, {opt, 6}, {hi, 6}};
  return p;
}

std::vector<Tensor> run_plain(const Tensor& x) {
  auto engine = Builder::build(make_graph());
  EXPECT_TRUE(engine.ok());
  auto context = (*engine)->create_context();
  auto out = (*context)->execute({{"x", x}});
  EXPECT_TRUE(out.ok());
  return *out;
}

void expect_same(const Tensor& a, const Tensor& b) {
  ASSERT_EQ(a.dims(), b.dims());
  for (int64_t i = 0; i < a.element_count(); ++i) ASSERT_EQ(a.data<float>()[i], b.data<float>()[i]);
}

TEST(EngineProfiles, BatchBucketsPickTheSmallestCoveringBucket) {
  BuildConfig config;
  config.batch_buckets = {1, 8, 32};
  auto engine = Builder::build(make_graph(), config);
  ASSERT_TRUE(engine.ok()) << engine.status().to_string();
  ASSERT_EQ((*engine)->profiles().size(), 3u);
  EXPECT_EQ((*engine)->profile_memory().size(), 3u);
  auto context = (*engine)->create_context();
  ASSERT_TRUE(context.ok());
  const std::pair<int64_t, size_t> cases[] = {{1, 0}, {2, 1}, {8, 1}, {9, 2}, {32, 2}};
  for (auto [batch, profile] : cases) {
    Tensor x = random_tensor({batch, 6}, 10 + static_cast<uint32_t>(batch));
    auto out = (*context)->execute({{"x", x}});
    ASSERT_TRUE(out.ok()) << out.status().to_string();
    EXPECT_EQ((*context)->active_profile(), profile) << "batch " << batch;
    expect_same((*out)[0], run_plain(x)[0]);
  }
  auto too_big = (*context)->execute({{"x", random_tensor({33, 6}, 2)}});
  ASSERT_FALSE(too_big.ok());
  const std::string& m = too_big.status().message();
  EXPECT_NE(m.find("'x'"), std::string::npos) << m;
  EXPECT_NE(m.find("33x6"), std::string::npos) << m;
}

TEST(EngineProfiles, StaticBatchProfilePadsAndSlices) {
  BuildConfig config;
  config.profiles = {batch_range(4, 4, 4), batch_range(16, 16, 16)};
  auto engine = Builder::build(make_graph(), config);
  ASSERT_TRUE(engine.ok()) << engine.status().to_string();
  auto context = (*engine)->create_context();
  for (int64_t batch : {3, 4, 5, 16}) {
    Tensor x = random_tensor({batch, 6}, 30 + static_cast<uint32_t>(batch));
    auto choice = (*context)->choose_profile({{"x", x.dims()}});
    ASSERT_TRUE(choice.ok());
    EXPECT_EQ(choice->profile, batch <= 4 ? 0u : 1u);
    auto out = (*context)->execute({{"x", x}});
    ASSERT_TRUE(out.ok()) << out.status().to_string();
    EXPECT_EQ((*out)[0].dim(0), batch);
    expect_same((*out)[0], run_plain(x)[0]);
  }
  EXPECT_FALSE((*context)->execute({{"x", random_tensor({17, 6}, 3)}}).ok());
}

TEST(EngineProfiles, InvalidProfilesAreRejectedAtBuild) {
  BuildConfig config;
  config.profiles = {batch_range(8, 4, 16)};
  auto engine = Builder::build(make_graph(), config);
  ASSERT_FALSE(engine.ok());
  EXPECT_NE(engine.status().message().find("x"), std::string::npos) << engine.status().message();
}

TEST(EngineProfiles, PlanRoundTripRunsIdentically) {
  BuildConfig config;
  config.batch_buckets = {2, 8};
  auto engine = Builder::build(make_graph(), config);
  ASSERT_TRUE(engine.ok());
  std::string path = (std::filesystem::temp_directory_path() / "kiln_engine_profile_test.kiln").string();
  ASSERT_TRUE(save_engine(**engine, path).ok());
  auto loaded = load_engine(path, BackendKind::kCpu);
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  EXPECT_EQ((*loaded)->profiles(), (*engine)->profiles());
  Tensor x = random_tensor({5, 6}, 77);
  auto a = (*(*engine)->create_context())->execute({{"x", x}});
  auto b = (*(*loaded)->create_context())->execute({{"x", x}});
  ASSERT_TRUE(a.ok() && b.ok());
  expect_same((*a)[0], (*b)[0]);
  EXPECT_FALSE(load_engine(path, BackendKind::kCuda).ok());
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace kiln
