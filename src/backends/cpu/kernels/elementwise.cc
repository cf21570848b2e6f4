// CPU kernels of the elementwise op group; the families live in elementwise_*.cc.
#include "backends/cpu/kernels/elementwise_common.h"
#include "ir/ops/elementwise_ops.h"

namespace kiln::cpu {

Expected<BroadcastPlan> plan_for_inputs(const KernelArgs& args) {
  std::vector<Dims> dims;
  for (size_t i = 0; i < args.inputs.size(); ++i) {
    if (!args.has_input(i)) continue;
    const Dims& d = args.input(i).dims();
    dims.push_back(i == 1 && !dims.empty() ? legacy_aligned_dims(args.node, dims[0], d) : d);
  }
  auto plan = make_broadcast_plan(dims);
  if (!plan.ok()) return plan.status().with_context(args.node.describe());
  return plan;
}

void register_elementwise_kernels(KernelTable& table) {
  register_elementwise_binary_kernels(table);
  register_elementwise_variadic_kernels(table);
  register_elementwise_unary_kernels(table);
  register_elementwise_activation_kernels(table);
  register_elementwise_conversion_kernels(table);
}

}  // namespace kiln::cpu
