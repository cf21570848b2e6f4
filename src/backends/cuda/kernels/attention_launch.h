// Launcher of kiln.Attention: softmax(scale * Q K^T + mask) V per batch and
// head, the scores kept on chip (online softmax over tiles of keys).
#pragma once

#include "backends/cuda/kernels/launch_types.h"

namespace kiln::cuda {

// Operands are [batch, sequence, heads, size] with the size axis contiguous;
// strides are in elements, for the batch, sequence and head axes.
struct AttentionOperand {
  const void* data = nullptr;
  int64_t batch_stride = 0, seq_stride = 0, head_stride = 0;
};

struct AttentionArgs {
  AttentionOperand q, k, v;
  void* out = nullptr;
  int64_t out_batch_stride = 0, out_seq_stride = 0, out_head_stride = 0;
  // Additive mask of the query's type, or null; element (b, h, i, j) is at
  // mask[b * s[0] + h * s[1] + i * s[2] + j * s[3]] (0 on broadcast axes).
  const void* mask = nullptr;
  int64_t mask_strides[4] = {0, 0, 0, 0};
  int32_t batch = 0, heads = 0, q_len = 0, kv_len = 0;
  int32_t head_size = 0;   // of Q and K
  int32_t value_size = 0;  // of V and the output
  float scale = 1.f;
  // A query whose every key is masked (-inf) gets 0 instead of the NaN
  // softmax gives it.
  bool nan_to_zero = false;
  // Which kernel: 0 lets launch_attention choose (tensor cores with 8 warps
  // per block above 64 queries, else 4; one warp per query where tensor cores
  // do not apply), 4 or 8 asks for tensor-core blocks of that many warps (the
  // warp-per-query kernel still runs where they do not apply), -1 for one
  // warp per query.
  int32_t kernel = 0;
  // Set by launch_attention: the tensor-core kernel stages a [query][key]
  // mask (contiguous keys, 16-byte aligned rows) through shared memory.
  bool mask_tiles = false;
};

// Largest head size either kernel takes.
constexpr int kMaxAttentionHeadSize = 256;

// Whether the tensor-core kernel can run these arguments (float16/bfloat16,
// head sizes 32, 64 or 128 for both Q/K and V, 16-byte aligned rows; null
// pointers count as aligned, for checks before memory exists); the others
// take a kernel with one warp per query.
bool attention_uses_tensor_cores(DataType dtype, const AttentionArgs& args);

// Once per node at build/prepare time, before any launch (and outside stream
// capture): lets the tensor-core kernel of this type and head size use more
// than 48 KB of shared memory.
cudaError_t attention_prepare(DataType dtype, int head_size);

// Float types; head_size and value_size up to kMaxAttentionHeadSize.
cudaError_t launch_attention(DataType dtype, const AttentionArgs& args, cudaStream_t stream);

}  // namespace kiln::cuda
