// kiln.Attention on the device against the CPU backend (which runs the ops the
// fusion replaced), in float32 (one warp per query), float16 and bfloat16
// (tensor cores for head sizes 32, 64 and 128, the warp kernel otherwise), on
// sequence lengths that fill and that miss the 64-key tiles, with padding,
// per-query and absent masks and fully masked queries.
#if KILN_WITH_CUDA

#include <gtest/gtest.h>

#include <cmath>

#include "backends/cuda/kernels/attention_launch.h"
#include "cuda_node_runner.h"
#include "cuda_test_support.h"
#include "graph_test_util.h"

namespace kiln::cuda {
namespace {

using kiln::testing::random_tensor;

TEST(CudaAttention, TensorCoreKernelTakesAlignedHalfOperandsOfItsHeadSizes) {
  alignas(16) static char buffer[64];
  AttentionArgs a;
  for (AttentionOperand* x : {&a.q, &a.k, &a.v}) *x = {buffer, 128 * 12 * 64, 12 * 64, 64};
  a.out = buffer;
  a.out_batch_stride = 128 * 12 * 64;
  a.out_seq_stride = 12 * 64;
  a.out_head_stride = 64;
  a.batch = 2, a.heads = 12, a.q_len = a.kv_len = 128, a.head_size = a.value_size = 64;
  EXPECT_TRUE(attention_uses_tensor_cores(DataType::kFloat16, a));
  EXPECT_TRUE(attention_uses_tensor_cores(DataType::kBFloat16, a));
  EXPECT_FALSE(attention_uses_tensor_cores(DataType::kFloat32, a));
  AttentionArgs odd = a;
  odd.value_size = 32;
  EXPECT_FALSE(attention_uses_tensor_cores(DataType::kFloat16, odd));
  odd = a;
  odd.head_size = odd.value_size = 40;
  EXPECT_FALSE(attention_uses_tensor_cores(DataType::kFloat16, odd));
  odd = a;
  odd.k.data = buffer + 2;  // rows no longer 16-byte aligned
  EXPECT_FALSE(attention_uses_tensor_cores(DataType::kFloat16, odd));
  odd = a;
  odd.v.seq_stride = 12 * 64 + 4;
  EXPECT_FALSE(attention_uses_tensor_cores(DataType::kFloat16, odd));
}

struct Case {
  int64_t batch, q_len, kv_len, heads, head, value;
  Dims mask;  // empty: none
  bool nan_to_zero;
  float scale;
};

float tolerance(DataType dtype) {
  switch (dtype) {
    case DataType::kFloat16: return 6e-3f;
    case DataType::kBFloat16: return 3e-2f;
    default: return 1e-4f;
  }
}

TEST(CudaAttention, MatchesCpu) {
  SKIP_WITHOUT_DEVICE();
  const Case cases[] = {
      // BERT's shape class: padding mask, two tiles of keys, some batches fully masked.
      {2, 128, 128, 3, 64, 64, {2, 1, 1, 128}, true, 0.125f},
      // The same with the mask expanded over the queries (staged through shared memory).
      {2, 128, 128, 3, 64, 64, {2, 1, 128, 128}, true, 0.125f},
      // A per-query mask with lengths that miss the tiles but rows of 16 bytes.
      {2, 70, 104, 2, 64, 64, {2, 2, 70, 104}, false, 0.2f},
      // Lengths that miss the tiles, a per-query mask, head size 32.
      {1, 70, 100, 2, 32, 32, {1, 2, 70, 100}, false, 0.3f},
      // Head size 128, no mask, more keys than queries.
      {2, 65, 129, 2, 128, 128, {}, false, 0.09f},
      // Head sizes the tensor cores do not take, and a rank-1 mask.
      {2, 9, 33, 2, 40, 24, {33}, false, 0.2f},
      // One query, one key.
      {3, 1, 1, 1, 64, 64, {}, false, 1.f},
  };
  uint32_t seed = 900;
  for (DataType dtype : {DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16}) {
    for (const Case& c : cases) {
      std::map<std::string, Attribute> attributes = {{"scale", Attribute::of_float(c.scale)}};
      if (c.nan_to_zero) attributes["nan_to_zero"] = Attribute::of_int(1);
      const Node node = make_node("Attention", attributes, 1, "kiln");
      std::vector<Tensor> inputs = {random_tensor({c.batch, c.q_len, c.heads, c.head}, seed++, -2.f, 2.f),
                                    random_tensor({c.batch, c.kv_len, c.heads, c.head}, seed++, -2.f, 2.f),
                                    random_tensor({c.batch, c.kv_len, c.heads, c.value}, seed++)};
      if (!c.mask.empty()) {
        Tensor mask = random_tensor(c.mask, seed++, -3.f, 0.f);
        float* m = mask.data<float>();
        if (c.nan_to_zero) {
          // Batch 0 keeps its first 100 keys; the last batch is fully masked.
          const int64_t keys = c.mask.back(), per_batch = mask.element_count() / c.mask[0];
          for (int64_t j = 0; j < mask.element_count(); ++j) {
            const int64_t b = j / per_batch;
            if (b == c.batch - 1 || (b == 0 && j % keys >= 100)) m[j] = -INFINITY;
          }
        } else {
          for (int64_t j = 0; j < mask.element_count(); j += 3) m[j] = -INFINITY;  // never a whole row
        }
        inputs.push_back(std::move(mask));
      }
      SCOPED_TRACE(dtype_name(dtype) + std::string(" q_len ") + std::to_string(c.q_len) + " head " +
                   std::to_string(c.head));
      expect_matches_cpu(node, inputs, dtype, tolerance(dtype));
    }
  }
}

// The builder times Kiln's variants as tactics: each one listed where it
// applies, each one computing the same when forced, and a forced tensor-core
// variant refused where tensor cores do not apply.
TEST(CudaAttention, VariantsAreTacticsThatAllMatchCpu) {
  SKIP_WITHOUT_DEVICE();
  const Node node = make_node("Attention", {{"scale", Attribute::of_float(0.125f)}}, 1, "kiln");
  const CudaKernel* kernel = CudaKernelTable::global().find("Attention", "kiln");
  ASSERT_NE(kernel, nullptr);
  EXPECT_TRUE(kernel->has_tactics);
  auto candidates_for = [&](DataType dtype, int64_t head) {
    const std::vector<TensorInfo> inputs(3, info({2, 80, 2, head}, dtype));
    const std::vector<const Tensor*> host(3, nullptr);
    const std::vector<TensorInfo> outputs = {info({2, 80, 2, head}, dtype)};
    auto stream = Stream::create();
    EXPECT_TRUE(stream.ok());
    CudaLibraries libraries{stream->get(), nullptr, nullptr, false};
    std::vector<KernelTactic> candidates;
    Node n = node;
    static Value v;
    n.inputs.assign(3, &v);
    PrepareArgs args{n, inputs, host, outputs, libraries, nullptr, &candidates};
    EXPECT_TRUE(kernel->prepare(args).ok());
    std::vector<std::string> ids;
    for (const KernelTactic& t : candidates) ids.push_back(t.id);
    return ids;
  };
  EXPECT_EQ(candidates_for(DataType::kFloat16, 64),
            (std::vector<std::string>{"kiln-attention:mma8", "kiln-attention:mma4", "kiln-attention:rows"}));
  EXPECT_EQ(candidates_for(DataType::kFloat32, 64), std::vector<std::string>{"kiln-attention:rows"});
  EXPECT_EQ(candidates_for(DataType::kFloat16, 40), std::vector<std::string>{"kiln-attention:rows"});

  const std::vector<Tensor> inputs = {random_tensor({2, 80, 2, 64}, 950, -2.f, 2.f),
                                      random_tensor({2, 90, 2, 64}, 951, -2.f, 2.f),
                                      random_tensor({2, 90, 2, 64}, 952), random_tensor({2, 1, 80, 90}, 953, -2.f, 0.f)};
  for (const char* id : {"kiln-attention:mma8", "kiln-attention:mma4", "kiln-attention:rows"}) {
    SCOPED_TRACE(id);
    const KernelTactic tactic{id, id};
    expect_matches_cpu(node, inputs, DataType::kFloat16, tolerance(DataType::kFloat16), {}, &tactic);
  }
  const KernelTactic mma{"kiln-attention:mma8", "forced"};
  Tensor q = random_tensor({1, 4, 1, 64}, 954);
  auto refused = run_cuda_node(node, {&q, &q, &q}, {info({1, 4, 1, 64})}, {}, false, &mma);  // float32
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("does not apply"), std::string::npos) << refused.status().to_string();
}

// A mask near float32's lowest value (torch.export writes that value; the
// float16 and bfloat16 conversions clamp it into range), here one bfloat16
// holds: a row it covers entirely averages V uniformly, as the graph's Add
// then Softmax give, and nothing overflows to -inf on the way to base 2.
TEST(CudaAttention, LowestValueMaskAveragesAFullyMaskedRow) {
  SKIP_WITHOUT_DEVICE();
  const Node node = make_node("Attention", {{"scale", Attribute::of_float(0.125f)}, {"nan_to_zero", Attribute::of_int(1)}},
                              1, "kiln");
  Tensor mask = Tensor::zeros(DataType::kFloat32, {2, 1, 128, 128});
  float* m = mask.data<float>();
  for (int64_t i = 0; i < mask.element_count(); ++i) {
    const int64_t b = i / (128 * 128), key = i % 128;
    if (b == 1 || key >= 100) m[i] = -3.3e38f;  // batch 1 fully masked, batch 0 padded
  }
  const std::vector<Tensor> inputs = {random_tensor({2, 128, 2, 64}, 960, -2.f, 2.f),
                                      random_tensor({2, 128, 2, 64}, 961, -2.f, 2.f), random_tensor({2, 128, 2, 64}, 962),
                                      mask};
  expect_matches_cpu(node, inputs, DataType::kBFloat16, tolerance(DataType::kBFloat16));
}

TEST(CudaAttention, RefusesOperandsTheFusionDidNotAssume) {
  SKIP_WITHOUT_DEVICE();
  const Node node = make_node("Attention", {}, 1, "kiln");
  Tensor q = random_tensor({2, 4, 2, 8}, 1), k = random_tensor({1, 4, 2, 8}, 2), v = random_tensor({2, 4, 2, 8}, 3);
  auto out = run_cuda_node(node, {&q, &k, &v}, {info({2, 4, 2, 8})});
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("--no-optimize"), std::string::npos) << out.status().to_string();
  // A mask larger than the scores.
  Tensor k2 = random_tensor({2, 4, 2, 8}, 4), mask = random_tensor({3, 2, 4, 4}, 5);
  out = run_cuda_node(node, {&q, &k2, &v, &mask}, {info({2, 4, 2, 8})});
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("does not broadcast to the scores"), std::string::npos)
      << out.status().to_string();
}

}  // namespace
}  // namespace kiln::cuda

#endif  // KILN_WITH_CUDA
