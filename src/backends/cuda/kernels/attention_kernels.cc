// kiln.Attention on the GPU: shape checks and launch set-up; the device code
// is in attention.cu.
#include "backends/cuda/cuda_kernels.h"
#include "backends/cuda/kernels/attention_launch.h"
#include "backends/cuda/kernels/kernel_helpers.h"

namespace kiln::cuda {
namespace {

// The fused node's operands must be what the fusion assumed; anything else is
// valid ONNX that the unfused graph computes, so the error says how to get it.
Status unfusable(const Node& node, const std::string& why) {
  return unimplemented(node.describe() + ": " + why + "; build with --no-optimize to run the unfused attention");
}

AttentionOperand operand(const Dims& dims) {
  // [B, S, H, D] contiguous.
  AttentionOperand x;
  x.head_stride = dims[3];
  x.seq_stride = dims[2] * dims[3];
  x.batch_stride = dims[1] * dims[2] * dims[3];
  return x;
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
  return k;
}

}  // namespace

void register_cuda_attention_kernels(CudaKernelTable& table) { table.add("Attention", attention_kernel(), "kiln"); }

}  // namespace kiln::cuda
