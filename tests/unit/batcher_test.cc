// Dynamic batcher on the CPU backend: results equal unbatched runs, batches
// form under load, priorities, queue limits, timeouts, ordering, requests of
// different trailing shapes, errors and shutdown. Tests hold the only
// instance busy by blocking inside a completion callback (callbacks run on
// the instance's worker), so which requests are queued together is known
// without relying on timing. Runs under ThreadSanitizer in the tsan build.
#include "kiln/batcher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <mutex>
#include <set>
#include <thread>

#include "graph_test_util.h"
#include "kiln/builder.h"

namespace kiln {
namespace {

using testing::GraphMaker;
using testing::random_tensor;

constexpr int64_t kIn = 16;

// y = Relu(x @ W), x: [batch, 16], profiles per batch bucket.
std::shared_ptr<Engine> matmul_engine(std::vector<int64_t> buckets = {1, 4, 16},
                                      std::vector<OptimizationProfile> profiles = {}) {
  BuildConfig config;
  config.batch_buckets = std::move(buckets);
  config.profiles = std::move(profiles);
  auto engine = Builder::build(testing::matmul_relu_graph(kIn, 8), config);
  EXPECT_TRUE(engine.ok()) << engine.status().to_string();
  return engine.ok() ? *engine : nullptr;
}

OptimizationProfile static_batch(int64_t batch) {
  OptimizationProfile p;
  p.inputs["x"] = ProfileRange{{batch, kIn}, {batch, kIn}, {batch, kIn}};
  return p;
}

// y = Softmax(x, axis=-1) * 3, x: [batch, n] with both axes dynamic.
std::shared_ptr<Engine> rows_engine(std::vector<OptimizationProfile> profiles = {}) {
  GraphMaker m;
  Value* x = m.input("x", {1, 1});
  x->shape = Shape({Dim::symbolic("batch"), Dim::symbolic("n")});
  Value* soft = m.node("Softmax", {x}, "soft", {{"axis", Attribute::of_int(-1)}});
  m.output(m.node("Mul", {soft, m.scalar("three", 3.f)}, "y"));
  BuildConfig config;
  config.profiles = std::move(profiles);
  auto engine = Builder::build(m.take(), config);
  EXPECT_TRUE(engine.ok()) << engine.status().to_string();
  return engine.ok() ? *engine : nullptr;
}

// y = Relu(x + b), two inputs sharing the batch axis.
std::shared_ptr<Engine> two_input_engine() {
  GraphMaker m;
  Value* x = m.input("x", {1, kIn});
  Value* b = m.input("b", {1, kIn});
  x->shape = b->shape = Shape({Dim::symbolic("batch"), Dim::known(kIn)});
  m.output(m.node("Relu", {m.node("Add", {x, b}, "sum")}, "y"));
  auto engine = Builder::build(m.take());
  EXPECT_TRUE(engine.ok()) << engine.status().to_string();
  return engine.ok() ? *engine : nullptr;
}

Outputs run_alone(const Engine& engine, const TensorMap& inputs) {
  auto context = engine.create_context();
  EXPECT_TRUE(context.ok());
  auto out = (*context)->execute(inputs);
  EXPECT_TRUE(out.ok()) << out.status().to_string();
  return out.ok() ? *out : Outputs{};
}

// Empty when equal (within float rounding: a batched matmul may sum in another order).
std::string compare(const Outputs& got, const Outputs& want) {
  if (got.size() != want.size()) return "output count " + std::to_string(got.size());
  for (size_t i = 0; i < got.size(); ++i) {
    if (got[i].dims() != want[i].dims()) return "shape " + got[i].describe() + " vs " + want[i].describe();
    for (int64_t k = 0; k < want[i].element_count(); ++k) {
      const float a = got[i].data<float>()[k], b = want[i].data<float>()[k];
      if (std::fabs(a - b) > 1e-5f * (1.f + std::fabs(b))) return "element " + std::to_string(k) + " differs";
    }
  }
  return "";
}

// Holds the batcher's instance inside a completion callback until released.
class Blocker {
 public:
  Blocker() : release_future_(release_.get_future().share()) {}
  ~Blocker() { release(); }
  OutputsCallback callback() {
    return [this](Expected<Outputs> result) {
      ok_ = result.ok();
      entered_.set_value();
      release_future_.wait();
    };
  }
  void wait_entered() { entered_.get_future().wait(); }
  void release() {
    if (!released_.exchange(true)) release_.set_value();
  }
  bool ok() const { return ok_; }

 private:
  std::promise<void> entered_;
  std::promise<void> release_;
  std::shared_future<void> release_future_;
  std::atomic<bool> released_{false};
  bool ok_ = false;  // written by the worker before entered_ is set
};

void many_threads_get_their_own_results(bool join_ahead) {
  auto engine = matmul_engine();
  ASSERT_NE(engine, nullptr);
  BatcherOptions options;
  options.instances = 2;
  options.max_queue_delay_us = 200;
  options.join_ahead = join_ahead;
  auto batcher = DynamicBatcher::create(engine, options);
  ASSERT_TRUE(batcher.ok()) << batcher.status().to_string();
  EXPECT_EQ((*batcher)->options().max_batch_size, 16);

  constexpr int kThreads = 4, kPerThread = 40;
  std::vector<Tensor> inputs;
  std::vector<Outputs> expected;
  uint64_t items = 0;
  for (int i = 0; i < kThreads * kPerThread; ++i) {
    inputs.push_back(random_tensor({1 + i % 5, kIn}, 500 + i));
    items += static_cast<uint64_t>(1 + i % 5);
    expected.push_back(run_alone(*engine, {{"x", inputs.back()}}));
  }
  std::atomic<int> mismatches{0};
  std::atomic<bool> running{true};
  std::thread poller([&] {
    while (running) (void)(*batcher)->stats();
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<std::future<Expected<Outputs>>> futures;
      for (int i = 0; i < kPerThread; ++i) futures.push_back((*batcher)->submit({{"x", inputs[t * kPerThread + i]}}));
      for (int i = 0; i < kPerThread; ++i) {
        auto result = futures[i].get();
        if (!result.ok() || !compare(*result, expected[t * kPerThread + i]).empty()) ++mismatches;
      }
    });
  }
  for (auto& th : threads) th.join();
  running = false;
  poller.join();
  EXPECT_EQ(mismatches.load(), 0);

  BatcherStats stats = (*batcher)->stats();
  EXPECT_EQ(stats.requests_ok, static_cast<uint64_t>(kThreads * kPerThread));
  EXPECT_EQ(stats.requests_failed, 0u);
  EXPECT_EQ(stats.inference_count, items);
  EXPECT_EQ(stats.pending, 0u);
  uint64_t batches = 0, histogram_items = 0;
  for (auto [size, count] : stats.batch_size_histogram) {
    EXPECT_GE(size, 1);
    EXPECT_LE(size, 16);
    batches += count;
    histogram_items += static_cast<uint64_t>(size) * count;
  }
  EXPECT_EQ(batches, stats.execution_count);
  EXPECT_EQ(histogram_items, items);
  EXPECT_EQ(stats.batch_compute_ns.size(), stats.batch_size_histogram.size());
  EXPECT_GT(stats.compute_ns, 0u);
  EXPECT_GE(stats.request_ns, stats.queue_ns);  // each request: submit -> start <= submit -> answer
}

TEST(DynamicBatcher, CallbacksMaySubmitAgain) {
  auto engine = matmul_engine();
  ASSERT_NE(engine, nullptr);
  auto batcher = DynamicBatcher::create(engine, {});
  ASSERT_TRUE(batcher.ok());
  std::promise<int> last;
  std::function<void(int)> chain = [&](int step) {
    Status s = (*batcher)->submit({{"x", random_tensor({1, kIn}, 50 + step)}}, [&, step](Expected<Outputs> result) {
      if (!result.ok() || step == 4) {
        last.set_value(result.ok() ? step : -1);
        return;
      }
      chain(step + 1);
    });
    if (!s.ok()) last.set_value(-1);
  };
  chain(0);
  EXPECT_EQ(last.get_future().get(), 4);
}

TEST(DynamicBatcher, QueuedRequestsAreJoinedIntoFullBatches) {
  auto engine = matmul_engine();
  ASSERT_NE(engine, nullptr);
  BatcherOptions options;
  options.max_queue_delay_us = int64_t{3600} * 1000 * 1000;  // only full batches can go
  auto batcher = DynamicBatcher::create(engine, options);
  ASSERT_TRUE(batcher.ok()) << batcher.status().to_string();
  EXPECT_EQ((*batcher)->options().preferred_batch_sizes, std::vector<int64_t>{16});

  Blocker blocker;
  ASSERT_TRUE((*batcher)->submit({{"x", random_tensor({16, kIn}, 1)}}, blocker.callback()).ok());
  blocker.wait_entered();
  std::vector<Tensor> inputs;
  std::vector<std::future<Expected<Outputs>>> futures;
  for (int i = 0; i < 64; ++i) {
    inputs.push_back(random_tensor({1, kIn}, 100 + i));
    futures.push_back((*batcher)->submit({{"x", inputs.back()}}));
  }
  EXPECT_EQ((*batcher)->stats().pending, 64u);
  blocker.release();
  for (int i = 0; i < 64; ++i) {
    auto result = futures[i].get();
    ASSERT_TRUE(result.ok()) << result.status().to_string();
    EXPECT_EQ(compare(*result, run_alone(*engine, {{"x", inputs[i]}})), "") << "request " << i;
  }
  EXPECT_TRUE(blocker.ok());
  BatcherStats stats = (*batcher)->stats();
  EXPECT_EQ(stats.batch_size_histogram, (std::map<int64_t, uint64_t>{{16, 5}}));
  EXPECT_EQ(stats.execution_count, 5u);
}

TEST(DynamicBatcher, StaticBatchProfilesArePreferredSizes) {
  // Profiles of batch 4 and 16 exactly: smaller batches are padded, so 4 and 16 are preferred.
  auto engine = matmul_engine({}, {static_batch(4), static_batch(16)});
  ASSERT_NE(engine, nullptr);
  auto batcher = DynamicBatcher::create(engine, {});
  ASSERT_TRUE(batcher.ok()) << batcher.status().to_string();
  EXPECT_EQ((*batcher)->options().max_batch_size, 16);
  EXPECT_EQ((*batcher)->options().preferred_batch_sizes, (std::vector<int64_t>{4, 16}));

  Blocker blocker;
  ASSERT_TRUE((*batcher)->submit({{"x", random_tensor({4, kIn}, 1)}}, blocker.callback()).ok());
  blocker.wait_entered();
  std::vector<Tensor> inputs;
  std::vector<std::future<Expected<Outputs>>> futures;
  for (int i = 0; i < 10; ++i) {
    inputs.push_back(random_tensor({1, kIn}, 200 + i));
    futures.push_back((*batcher)->submit({{"x", inputs.back()}}));
  }
  blocker.release();
  for (int i = 0; i < 10; ++i) {
    auto result = futures[i].get();
    ASSERT_TRUE(result.ok()) << result.status().to_string();
    EXPECT_EQ(compare(*result, run_alone(*engine, {{"x", inputs[i]}})), "") << "request " << i;
  }
  // Ten queued: 4 and 4 go at once (preferred), the last 2 after the delay.
  EXPECT_EQ((*batcher)->stats().batch_size_histogram, (std::map<int64_t, uint64_t>{{2, 1}, {4, 3}}));
}

TEST(DynamicBatcher, HigherPriorityRunsFirst) {
  auto engine = matmul_engine();
  ASSERT_NE(engine, nullptr);
  BatcherOptions options;
  options.max_batch_size = 1;
  options.priority_levels = 3;
  options.default_priority = 2;
  auto batcher = DynamicBatcher::create(engine, options);
  ASSERT_TRUE(batcher.ok()) << batcher.status().to_string();

  Blocker blocker;
  ASSERT_TRUE((*batcher)->submit({{"x", random_tensor({1, kIn}, 1)}}, blocker.callback()).ok());
  blocker.wait_entered();
  std::mutex mutex;
  std::vector<std::string> order;
  std::vector<std::future<void>> finished;
  auto submit = [&](const std::string& name, int priority) {
    auto promise = std::make_shared<std::promise<void>>();
    finished.push_back(promise->get_future());
    Status s = (*batcher)->submit(
        {{"x", random_tensor({1, kIn}, 2)}},
        [&, name, promise](Expected<Outputs> result) {
          EXPECT_TRUE(result.ok()) << name;
          {
            std::lock_guard<std::mutex> lock(mutex);
            order.push_back(name);
          }
          promise->set_value();
        },
        BatchRequestOptions{priority, 0});
    EXPECT_TRUE(s.ok()) << s.to_string();
  };
  submit("low1", 3);
  submit("default1", 0);
  submit("low2", 3);
  submit("high1", 1);
  submit("default2", 2);
  submit("high2", 1);
  blocker.release();
  for (auto& f : finished) f.wait();
  std::lock_guard<std::mutex> lock(mutex);
  EXPECT_EQ(order, (std::vector<std::string>{"high1", "high2", "default1", "default2", "low1", "low2"}));
}

TEST(DynamicBatcher, FullQueueRejects) {
  auto engine = matmul_engine();
  ASSERT_NE(engine, nullptr);
  BatcherOptions options;
  options.max_queue_size = 4;
  auto batcher = DynamicBatcher::create(engine, options);
  ASSERT_TRUE(batcher.ok());
  Blocker blocker;
  ASSERT_TRUE((*batcher)->submit({{"x", random_tensor({1, kIn}, 1)}}, blocker.callback()).ok());
  blocker.wait_entered();
  std::vector<std::future<Expected<Outputs>>> futures;
  for (int i = 0; i < 4; ++i) futures.push_back((*batcher)->submit({{"x", random_tensor({1, kIn}, 10 + i)}}));
  bool called = false;
  Status rejected = (*batcher)->submit({{"x", random_tensor({1, kIn}, 3)}}, [&](Expected<Outputs>) { called = true; });
  EXPECT_EQ(rejected.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(rejected.message().find("4"), std::string::npos) << rejected.message();
  BatcherStats stats = (*batcher)->stats();
  EXPECT_EQ(stats.pending, 4u);
  EXPECT_EQ(stats.requests_rejected, 1u);
  EXPECT_EQ(stats.requests_failed, 1u);
  blocker.release();
  for (auto& f : futures) EXPECT_TRUE(f.get().ok());
  EXPECT_FALSE(called);
}

TEST(DynamicBatcher, ExpiredRequestsFailWithoutRunning) {
  auto engine = matmul_engine();
  ASSERT_NE(engine, nullptr);
  BatcherOptions options;
  options.default_timeout_us = 1000;
  auto batcher = DynamicBatcher::create(engine, options);
  ASSERT_TRUE(batcher.ok());
  Blocker blocker;
  const BatchRequestOptions patient_options{0, int64_t{1} << 40};
  ASSERT_TRUE((*batcher)->submit({{"x", random_tensor({16, kIn}, 1)}}, blocker.callback(), patient_options).ok());
  blocker.wait_entered();
  auto expires = (*batcher)->submit({{"x", random_tensor({2, kIn}, 2)}});  // default timeout
  auto own = (*batcher)->submit({{"x", random_tensor({2, kIn}, 3)}}, BatchRequestOptions{0, 2000});
  auto patient = (*batcher)->submit({{"x", random_tensor({3, kIn}, 4)}}, patient_options);
  // Both short timeouts have certainly passed when the instance frees up.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  blocker.release();
  auto a = expires.get(), b = own.get(), c = patient.get();
  EXPECT_EQ(a.status().code(), StatusCode::kDeadlineExceeded) << a.status().to_string();
  EXPECT_EQ(b.status().code(), StatusCode::kDeadlineExceeded) << b.status().to_string();
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  BatcherStats stats = (*batcher)->stats();
  EXPECT_EQ(stats.requests_timed_out, 2u);
  EXPECT_EQ(stats.requests_failed, 2u);
  // Only the blocker and the patient request ran.
  EXPECT_EQ(stats.inference_count, 19u);
}

void preserve_ordering_delivers_in_submission_order(bool join_ahead) {
  auto engine = rows_engine();
  ASSERT_NE(engine, nullptr);
  BatcherOptions options;
  options.max_batch_size = 8;
  options.instances = 3;
  options.max_queue_delay_us = 0;
  options.preserve_ordering = true;
  options.join_ahead = join_ahead;
  auto batcher = DynamicBatcher::create(engine, options);
  ASSERT_TRUE(batcher.ok()) << batcher.status().to_string();

  constexpr int kRequests = 120;
  std::vector<Tensor> inputs;
  for (int i = 0; i < kRequests; ++i) {
    // Sizes vary a lot so that later requests often finish first.
    inputs.push_back(random_tensor({1 + i % 4, (i % 3 == 0) ? 2048 : 4}, 300 + i));
  }
  std::mutex mutex;
  std::vector<int> delivered;
  std::vector<Expected<Outputs>> results(kRequests, Status(StatusCode::kInternal, "not delivered"));
  std::promise<void> all_done;
  for (int i = 0; i < kRequests; ++i) {
    Status s = (*batcher)->submit({{"x", inputs[i]}}, [&, i](Expected<Outputs> result) {
      std::lock_guard<std::mutex> lock(mutex);
      delivered.push_back(i);
      results[i] = std::move(result);
      if (delivered.size() == kRequests) all_done.set_value();
    });
    ASSERT_TRUE(s.ok()) << s.to_string();
  }
  all_done.get_future().wait();
  std::lock_guard<std::mutex> lock(mutex);
  for (int i = 0; i < kRequests; ++i) {
    EXPECT_EQ(delivered[i], i);
    ASSERT_TRUE(results[i].ok()) << results[i].status().to_string();
    EXPECT_EQ(compare(*results[i], run_alone(*engine, {{"x", inputs[i]}})), "") << "request " << i;
  }
}

TEST(DynamicBatcher, DifferentTrailingShapesAreNotMixed) {
  auto engine = rows_engine();
  ASSERT_NE(engine, nullptr);
  BatcherOptions options;
  options.max_batch_size = 8;
  auto batcher = DynamicBatcher::create(engine, options);
  ASSERT_TRUE(batcher.ok()) << batcher.status().to_string();

  Blocker blocker;
  ASSERT_TRUE((*batcher)->submit({{"x", random_tensor({8, 5}, 1)}}, blocker.callback()).ok());
  blocker.wait_entered();
  const int64_t widths[] = {3, 5, 7};
  std::vector<Tensor> inputs;
  std::vector<std::future<Expected<Outputs>>> futures;
  for (int i = 0; i < 24; ++i) {
    inputs.push_back(random_tensor({1 + i % 3, widths[(i / 2) % 3]}, 400 + i));
    futures.push_back((*batcher)->submit({{"x", inputs.back()}}));
  }
  blocker.release();
  for (int i = 0; i < 24; ++i) {
    auto result = futures[i].get();
    ASSERT_TRUE(result.ok()) << "request " << i << ": " << result.status().to_string();
    EXPECT_EQ(compare(*result, run_alone(*engine, {{"x", inputs[i]}})), "") << "request " << i;
  }
  BatcherStats stats = (*batcher)->stats();
  EXPECT_EQ(stats.requests_ok, 25u);
  // 16 items of each width, at most 8 per batch, plus the blocker.
  EXPECT_GE(stats.execution_count, 1u + 3u * 2u);
}

TEST(DynamicBatcher, BatchesShrinkToFitAProfile) {
  // Short rows run in batches up to 8; long rows only up to 2.
  OptimizationProfile short_rows, long_rows;
  short_rows.inputs["x"] = ProfileRange{{1, 1}, {8, 16}, {8, 16}};
  long_rows.inputs["x"] = ProfileRange{{1, 17}, {2, 64}, {2, 64}};
  auto engine = rows_engine({short_rows, long_rows});
  ASSERT_NE(engine, nullptr);
  auto batcher = DynamicBatcher::create(engine, {});
  ASSERT_TRUE(batcher.ok()) << batcher.status().to_string();
  EXPECT_EQ((*batcher)->options().max_batch_size, 8);

  Blocker blocker;
  ASSERT_TRUE((*batcher)->submit({{"x", random_tensor({8, 4}, 1)}}, blocker.callback()).ok());
  blocker.wait_entered();
  std::vector<Tensor> inputs;
  std::vector<std::future<Expected<Outputs>>> futures;
  for (int i = 0; i < 6; ++i) {
    inputs.push_back(random_tensor({1, 32}, 600 + i));
    futures.push_back((*batcher)->submit({{"x", inputs.back()}}));
  }
  blocker.release();
  for (int i = 0; i < 6; ++i) {
    auto result = futures[i].get();
    ASSERT_TRUE(result.ok()) << result.status().to_string();
    EXPECT_EQ(compare(*result, run_alone(*engine, {{"x", inputs[i]}})), "") << "request " << i;
  }
  EXPECT_EQ((*batcher)->stats().batch_size_histogram, (std::map<int64_t, uint64_t>{{2, 3}, {8, 1}}));
  // A request that fits no profile is refused at submit.
  Status s = (*batcher)->submit({{"x", random_tensor({3, 32}, 9)}}, [](Expected<Outputs>) {});
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("'x'"), std::string::npos) << s.message();
}

TEST(DynamicBatcher, FailedBatchFailsEveryRequestInIt) {
  // y = Reshape(x, [1, 16]): a lone request of batch 1 runs, a batch of two cannot.
  GraphMaker m;
  Value* x = m.input("x", {1, kIn});
  x->shape = Shape({Dim::symbolic("batch"), Dim::known(kIn)});
  Value* shape = m.constant("shape", Tensor::from_vector<int64_t>(DataType::kInt64, {2}, {1, kIn}));
  m.output(m.node("Reshape", {x, shape}, "y"));
  auto engine = Builder::build(m.take());
  ASSERT_TRUE(engine.ok()) << engine.status().to_string();
  BatcherOptions options;
  options.max_batch_size = 2;
  auto batcher = DynamicBatcher::create(*engine, options);
  ASSERT_TRUE(batcher.ok()) << batcher.status().to_string();

  Blocker blocker;
  ASSERT_TRUE((*batcher)->submit({{"x", random_tensor({1, kIn}, 1)}}, blocker.callback()).ok());
  blocker.wait_entered();
  EXPECT_TRUE(blocker.ok());
  auto first = (*batcher)->submit({{"x", random_tensor({1, kIn}, 2)}});
  auto second = (*batcher)->submit({{"x", random_tensor({1, kIn}, 3)}});
  blocker.release();
  auto a = first.get(), b = second.get();
  ASSERT_FALSE(a.ok());
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(a.status().to_string(), b.status().to_string());
  EXPECT_NE(a.status().message().find("batch of 2 items from 2 requests"), std::string::npos) << a.status().message();
  BatcherStats stats = (*batcher)->stats();
  EXPECT_EQ(stats.requests_failed, 2u);
  EXPECT_EQ(stats.requests_ok, 1u);
  EXPECT_EQ(stats.batch_size_histogram, (std::map<int64_t, uint64_t>{{1, 1}}));
}

void expect_error(const Status& s, StatusCode code, std::vector<std::string> fragments) {
  EXPECT_EQ(s.code(), code) << s.to_string();
  for (const std::string& f : fragments) EXPECT_NE(s.message().find(f), std::string::npos) << s.message();
}

TEST(DynamicBatcher, InvalidRequestsAreRefusedAtSubmit) {
  auto engine = two_input_engine();
  ASSERT_NE(engine, nullptr);
  BatcherOptions options;
  options.max_batch_size = 4;
  options.priority_levels = 2;
  auto created = DynamicBatcher::create(engine, options);
  ASSERT_TRUE(created.ok()) << created.status().to_string();
  DynamicBatcher& batcher = **created;
  std::atomic<int> calls{0};
  auto submit = [&](TensorMap inputs, BatchRequestOptions request = {}) {
    return batcher.submit(
        std::move(inputs), [&](Expected<Outputs>) { ++calls; }, request);
  };
  const Tensor x2 = random_tensor({2, kIn}, 1), b2 = random_tensor({2, kIn}, 2);
  expect_error(submit({{"x", x2}}), StatusCode::kInvalidArgument, {"'b'", "missing"});
  expect_error(submit({{"x", x2}, {"b", b2}, {"c", b2}}), StatusCode::kNotFound, {"'c'"});
  expect_error(submit({{"x", x2}, {"b", random_tensor({2, 15}, 3)}}), StatusCode::kInvalidArgument, {"'b'", "2x15"});
  expect_error(submit({{"x", x2}, {"b", Tensor::zeros(DataType::kInt32, {2, kIn})}}), StatusCode::kInvalidArgument,
               {"'b'", "int32"});
  expect_error(submit({{"x", x2}, {"b", random_tensor({3, kIn}, 4)}}), StatusCode::kInvalidArgument,
               {"'b'", "3x16", "'x'", "2x16"});
  expect_error(submit({{"x", random_tensor({0, kIn}, 5)}, {"b", random_tensor({0, kIn}, 5)}}),
               StatusCode::kInvalidArgument, {"batch 0", "0x16"});
  expect_error(submit({{"x", random_tensor({5, kIn}, 6)}, {"b", random_tensor({5, kIn}, 6)}}),
               StatusCode::kInvalidArgument, {"batch 5", "5x16", "max_batch_size 4"});
  expect_error(submit({{"x", x2}, {"b", b2}}, {3, 0}), StatusCode::kInvalidArgument, {"priority 3", "1..2"});
  expect_error(submit({{"x", x2}, {"b", b2}}, {-1, 0}), StatusCode::kInvalidArgument, {"priority -1"});
  expect_error(submit({{"x", x2}, {"b", b2}}, {0, -5}), StatusCode::kInvalidArgument, {"timeout_us", "-5"});
  expect_error(batcher.submit({{"x", x2}, {"b", b2}}, OutputsCallback{}), StatusCode::kInvalidArgument, {"callback"});
  EXPECT_EQ(batcher.stats().requests_failed, 11u);
  auto good = batcher.submit({{"x", x2}, {"b", b2}}, BatchRequestOptions{2, 0}).get();
  ASSERT_TRUE(good.ok()) << good.status().to_string();
  EXPECT_EQ(compare(*good, run_alone(*engine, {{"x", x2}, {"b", b2}})), "");
  EXPECT_EQ(calls.load(), 0);
}

TEST(DynamicBatcher, InvalidOptionsAreRefusedAtCreate) {
  auto bucketed = matmul_engine();
  auto unbounded = rows_engine();
  ASSERT_NE(bucketed, nullptr);
  ASSERT_NE(unbounded, nullptr);
  auto error = [](std::shared_ptr<const Engine> engine, BatcherOptions options) {
    auto b = DynamicBatcher::create(std::move(engine), options);
    return b.ok() ? ok_status() : b.status();
  };
  expect_error(error(unbounded, {}), StatusCode::kInvalidArgument, {"max_batch_size", "unbounded"});
  expect_error(error(nullptr, {}), StatusCode::kInvalidArgument, {"engine"});
  BatcherOptions o;
  o.max_batch_size = 32;
  expect_error(error(bucketed, o), StatusCode::kInvalidArgument, {"max_batch_size 32", "16"});
  o = {};
  o.max_batch_size = -1;
  expect_error(error(bucketed, o), StatusCode::kInvalidArgument, {"max_batch_size", "-1"});
  o = {};
  o.preferred_batch_sizes = {4, 17};
  expect_error(error(bucketed, o), StatusCode::kInvalidArgument, {"preferred batch size 17", "1..16"});
  o = {};
  o.priority_levels = 0;
  expect_error(error(bucketed, o), StatusCode::kInvalidArgument, {"priority_levels", "0"});
  o = {};
  o.priority_levels = 2;
  o.default_priority = 3;
  expect_error(error(bucketed, o), StatusCode::kInvalidArgument, {"default_priority", "3"});
  o = {};
  o.instances = 0;
  expect_error(error(bucketed, o), StatusCode::kInvalidArgument, {"instances", "0"});
  o.instances = 65;
  expect_error(error(bucketed, o), StatusCode::kInvalidArgument, {"instances", "65"});
  o = {};
  o.max_queue_delay_us = -1;
  expect_error(error(bucketed, o), StatusCode::kInvalidArgument, {"max_queue_delay_us", "-1"});
  o = {};
  o.default_timeout_us = -2;
  expect_error(error(bucketed, o), StatusCode::kInvalidArgument, {"default_timeout_us", "-2"});
  o = {};
  o.max_queue_size = 0;
  expect_error(error(bucketed, o), StatusCode::kInvalidArgument, {"max_queue_size"});

  GraphMaker m;  // a model whose input has no batch axis
  Value* s = m.input("s", {});
  m.output(m.node("Relu", {s}, "y"));
  auto scalar_engine = Builder::build(m.take());
  ASSERT_TRUE(scalar_engine.ok()) << scalar_engine.status().to_string();
  o = {};
  o.max_batch_size = 4;
  expect_error(error(*scalar_engine, o), StatusCode::kInvalidArgument, {"'s'", "batch axis"});

  o = {};
  o.preferred_batch_sizes = {8, 2, 8};
  auto ok = DynamicBatcher::create(bucketed, o);
  ASSERT_TRUE(ok.ok()) << ok.status().to_string();
  EXPECT_EQ((*ok)->options().preferred_batch_sizes, (std::vector<int64_t>{2, 8}));
  EXPECT_EQ((*ok)->options().max_batch_size, 16);
}

void destructor_runs_queued_requests(bool join_ahead) {
  auto engine = matmul_engine();
  ASSERT_NE(engine, nullptr);
  BatcherOptions options;
  options.instances = 2;
  // A batch short of 16 would wait an hour: only shutdown sends these.
  options.max_queue_delay_us = int64_t{3600} * 1000 * 1000;
  options.join_ahead = join_ahead;
  auto batcher = DynamicBatcher::create(engine, options);
  ASSERT_TRUE(batcher.ok());
  std::vector<Tensor> inputs;
  std::vector<std::future<Expected<Outputs>>> futures;
  for (int i = 0; i < 5; ++i) {
    inputs.push_back(random_tensor({1 + i, kIn}, 700 + i));
    futures.push_back((*batcher)->submit({{"x", inputs.back()}}));
  }
  batcher->reset();
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(futures[i].wait_for(std::chrono::seconds(0)), std::future_status::ready) << "request " << i;
    auto result = futures[i].get();
    ASSERT_TRUE(result.ok()) << result.status().to_string();
    EXPECT_EQ(compare(*result, run_alone(*engine, {{"x", inputs[i]}})), "") << "request " << i;
  }
}

TEST(DynamicBatcher, ManyThreadsGetTheirOwnResults) { many_threads_get_their_own_results(false); }
TEST(DynamicBatcher, ManyThreadsGetTheirOwnResultsJoiningAhead) { many_threads_get_their_own_results(true); }
TEST(DynamicBatcher, PreserveOrderingDeliversInSubmissionOrder) { preserve_ordering_delivers_in_submission_order(false); }
TEST(DynamicBatcher, PreserveOrderingJoiningAhead) { preserve_ordering_delivers_in_submission_order(true); }
TEST(DynamicBatcher, DestructorRunsQueuedRequests) { destructor_runs_queued_requests(false); }
TEST(DynamicBatcher, DestructorRunsQueuedRequestsJoiningAhead) { destructor_runs_queued_requests(true); }

// join_ahead: while an instance runs a batch, its joining side prepares exactly
// one more and leaves the rest queued for whichever side is free next.
TEST(DynamicBatcher, JoiningAheadHoldsAtMostOneBatch) {
  auto engine = matmul_engine();
  ASSERT_NE(engine, nullptr);
  BatcherOptions options;
  options.max_queue_delay_us = 0;
  options.join_ahead = true;
  auto batcher = DynamicBatcher::create(engine, options);
  ASSERT_TRUE(batcher.ok()) << batcher.status().to_string();
  EXPECT_EQ((*batcher)->options().join_ahead, std::optional<bool>(true));

  Blocker blocker;
  ASSERT_TRUE((*batcher)->submit({{"x", random_tensor({1, kIn}, 11)}}, blocker.callback()).ok());
  blocker.wait_entered();
  const Tensor a = random_tensor({1, kIn}, 12), b = random_tensor({2, kIn}, 13), c = random_tensor({3, kIn}, 14);
  auto first = (*batcher)->submit({{"x", a}});
  // The joining side takes `a` alone (no queue delay) and then waits for the running side.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while ((*batcher)->stats().pending != 0 && std::chrono::steady_clock::now() < give_up) std::this_thread::yield();
  ASSERT_EQ((*batcher)->stats().pending, 0u);
  auto second = (*batcher)->submit({{"x", b}});
  auto third = (*batcher)->submit({{"x", c}});
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ((*batcher)->stats().pending, 2u);  // not taken while a prepared batch waits
  blocker.release();
  auto ra = first.get(), rb = second.get(), rc = third.get();
  ASSERT_TRUE(ra.ok() && rb.ok() && rc.ok());
  EXPECT_EQ(compare(*ra, run_alone(*engine, {{"x", a}})), "");
  EXPECT_EQ(compare(*rb, run_alone(*engine, {{"x", b}})), "");
  EXPECT_EQ(compare(*rc, run_alone(*engine, {{"x", c}})), "");
  // The blocker's batch and `a` ran alone; `b` and `c` were joined once the hand-off was free.
  EXPECT_EQ((*batcher)->stats().batch_size_histogram, (std::map<int64_t, uint64_t>{{1, 2}, {5, 1}}));
}

// join_ahead with two instances: while one instance runs a batch, a new request
// goes to the idle one rather than waiting in the busy one's hand-off.
TEST(DynamicBatcher, JoiningAheadLeavesRequestsToIdleInstances) {
  auto engine = matmul_engine();
  ASSERT_NE(engine, nullptr);
  BatcherOptions options;
  options.instances = 2;
  options.max_queue_delay_us = 0;
  options.join_ahead = true;
  auto batcher = DynamicBatcher::create(engine, options);
  ASSERT_TRUE(batcher.ok()) << batcher.status().to_string();
  Blocker blocker;
  ASSERT_TRUE((*batcher)->submit({{"x", random_tensor({1, kIn}, 21)}}, blocker.callback()).ok());
  blocker.wait_entered();
  for (int i = 0; i < 20; ++i) {
    const Tensor x = random_tensor({1 + i % 3, kIn}, 22 + i);
    auto result = (*batcher)->submit({{"x", x}});
    ASSERT_EQ(result.wait_for(std::chrono::seconds(10)), std::future_status::ready)
        << "request " << i << " waited for the busy instance";
    auto outputs = result.get();
    ASSERT_TRUE(outputs.ok()) << outputs.status().to_string();
    EXPECT_EQ(compare(*outputs, run_alone(*engine, {{"x", x}})), "");
  }
  blocker.release();
  batcher->reset();  // the blocked callback returns before the blocker is destroyed
}

TEST(DynamicBatcher, JoiningAheadDefaultsToTheBackend) {
  auto engine = matmul_engine();
  ASSERT_NE(engine, nullptr);
  auto batcher = DynamicBatcher::create(engine, {});
  ASSERT_TRUE(batcher.ok());
  EXPECT_EQ((*batcher)->options().join_ahead, std::optional<bool>(false));  // CPU engine
}

}  // namespace
}  // namespace kiln
