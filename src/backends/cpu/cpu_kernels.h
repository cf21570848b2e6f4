// The CPU backend's op table: for each op, whether a node is supported and how
// to run it. Kernels see IR nodes with resolved attributes, never ONNX.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "ir/op_registry.h"
#include "kiln/graph.h"
#include "kiln/tensor.h"

namespace kiln::cpu {

// Everything a kernel may touch while it runs.
struct KernelArgs {
  const Node& node;
  // Aligned with node.inputs; nullptr for omitted inputs.
  std::vector<const Tensor*> inputs;
  // Aligned with node.outputs. The executor allocates every output whose
  // inferred dims are fully known; any other output is left undefined and the
  // kernel must assign it (data-dependent shapes such as NonZero).
  std::vector<Tensor>& outputs;
  // Inferred output info, aligned with outputs.
  const std::vector<TensorInfo>& output_info;

  const Tensor& input(size_t i) const { return *inputs[i]; }
  bool has_input(size_t i) const { return i < inputs.size() && inputs[i] != nullptr; }
  Tensor& output(size_t i) { return outputs[i]; }
};

// Accepts or rejects a node for this backend with a reason (dtype, attribute value...).
using SupportsFn = std::function<Status(const Node&, const std::vector<TensorInfo>& inputs)>;
using RunFn = std::function<Status(KernelArgs&)>;

struct CpuKernel {
  SupportsFn supports;  // may be empty: every node the IR accepts is supported
  RunFn run;
};

class KernelTable {
 public:
  static const KernelTable& global();
  void add(const std::string& op_type, CpuKernel kernel, const std::string& domain = "");
  const CpuKernel* find(const std::string& op_type, const std::string& domain) const;
  size_t size() const { return kernels_.size(); }

 private:
  std::map<std::pair<std::string, std::string>, CpuKernel> kernels_;
};

// Groups of kernels, each in src/backends/cpu/kernels/<group>.cc.
void register_elementwise_kernels(KernelTable& table);
void register_tensor_kernels(KernelTable& table);
void register_reduction_kernels(KernelTable& table);
void register_nn_kernels(KernelTable& table);
void register_misc_kernels(KernelTable& table);
void register_fused_kernels(KernelTable& table);
void register_channels_last_kernels(KernelTable& table);

// Runs one node's inference and kernel on host tensors (context.values must
// hold every present input). Outputs with data-dependent shapes come back
// as the kernel sized them.
Expected<std::vector<Tensor>> run_node(const Node& node, const InferContext& context);
// Same, from the input tensors alone (nullptr = omitted input). Used by the
// executor and by constant folding.
Expected<std::vector<Tensor>> evaluate_node(const Node& node, const std::vector<const Tensor*>& inputs);

// Error for a dtype a kernel does not handle, naming node and type.
Status unsupported_dtype(const Node& node, DataType dtype, const std::string& which = "input");

}  // namespace kiln::cpu
