// CPU kernels of the channels-last variants (src/ir/channels_last.h): permute
// the NHWC inputs and KRSC filters to the base op's layout, run the base
// kernel, permute the output back. The CPU builder never chooses these ops;
// they exist so that graphs rewritten for a GPU run (and are tested) on the CPU.
#include "ir/channels_last.h"

#include <cstring>

#include "backends/cpu/cpu_kernels.h"

namespace kiln::cpu {
namespace {

bool is_listed(const std::vector<size_t>& list, size_t i) {
  for (size_t j : list)
    if (j == i) return true;
  return false;
}

CpuKernel channels_last_kernel(const ChannelsLastOp& op) {
  CpuKernel k;
  k.run = [op](KernelArgs& args) -> Status {
    const CpuKernel* base = KernelTable::global().find(op.base_op, op.base_domain);
    if (!base) return unimplemented(args.node.describe() + ": base op " + op.base_op + " has no CPU kernel");
    std::vector<Tensor> permuted(args.inputs.size());
    std::vector<const Tensor*> inputs = args.inputs;
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (!inputs[i] || (!is_listed(op.activation_inputs, i) && !is_listed(op.filter_inputs, i))) continue;
      auto p = permute_tensor(*inputs[i], kToChannelsFirst);
      if (!p.ok()) return p.status().with_context(args.node.describe() + " input " + std::to_string(i));
      permuted[i] = std::move(*p);
      inputs[i] = &permuted[i];
    }
    std::vector<TensorInfo> info = args.output_info;
    if (!info.empty() && info[0].dims_known && info[0].dims.size() == 4) {
      info[0].dims = permute_dims(info[0].dims, kToChannelsFirst);
    }
    std::vector<Tensor> outputs(args.outputs.size());
    if (!info.empty() && info[0].fully_known()) outputs[0] = Tensor::empty(info[0].dtype, info[0].dims);
    // The base kernel sees the variant node: same attributes, and its inputs are aligned with the base op's.
    KernelArgs base_args{args.node, inputs, outputs, info};
    KILN_RETURN_IF_ERROR(base->run(base_args));
    auto out = permute_tensor(outputs[0], kToChannelsLast);
    if (!out.ok()) return out.status().with_context(args.node.describe() + " output");
    Tensor& dest = args.outputs[0];
    if (dest.defined() && dest.dims() == out->dims() && dest.dtype() == out->dtype()) {
      // Keep the executor's slot (its arena place) and fill it.
      std::memcpy(dest.raw_data(), out->raw_data(), out->byte_size());
    } else {
      dest = std::move(*out);
    }
    return ok_status();
  };
  return k;
}

}  // namespace

void register_channels_last_kernels(KernelTable& table) {
  for (const ChannelsLastOp& op : channels_last_ops()) table.add(op.op, channels_last_kernel(op), "kiln");
}

}  // namespace kiln::cpu
