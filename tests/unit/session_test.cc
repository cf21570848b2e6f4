// Pool concurrency and chunked pipelining on the CPU backend (streams are
// worker threads there). Runs under ThreadSanitizer in the tsan build.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "graph_test_util.h"
#include "kiln/builder.h"
#include "kiln/session.h"

namespace kiln {
namespace {

using testing::random_tensor;

// y = Relu(x @ W) with a symbolic batch axis.
std::shared_ptr<Engine> make_engine() {
  auto engine = Builder::build(testing::matmul_relu_graph(16, 8));
  EXPECT_TRUE(engine.ok()) << engine.status().to_string();
  return engine.ok() ? *engine : nullptr;
}

TEST(Session, ManyThreadsSubmitConcurrently) {
  auto engine = make_engine();
  ASSERT_NE(engine, nullptr);
  auto reference_context = engine->create_context();
  ASSERT_TRUE(reference_context.ok());
  SessionOptions options;
  options.streams = 3;
  auto session = Session::create(engine, options);
  ASSERT_TRUE(session.ok()) << session.status().to_string();

  constexpr int kThreads = 4, kPerThread = 25;
  std::vector<Tensor> inputs;
  std::vector<Tensor> expected;
  for (int i = 0; i < kThreads * kPerThread; ++i) {
    inputs.push_back(random_tensor({1 + i % 5, 16}, 100 + i));
    auto out = (*reference_context)->execute({{"x", inputs.back()}});
    ASSERT_TRUE(out.ok());
    expected.push_back((*out)[0]);
  }
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<std::future<Expected<Outputs>>> futures;
      for (int i = 0; i < kPerThread; ++i) futures.push_back((*session)->submit({{"x", inputs[t * kPerThread + i]}}));
      for (int i = 0; i < kPerThread; ++i) {
        auto r = futures[i].get();
        const Tensor& want = expected[t * kPerThread + i];
        if (!r.ok() || (*r)[0].dims() != want.dims()) { ++mismatches; continue; }
        for (int64_t k = 0; k < want.element_count(); ++k) {
          if ((*r)[0].data<float>()[k] != want.data<float>()[k]) { ++mismatches; break; }
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST(Session, ChunkedRunEqualsUnsplitRun) {
  auto engine = make_engine();
  ASSERT_NE(engine, nullptr);
  SessionOptions options;
  options.streams = 2;
  auto session = Session::create(engine, options);
  ASSERT_TRUE(session.ok());
  Tensor x = random_tensor({37, 16}, 7);
  auto whole = (*session)->submit({{"x", x}}).get();
  ASSERT_TRUE(whole.ok());
  for (int64_t chunk : {1, 5, 8, 37, 100}) {
    auto chunked = (*session)->run_chunked({{"x", x}}, chunk);
    ASSERT_TRUE(chunked.ok()) << chunked.status().to_string();
    ASSERT_EQ((*chunked)[0].dims(), (*whole)[0].dims());
    for (int64_t k = 0; k < x.dim(0) * 8; ++k) {
      ASSERT_EQ((*chunked)[0].data<float>()[k], (*whole)[0].data<float>()[k]) << "chunk " << chunk;
    }
  }
}

TEST(Session, ErrorsAreDeliveredPerRequest) {
  auto engine = make_engine();
  ASSERT_NE(engine, nullptr);
  auto session = Session::create(engine, {});
  ASSERT_TRUE(session.ok());
  auto bad = (*session)->submit({{"x", random_tensor({2, 15}, 3)}}).get();
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("input 'x'"), std::string::npos) << bad.status().message();
  auto good = (*session)->submit({{"x", random_tensor({2, 16}, 3)}}).get();
  EXPECT_TRUE(good.ok());
  EXPECT_FALSE(split_batch({{"x", random_tensor({4, 16}, 1)}}, 0).ok());
  EXPECT_FALSE(Session::create(engine, SessionOptions{0}).ok());
}

}  // namespace
}  // namespace kiln
