// kiln.Attention on the GPU: shape checks and launch set-up; the device code
// is in attention.cu.
#include "backends/cuda/cuda_kernels.h"
#include "backends/cuda/kernels/attention_launch.h"
#include "backends/cuda/kernel_tactics.h"
#include "backends/cuda/kernels/kernel_helpers.h"

namespace kiln::cuda {
namespace {

// The fused node's operands must be what the fusion assumed; anything else is
// valid ONNX that the unfused graph computes, so the error says how to get it.
Status unfusable(const Node& node, const std::string& why) {
  return unimplemented(node.describe() + ": " + why + "; build with --no-optimize to run the unfused attention");
}

// A contiguous [B, S, H, D] operand's strides.
AttentionOperand operand(const Dims& dims) {
  const Dims strides = contiguous_strides(dims);
  AttentionOperand x;
  x.batch_stride = strides[0];
  x.seq_stride = strides[1];
  x.head_stride = strides[2];
  return x;
}

// Kiln's own variants, timed by the builder like cuDNN's and cuBLASLt's
// algorithms: tensor-core blocks of 8 or 4 warps, or one warp per query.
struct AttentionVariant {
  const char* id;
  const char* label;
  int32_t kernel;  // AttentionArgs::kernel
  bool tensor_cores;
};
constexpr AttentionVariant kVariants[] = {
    {"kiln-attention:mma8", "kiln attention, tensor cores, 8 warps x 16 queries", 8, true},
    {"kiln-attention:mma4", "kiln attention, tensor cores, 4 warps x 16 queries", 4, true},
    {"kiln-attention:rows", "kiln attention, one warp per query", -1, false},
};

// The variant prepare uses: the requested tactic when it applies, else the
// heuristic's (0: launch_attention chooses).
Expected<int32_t> choose_variant(const PrepareArgs& args, bool tensor_cores) {
  if (args.candidates) {
    for (const AttentionVariant& v : kVariants) {
      if (tensor_cores || !v.tensor_cores) args.candidates->push_back(KernelTactic{v.id, v.label});
    }
  }
  auto requested = requested_tactic(args, args.inputs[0].dtype);
  if (!requested) return 0;
  for (const AttentionVariant& v : kVariants) {
    if (requested->tactic.id != v.id) continue;
    if (v.tensor_cores && !tensor_cores) break;
    return v.kernel;
  }
  KILN_RETURN_IF_ERROR(reject_tactic(args.node, *requested,
                                     "does not apply to " + std::string(dtype_name(args.inputs[0].dtype)) +
                                         " operands " + dims_to_string(args.inputs[0].dims)));
  return 0;
}

CudaKernel attention_kernel() {
  CudaKernel k;
  k.supports = [](const Node& node, const std::vector<TensorInfo>& inputs) -> Status {
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (inputs[i].dtype != DataType::kUndefined) {
        KILN_RETURN_IF_ERROR(require_dtype(node, inputs[i].dtype, kFloatTypes, i == 3 ? "mask" : "input"));
      }
    }
    return ok_status();
  };
  k.prepare = [](const PrepareArgs& args) -> Expected<PreparedKernel> {
    const Node& node = args.node;
    const Dims &q = args.inputs[0].dims, &kd = args.inputs[1].dims, &v = args.inputs[2].dims;
    for (const Dims* d : {&q, &kd, &v}) {
      if (d->size() != 4) return invalid_argument(node.describe() + ": operands must be [B, S, H, D], got " + dims_to_string(*d));
    }
    if (kd[0] != q[0] || v[0] != q[0] || kd[2] != q[2] || v[2] != q[2] || v[1] != kd[1] || kd[3] != q[3]) {
      return unfusable(node, "Q " + dims_to_string(q) + ", K " + dims_to_string(kd) + " and V " + dims_to_string(v) +
                                 " do not share batch, heads and key length (or Q and K their head size)");
    }
    const Dims expected_out = {q[0], q[1], q[2], v[3]};
    if (args.outputs[0].dims != expected_out) {
      return unfusable(node, "the output " + dims_to_string(args.outputs[0].dims) + " is not " +
                                 dims_to_string(expected_out));
    }
    if (q[3] > kMaxAttentionHeadSize || v[3] > kMaxAttentionHeadSize) {
      return unfusable(node, "head size " + std::to_string(std::max(q[3], v[3])) + " exceeds " +
                                 std::to_string(kMaxAttentionHeadSize));
    }
    const int64_t int_limit = int64_t{1} << 31;
    for (int64_t extent : {q[0], q[1], q[2], kd[1]}) {
      if (extent >= int_limit) return unfusable(node, "an extent of " + std::to_string(extent) + " exceeds 2^31");
    }
    AttentionArgs base;
    base.q = operand(q);
    base.k = operand(kd);
    base.v = operand(v);
    const AttentionOperand o = operand(expected_out);
    base.out_batch_stride = o.batch_stride;
    base.out_seq_stride = o.seq_stride;
    base.out_head_stride = o.head_stride;
    base.batch = static_cast<int32_t>(q[0]);
    base.q_len = static_cast<int32_t>(q[1]);
    base.heads = static_cast<int32_t>(q[2]);
    base.kv_len = static_cast<int32_t>(kd[1]);
    base.head_size = static_cast<int32_t>(q[3]);
    base.value_size = static_cast<int32_t>(v[3]);
    base.scale = static_cast<float>(node.attr_float("scale", 1.0));
    base.nan_to_zero = node.attr_int("nan_to_zero", 0) != 0;
    const bool has_mask = args.has_input(3);
    if (has_mask) {
      // The mask broadcasts to the scores [B, H, Sq, Skv]; one that would
      // enlarge them is refused by broadcast_index.
      const Dims scores = {q[0], q[2], q[1], kd[1]};
      auto index = broadcast_index(node, scores, {args.inputs[3].dims});
      if (!index.ok()) return unfusable(node, "the mask " + dims_to_string(args.inputs[3].dims) +
                                                  " does not broadcast to the scores " + dims_to_string(scores));
      for (int d = 0; d < 4; ++d) base.mask_strides[d] = index->strides[0][d];
    }
    const DataType dtype = args.inputs[0].dtype;
    KILN_ASSIGN_OR_RETURN(base.kernel, choose_variant(args, attention_uses_tensor_cores(dtype, base)));
    KILN_CUDA_CHECK(attention_prepare(dtype, base.head_size));
    PreparedKernel prepared;
    prepared.enqueue = [base, has_mask, dtype](const LaunchArgs& launch) -> Status {
      AttentionArgs a = base;
      a.q.data = launch.inputs[0].data;
      a.k.data = launch.inputs[1].data;
      a.v.data = launch.inputs[2].data;
      a.mask = has_mask ? launch.inputs[3].data : nullptr;
      a.out = launch.outputs[0].data;
      KILN_CUDA_CHECK_LAUNCH(launch_attention(dtype, a, launch.libraries.stream));
      return ok_status();
    };
    return prepared;
  };
  k.has_tactics = true;
  return k;
}

}  // namespace

void register_cuda_attention_kernels(CudaKernelTable& table) { table.add("Attention", attention_kernel(), "kiln"); }

}  // namespace kiln::cuda
