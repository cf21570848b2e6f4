// The memory-bound CUDA kernels (broadcast binary ops, Where, IsNaN,
// Transpose, Softmax, LayerNormalization, pointwise programs) against the CPU
// backend on random inputs, in float32 and float16, on shapes that take the
// vectorised paths and on odd shapes that miss them. The index arithmetic
// behind the fast paths is checked on the host (no device needed).
#if KILN_WITH_CUDA

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "backends/cpu/cpu_kernels.h"
#include "backends/cuda/kernels/fast_index.h"
#include "cuda_node_runner.h"
#include "cuda_test_support.h"
#include "graph_test_util.h"

namespace kiln::cuda {
namespace {

using kiln::testing::ints;
using kiln::testing::random_tensor;

// ---- host side of the fast index ---------------------------------------------

TEST(CudaFastIndex, DivisorMatchesIntegerDivision) {
  std::mt19937 gen(11);
  std::uniform_int_distribution<uint32_t> dividend(0, (uint32_t{1} << 31) - 1);
  for (uint32_t divisor : {1u, 2u, 3u, 5u, 7u, 12u, 64u, 100u, 127u, 128u, 768u, 1536u, 3072u, 65535u, 196608u,
                           1000003u, (1u << 30) + 1u, (1u << 31) - 1u}) {
    const FastDivisor d = make_fast_divisor(divisor);
    for (uint32_t n : {0u, 1u, divisor - 1, divisor, divisor + 1, (1u << 31) - 1}) {
      const uint32_t quotient = static_cast<uint32_t>((uint64_t{n} * d.multiplier >> 32) + n) >> d.shift;
      ASSERT_EQ(quotient, n / divisor) << n << " / " << divisor;
    }
    for (int i = 0; i < 2000; ++i) {
      const uint32_t n = dividend(gen);
      const uint32_t quotient = static_cast<uint32_t>((uint64_t{n} * d.multiplier >> 32) + n) >> d.shift;
      ASSERT_EQ(quotient, n / divisor) << n << " / " << divisor;
    }
  }
}

StridedIndex index_of(const Dims& dims, const std::vector<Dims>& strides) {
  StridedIndex index;
  index.rank = static_cast<int>(dims.size());
  for (size_t d = 0; d < dims.size(); ++d) {
    index.dims[d] = dims[d];
    for (size_t k = 0; k < strides.size(); ++k) index.strides[k][d] = strides[k][d];
  }
  return index;
}

// Every output element maps to the same operand offsets before and after collapsing.
void expect_same_mapping(const StridedIndex& a, const StridedIndex& b, int operands) {
  auto offsets = [operands](const StridedIndex& index, int64_t linear) {
    std::vector<int64_t> result(operands);
    for (int k = 0; k < operands; ++k) result[k] = index.offsets[k];
    for (int d = index.rank - 1; d >= 0; --d) {
      const int64_t coordinate = linear % index.dims[d];
      linear /= index.dims[d];
      for (int k = 0; k < operands; ++k) result[k] += coordinate * index.strides[k][d];
    }
    return result;
  };
  int64_t count = 1;
  for (int d = 0; d < a.rank; ++d) count *= a.dims[d];
  for (int64_t i = 0; i < count; ++i) ASSERT_EQ(offsets(a, i), offsets(b, i)) << "element " << i;
}

TEST(CudaFastIndex, CollapseMergesAxesEveryOperandWalksAlike) {
  // [B,H,S,S] + [B,1,1,S]: H and the query axis merge, the mask keeps three axes.
  StridedIndex mask = index_of({2, 3, 4, 4}, {{48, 16, 4, 1}, {4, 0, 0, 1}});
  StridedIndex collapsed = collapse_index(mask, 2);
  EXPECT_EQ(collapsed.rank, 3);
  EXPECT_EQ(collapsed.dims[1], 12);
  expect_same_mapping(mask, collapsed, 2);
  // Same shapes: one axis.
  StridedIndex same = index_of({2, 3, 5}, {{15, 5, 1}, {15, 5, 1}});
  EXPECT_EQ(collapse_index(same, 2).rank, 1);
  // A scalar operand and unit axes.
  StridedIndex scalar = index_of({1, 6, 1, 7}, {{42, 7, 7, 1}, {0, 0, 0, 0}});
  EXPECT_EQ(collapse_index(scalar, 2).rank, 1);
  expect_same_mapping(scalar, collapse_index(scalar, 2), 2);
  // [B,S,H,D] -> [B,H,S,D]: nothing merges.
  StridedIndex heads = index_of({2, 3, 4, 8}, {{96, 8, 24, 1}});
  EXPECT_EQ(collapse_index(heads, 1).rank, 4);
  expect_same_mapping(heads, collapse_index(heads, 1), 1);
  // A single element.
  StridedIndex one = index_of({1, 1}, {{1, 1}});
  EXPECT_EQ(collapse_index(one, 1).rank, 1);
  EXPECT_EQ(collapse_index(one, 1).dims[0], 1);
}

TEST(CudaFastIndex, LargeOrNegativeIndicesKeepThe64BitPath) {
  FastIndex fast;
  EXPECT_TRUE(make_fast_index(index_of({4, 8}, {{8, 1}}), 1, &fast));
  EXPECT_FALSE(make_fast_index(index_of({1 << 16, 1 << 15}, {{1 << 15, 1}}), 1, &fast));
  EXPECT_FALSE(make_fast_index(index_of({4, 8}, {{8, -1}}), 1, &fast));
  StridedIndex far = index_of({2, 2}, {{int64_t{1} << 30, 1}});
  far.offsets[0] = int64_t{1} << 30;
  EXPECT_FALSE(make_fast_index(far, 1, &fast));
}

TEST(CudaFastIndex, VectorWidthNeedsContiguousOrBroadcastInnerAxis) {
  alignas(16) static char buffer[64];
  FastIndex fast;
  ASSERT_TRUE(make_fast_index(collapse_index(index_of({2, 16}, {{16, 1}, {0, 1}}), 2), 2, &fast));
  VectorOperand operands[2] = {{buffer, 2}, {buffer, 2}};
  EXPECT_EQ(vector_width(fast, operands, 2, buffer, 2, 8), 8);
  EXPECT_EQ(vector_width(fast, operands, 2, buffer + 2, 2, 8), 1);  // misaligned output
  ASSERT_TRUE(make_fast_index(index_of({2, 12}, {{12, 1}}), 1, &fast));
  EXPECT_EQ(vector_width(fast, operands, 1, buffer, 2, 8), 1);  // 12 is not a multiple of 8
  ASSERT_TRUE(make_fast_index(index_of({8, 8}, {{1, 8}}), 1, &fast));
  EXPECT_EQ(vector_width(fast, operands, 1, buffer, 2, 8), 1);  // transposed read
}

// ---- device against the CPU backend --------------------------------------------

constexpr DataType kBothFloatTypes[] = {DataType::kFloat32, DataType::kFloat16};
float tolerance_for(DataType dtype) { return dtype == DataType::kFloat16 ? 2e-3f : 1e-5f; }

TEST(CudaMemoryBound, BroadcastBinaryOpsMatchCpu) {
  SKIP_WITHOUT_DEVICE();
  struct Case {
    const char* op;
    Dims a, b;
  };
  const Case cases[] = {
      {"Add", {4, 8, 64}, {4, 8, 64}},          // same shape, vectorised
      {"Add", {3, 5, 7}, {3, 5, 7}},            // same shape, odd
      {"Add", {2, 3, 16, 16}, {2, 1, 1, 16}},   // attention mask
      {"Add", {2, 3, 5, 5}, {2, 1, 1, 5}},      // attention mask, odd
      {"Add", {6, 24}, {24}},                   // bias row
      {"Sub", {6, 10}, {10}},                   // bias row, odd
      {"Mul", {2, 3, 16, 8}, {}},               // scalar
      {"Mul", {}, {3, 7}},                      // scalar first, odd
      {"Div", {4, 1, 8}, {1, 5, 8}},            // both broadcast
      {"Max", {5, 3, 1}, {5, 1, 9}},            // broadcast inner axis
      {"Pow", {2, 16}, {16}},
  };
  for (DataType dtype : kBothFloatTypes) {
    uint32_t seed = 100;
    for (const Case& c : cases) {
      Tensor a = random_tensor(c.a, seed++, 0.5f, 2.f);
      Tensor b = random_tensor(c.b, seed++, 0.5f, 2.f);
      expect_matches_cpu(make_node(c.op), {a, b}, dtype, tolerance_for(dtype));
    }
    Tensor a = random_tensor({2, 3, 8, 16}, 7), b = random_tensor({2, 1, 8, 1}, 8);
    expect_matches_cpu(make_node("Greater"), {a, b}, dtype, 0.f);
    expect_matches_cpu(make_node("Equal"), {a, a}, dtype, 0.f);
  }
}

TEST(CudaMemoryBound, WhereAndIsNaNMatchCpu) {
  SKIP_WITHOUT_DEVICE();
  std::mt19937 gen(3);
  auto random_bool = [&gen](Dims dims) {
    Tensor t = Tensor::empty(DataType::kBool, std::move(dims));
    for (bool& v : t.span<bool>()) v = gen() % 3 == 0;
    return t;
  };
  for (DataType dtype : kBothFloatTypes) {
    // The exported attention pattern: Where(IsNaN(x), 0, x) over [B,H,S,S].
    Tensor x = random_tensor({2, 3, 16, 16}, 21);
    for (int64_t i = 0; i < x.element_count(); i += 37) x.data<float>()[i] = std::numeric_limits<float>::quiet_NaN();
    expect_matches_cpu(make_node("IsNaN", {}, 13), {x}, dtype, 0.f);
    Tensor odd = random_tensor({3, 7}, 22);
    odd.data<float>()[5] = std::numeric_limits<float>::quiet_NaN();
    expect_matches_cpu(make_node("IsNaN", {}, 13), {odd}, dtype, 0.f);
    Tensor zero = random_tensor({1}, 23);
    expect_matches_cpu(make_node("Where"), {random_bool({2, 3, 16, 16}), zero, random_tensor({2, 3, 16, 16}, 24)},
                       dtype, 0.f);
    expect_matches_cpu(make_node("Where"), {random_bool({2, 1, 1, 16}), random_tensor({2, 3, 16, 16}, 25), zero},
                       dtype, 0.f);
    expect_matches_cpu(make_node("Where"), {random_bool({3, 1}), random_tensor({3, 7}, 26), random_tensor({7}, 27)},
                       dtype, 0.f);
  }
}

TEST(CudaMemoryBound, TransposeMatchesCpu) {
  SKIP_WITHOUT_DEVICE();
  struct Case {
    Dims dims;
    std::vector<int64_t> perm;
  };
  const Case cases[] = {
      {{2, 16, 3, 64}, {0, 2, 1, 3}},  // [B,S,H,D] -> [B,H,S,D], vectorised
      {{2, 3, 16, 64}, {0, 2, 1, 3}},  // and back
      {{2, 5, 3, 7}, {0, 2, 1, 3}},    // odd
      {{2, 3, 40, 64}, {0, 1, 3, 2}},  // last two axes swapped: tiles, partial at the edge
      {{2, 3, 5, 7}, {0, 1, 3, 2}},    // too small for tiles
      {{33, 65}, {1, 0}},              // 2-D
      {{2, 3, 4, 5}, {3, 1, 0, 2}},    // general
  };
  for (DataType dtype : kBothFloatTypes) {
    uint32_t seed = 300;
    for (const Case& c : cases) {
      expect_matches_cpu(make_node("Transpose", {{"perm", ints(c.perm)}}), {random_tensor(c.dims, seed++)}, dtype,
                         0.f);
    }
  }
}

TEST(CudaMemoryBound, SoftmaxAndLayerNormMatchCpu) {
  SKIP_WITHOUT_DEVICE();
  for (DataType dtype : kBothFloatTypes) {
    uint32_t seed = 400;
    for (Dims dims : {Dims{2, 3, 4, 128}, Dims{6, 100}, Dims{5, 7}, Dims{3, 1000}, Dims{3, 2000}}) {
      Tensor x = random_tensor(dims, seed++, -6.f, 6.f);
      expect_matches_cpu(make_node("Softmax", {{"axis", Attribute::of_int(-1)}}, 13), {x}, dtype,
                         tolerance_for(dtype));
      expect_matches_cpu(make_node("LogSoftmax", {{"axis", Attribute::of_int(-1)}}, 13), {x}, dtype,
                         tolerance_for(dtype));
    }
    for (Dims dims : {Dims{4, 9, 768}, Dims{5, 300}, Dims{4, 7}, Dims{2, 1500}}) {
      const int64_t n = dims.back();
      Tensor x = random_tensor(dims, seed++, -3.f, 5.f);
      Tensor scale = random_tensor({n}, seed++), bias = random_tensor({n}, seed++);
      expect_matches_cpu(make_node("LayerNormalization", {{"axis", Attribute::of_int(-1)}}, 17), {x, scale, bias},
                         dtype, dtype == DataType::kFloat16 ? 4e-3f : 1e-4f);
    }
  }
}

TEST(CudaMemoryBound, MaskedSoftmaxMatchesCpu) {
  SKIP_WITHOUT_DEVICE();
  struct Case {
    Dims scores, mask;  // empty mask: none
  };
  const Case cases[] = {
      {{2, 3, 16, 128}, {2, 1, 1, 128}},  // padding mask, vectorised
      {{2, 3, 16, 128}, {2, 1, 16, 128}},  // per-query mask
      {{2, 3, 5, 100}, {2, 1, 1, 100}},   // rows that miss the packs
      {{2, 3, 4, 8}, {2, 3, 4, 1}},       // one mask value per row
      {{3, 2000}, {2000}},                // rows too long for one warp
      {{4, 64}, {}},                      // no mask
  };
  Node node = make_node("MaskedSoftmax", {{"nan_to_zero", Attribute::of_int(1)}}, 1, "kiln");
  for (DataType dtype : kBothFloatTypes) {
    uint32_t seed = 600;
    for (const Case& c : cases) {
      Tensor x = random_tensor(c.scores, seed++, -5.f, 5.f);
      if (c.mask.empty()) {
        expect_matches_cpu(node, {x}, dtype, tolerance_for(dtype));
        continue;
      }
      // The mask's first row is fully masked (when it has several): those
      // softmax rows are NaN, cleared to 0.
      Tensor mask = random_tensor(c.mask, seed++, -3.f, 0.f);
      const int64_t masked = mask.element_count() > c.mask.back() ? c.mask.back() : 0;
      for (int64_t i = 0; i < masked; ++i) mask.data<float>()[i] = -INFINITY;
      expect_matches_cpu(node, {x, mask}, dtype, tolerance_for(dtype));
      expect_matches_cpu(node, {mask, x}, dtype, tolerance_for(dtype));  // the scores second
    }
    // Neither operand has the output's shape: the sum is formed first.
    expect_matches_cpu(node, {random_tensor({2, 1, 4, 8}, seed++), random_tensor({1, 3, 4, 8}, seed++)}, dtype,
                       tolerance_for(dtype));
  }
}

TEST(CudaMemoryBound, FusedMatMulWithBiasAndResidualMatchesCpu) {
  SKIP_WITHOUT_DEVICE();
  Node node = make_node("FusedMatMul", {}, 1, "kiln");
  for (DataType dtype : kBothFloatTypes) {
    for (Dims a_dims : {Dims{2, 16, 64}, Dims{3, 5, 24}}) {
      const int64_t k = a_dims.back(), n = k == 64 ? 48 : 40;
      Dims out_dims = a_dims;
      out_dims.back() = n;
      Tensor a = random_tensor(a_dims, 700), w = random_tensor({k, n}, 701), bias = random_tensor({n}, 702);
      Tensor residual = random_tensor(out_dims, 703);
      const float tolerance = dtype == DataType::kFloat16 ? 1e-2f : 1e-4f;
      expect_matches_cpu(node, {a, w, bias, residual}, dtype, tolerance);
      // A residual shared by the batch takes the broadcasting add after the product.
      Dims shared_dims = out_dims;
      shared_dims[0] = 1;
      expect_matches_cpu(node, {a, w, bias, random_tensor(shared_dims, 704)}, dtype, tolerance);
    }
  }
}

TEST(CudaMemoryBound, PointwiseProgramsMatchCpu) {
  SKIP_WITHOUT_DEVICE();
  for (DataType dtype : kBothFloatTypes) {
    uint32_t seed = 500;
    for (Dims dims : {Dims{4, 3072}, Dims{3, 7}}) {
      expect_matches_cpu(make_node("Gelu", {}, 20), {random_tensor(dims, seed++, -4.f, 4.f)}, dtype,
                         tolerance_for(dtype));
      expect_matches_cpu(make_node("Sigmoid"), {random_tensor(dims, seed++, -4.f, 4.f)}, dtype, tolerance_for(dtype));
    }
  }
}

}  // namespace
}  // namespace kiln::cuda

#endif  // KILN_WITH_CUDA
