#include "build/memory_planner.h"

#include <gtest/gtest.h>

#include <random>

namespace kiln {
namespace {

// Independent check: any two tensors alive on a common step occupy disjoint bytes.
void expect_valid_plan(const std::vector<TensorLifetime>& lifetimes, const MemoryPlan& plan, size_t alignment) {
  ASSERT_EQ(plan.offsets.size(), lifetimes.size());
  size_t total = 0;
  for (size_t i = 0; i < lifetimes.size(); ++i) {
    total += lifetimes[i].bytes;
    EXPECT_EQ(plan.offsets[i] % alignment, 0u) << "tensor " << lifetimes[i].id;
    EXPECT_LE(plan.offsets[i] + lifetimes[i].bytes, plan.arena_bytes) << "tensor " << lifetimes[i].id;
    EXPECT_EQ(plan.offset_by_id.at(lifetimes[i].id), plan.offsets[i]);
    for (size_t j = i + 1; j < lifetimes.size(); ++j) {
      const TensorLifetime& a = lifetimes[i];
      const TensorLifetime& b = lifetimes[j];
      if (a.bytes == 0 || b.bytes == 0) continue;
      bool live_together = a.first_use <= b.last_use && b.first_use <= a.last_use;
      if (!live_together) continue;
      bool disjoint = plan.offsets[i] + a.bytes <= plan.offsets[j] || plan.offsets[j] + b.bytes <= plan.offsets[i];
      EXPECT_TRUE(disjoint) << "tensors " << a.id << " [" << plan.offsets[i] << ", +" << a.bytes << ") and " << b.id
                            << " [" << plan.offsets[j] << ", +" << b.bytes << ") overlap while both are live";
    }
  }
  EXPECT_EQ(plan.total_tensor_bytes, total);
}

TEST(MemoryPlanner, ReusesMemoryOfDeadTensors) {
  // A chain a -> b -> c: a and c never live together, so they can share.
  std::vector<TensorLifetime> chain = {{0, 1000, 0, 1}, {1, 1000, 1, 2}, {2, 1000, 2, 3}};
  auto plan = plan_memory(chain);
  ASSERT_TRUE(plan.ok()) << plan.status().to_string();
  expect_valid_plan(chain, *plan, kArenaAlignment);
  EXPECT_EQ(plan->arena_bytes, 2 * 1024u);
  EXPECT_EQ(plan->offsets[0], plan->offsets[2]);
  EXPECT_EQ(plan->total_tensor_bytes, 3000u);
}

TEST(MemoryPlanner, FillsGapsLeftByDeadTensors) {
  // P dies after step 1 and R takes its place; that leaves a hole between R
  // and Q which S (alive with both) fills instead of growing the arena.
  std::vector<TensorLifetime> t = {
      {0, 8192, 0, 1},  // P
      {1, 4096, 0, 5},  // Q: above P
      {2, 4096, 2, 5},  // R: reuses P's bytes
      {3, 2048, 2, 3},  // S: into the hole between R and Q
  };
  auto plan = plan_memory(t);
  ASSERT_TRUE(plan.ok());
  expect_valid_plan(t, *plan, kArenaAlignment);
  EXPECT_EQ(plan->offsets[1], 8192u);
  EXPECT_EQ(plan->offsets[2], 0u);
  EXPECT_EQ(plan->offsets[3], 4096u);
  EXPECT_EQ(plan->arena_bytes, 12288u);
}

TEST(MemoryPlanner, RandomLifetimes) {
  std::mt19937_64 rng(1234);
  for (int trial = 0; trial < 200; ++trial) {
    const int count = 1 + static_cast<int>(rng() % 60);
    const int steps = 1 + static_cast<int>(rng() % 40);
    std::vector<TensorLifetime> lifetimes;
    for (int i = 0; i < count; ++i) {
      TensorLifetime t;
      t.id = 1000 + i * 7;
      t.bytes = rng() % 5 == 0 ? rng() % 300 : rng() % 200000;
      t.first_use = static_cast<int64_t>(rng() % steps);
      t.last_use = t.first_use + static_cast<int64_t>(rng() % (steps - t.first_use));
      lifetimes.push_back(t);
    }
    const size_t alignment = trial % 3 == 0 ? 64 : kArenaAlignment;
    auto plan = plan_memory(lifetimes, alignment);
    ASSERT_TRUE(plan.ok()) << plan.status().to_string();
    expect_valid_plan(lifetimes, *plan, alignment);
    // Never worse than one aligned buffer per tensor.
    size_t padded_total = 0;
    for (const auto& t : lifetimes) padded_total += (t.bytes + alignment - 1) / alignment * alignment;
    EXPECT_LE(plan->arena_bytes, padded_total);
    // Never better than the peak of live bytes at any step.
    size_t peak = 0;
    for (int step = 0; step < steps; ++step) {
      size_t live = 0;
      for (const auto& t : lifetimes) {
        if (t.first_use <= step && step <= t.last_use) live += t.bytes;
      }
      peak = std::max(peak, live);
    }
    EXPECT_GE(plan->arena_bytes, peak);
  }
}

TEST(MemoryPlanner, ArenaBelowSumOfTensorsForLongChains) {
  std::vector<TensorLifetime> chain;
  for (int i = 0; i < 50; ++i) chain.push_back({i, 4096, i, i + 1});
  auto plan = plan_memory(chain);
  ASSERT_TRUE(plan.ok());
  expect_valid_plan(chain, *plan, kArenaAlignment);
  EXPECT_LT(plan->arena_bytes, plan->total_tensor_bytes);
  EXPECT_EQ(plan->arena_bytes, 2 * 4096u);
}

TEST(MemoryPlanner, RejectsBadInput) {
  EXPECT_FALSE(plan_memory({{0, 10, 3, 2}}).ok());
  EXPECT_FALSE(plan_memory({{0, 10, 0, 2}, {0, 10, 0, 2}}).ok());
  EXPECT_FALSE(plan_memory({{0, 10, 0, 2}}, 100).ok());
  auto empty = plan_memory({});
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->arena_bytes, 0u);
}

// x -> Relu -> a -> Relu -> b -> Add(b, w) -> c -> Relu -> y ; w constant
TEST(MemoryPlanner, GraphLifetimes) {
  Graph g;
  Value* x = g.value("x");
  Value* a = g.value("a");
  Value* b = g.value("b");
  Value* c = g.value("c");
  Value* y = g.value("y");
  Value* w = g.value("w");
  w->constant = Tensor::zeros(DataType::kFloat32, {16});
  auto add = [&](const char* name, const char* op, std::vector<Value*> in, Value* out) {
    auto n = std::make_unique<Node>();
    n->name = name;
    n->op_type = op;
    n->inputs = std::move(in);
    n->outputs = {out};
    g.add_node(std::move(n));
  };
  // Added out of order on purpose: the planner must use the topological order.
  add("r3", "Relu", {c}, y);
  add("add", "Add", {b, w}, c);
  add("r1", "Relu", {x}, a);
  add("r2", "Relu", {a}, b);
  g.inputs() = {x};
  g.outputs() = {y, a};
  std::map<const Value*, size_t> bytes{{x, 64}, {a, 64}, {b, 64}, {c, 64}, {y, 64}, {w, 64}};
  auto plan = plan_graph_memory(g, bytes);
  ASSERT_TRUE(plan.ok()) << plan.status().to_string();
  EXPECT_EQ(plan->offsets.count(w), 0u) << "constants are not planned";
  ASSERT_EQ(plan->values.size(), 5u);
  std::map<const Value*, TensorLifetime> life;
  for (size_t i = 0; i < plan->values.size(); ++i) life[plan->values[i]] = plan->lifetimes[i];
  // order: r1 (0), r2 (1), add (2), r3 (3)
  EXPECT_EQ(life[x].first_use, 0);
  EXPECT_EQ(life[x].last_use, 0);
  EXPECT_EQ(life[a].first_use, 0);
  EXPECT_EQ(life[a].last_use, 3) << "graph outputs live to the end";
  EXPECT_EQ(life[b].first_use, 1);
  EXPECT_EQ(life[b].last_use, 2);
  EXPECT_EQ(life[c].first_use, 2);
  EXPECT_EQ(life[c].last_use, 3);
  EXPECT_EQ(life[y].first_use, 3);
  EXPECT_EQ(life[y].last_use, 3);
  expect_valid_plan(plan->lifetimes, plan->plan, kArenaAlignment);
  for (const Value* v : plan->values) EXPECT_EQ(plan->offsets.at(v), plan->plan.offsets[life[v].id]);
  EXPECT_LT(plan->plan.arena_bytes, 5 * 256u);

  // Sizes from declared shapes: only static, sized, non-constant values.
  x->dtype = DataType::kFloat32;
  x->shape = Shape::from_dims({2, 8});
  a->dtype = DataType::kFloat16;
  a->shape = Shape::from_dims({2, 8});
  b->dtype = DataType::kFloat32;
  b->shape = Shape({Dim::symbolic("n"), Dim::known(8)});
  c->dtype = DataType::kString;
  c->shape = Shape::from_dims({2});
  w->dtype = DataType::kFloat32;
  w->shape = Shape::from_dims({16});
  std::map<const Value*, size_t> sizes = static_value_bytes(g);
  EXPECT_EQ(sizes, (std::map<const Value*, size_t>{{x, 64}, {a, 32}}));

  // Same graph, same plan (no dependence on pointer values).
  auto again = plan_graph_memory(g, bytes);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->offsets, plan->offsets);
}

}  // namespace
}  // namespace kiln
