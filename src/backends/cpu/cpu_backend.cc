// The CPU backend: walks the graph in topological order, infers each node's
// output shapes from the actual inputs and runs its kernel.
#include <unordered_map>

#include "backends/cpu/cpu_kernels.h"
#include "ir/shape_inference.h"
#include "runtime/backend.h"

namespace kiln {
namespace cpu {

Expected<std::vector<Tensor>> run_node(const Node& node, const InferContext& context) {
  KILN_ASSIGN_OR_RETURN(auto infos, OpRegistry::global().infer(context));
  const CpuKernel* kernel = KernelTable::global().find(node.op_type, node.domain);
  if (!kernel) return unimplemented(node.describe() + ": no CPU kernel");
  std::vector<Tensor> outputs(node.outputs.size());
  for (size_t i = 0; i < outputs.size(); ++i) {
    if (i < infos.size() && infos[i].dtype != DataType::kUndefined && infos[i].fully_known()) {
      outputs[i] = Tensor::empty(infos[i].dtype, infos[i].dims);
    }
  }
  KernelArgs args{node, context.values, outputs, infos};
  Status status = kernel->run(args);
  if (!status.ok()) {
    if (status.message().rfind("node '", 0) == 0) return status;
    return status.with_context(node.describe());
  }
  return outputs;
}

Expected<std::vector<Tensor>> evaluate_node(const Node& node, const std::vector<const Tensor*>& inputs) {
  InferContext context{node, {}, inputs};
  for (const Tensor* t : inputs) context.inputs.push_back(t ? TensorInfo{t->dtype(), t->dims(), true} : TensorInfo{});
  KILN_ASSIGN_OR_RETURN(auto outputs, run_node(node, context));
  for (size_t i = 0; i < outputs.size(); ++i) {
    if (node.outputs[i] && !outputs[i].defined()) {
      return internal_error(node.describe() + ": kernel left output " + std::to_string(i) + " unset");
    }
  }
  return outputs;
}

}  // namespace cpu

namespace {

class CpuExecutor final : public BackendExecutor {
 public:
  explicit CpuExecutor(const Graph& graph, std::vector<Node*> order)
      : graph_(graph), order_(std::move(order)) {
    // Index of the last node that reads each value, so intermediates are freed early.
    for (size_t i = 0; i < order_.size(); ++i) {
      for (Value* in : order_[i]->inputs) if (in) last_use_[in] = i;
    }
    for (Value* out : graph_.outputs()) last_use_[out] = order_.size();
  }

  Expected<std::vector<Tensor>> execute(const TensorMap& inputs) override {
    std::unordered_map<const Value*, Tensor> live;
    for (Value* in : graph_.inputs()) {
      auto it = inputs.find(in->name);
      if (it != inputs.end()) live[in] = it->second;
    }
    for (size_t step = 0; step < order_.size(); ++step) {
      Node* node = order_[step];
      InferContext context{*node, {}, {}};
      for (Value* in : node->inputs) {
        const Tensor* t = nullptr;
        if (in) {
          if (in->constant) {
            t = &*in->constant;
          } else {
            auto it = live.find(in);
            if (it == live.end()) {
              return internal_error(node->describe() + ": input '" + in->name + "' was not computed");
            }
            t = &it->second;
          }
        }
        context.values.push_back(t);
        context.inputs.push_back(t ? TensorInfo{t->dtype(), t->dims(), true} : TensorInfo{});
      }
      KILN_ASSIGN_OR_RETURN(auto outputs, cpu::run_node(*node, context));
      for (size_t i = 0; i < outputs.size(); ++i) {
        Value* out = node->outputs[i];
        if (!out) continue;
        if (!outputs[i].defined()) {
          return internal_error(node->describe() + ": kernel left output " + std::to_string(i) + " unset");
        }
        live[out] = std::move(outputs[i]);
      }
      // Free intermediates no later node reads.
      for (Value* in : node->inputs) {
        if (in && !in->constant) {
          auto lu = last_use_.find(in);
          if (lu != last_use_.end() && lu->second == step) live.erase(in);
        }
      }
    }
    std::vector<Tensor> results;
    for (Value* out : graph_.outputs()) {
      if (out->constant) { results.push_back(*out->constant); continue; }
      auto it = live.find(out);
      if (it == live.end()) return internal_error("graph output '" + out->name + "' was not computed");
      results.push_back(it->second);
    }
    return results;
  }

 private:
  const Graph& graph_;
  std::vector<Node*> order_;
  std::unordered_map<const Value*, size_t> last_use_;
};

class CpuBackend final : public Backend {
 public:
  BackendKind kind() const override { return BackendKind::kCpu; }

  Status supports(const Node& node, const std::vector<TensorInfo>& inputs) const override {
    const cpu::CpuKernel* kernel = cpu::KernelTable::global().find(node.op_type, node.domain);
    if (!kernel) {
      return unimplemented(node.describe() + " (domain '" + (node.domain.empty() ? "ai.onnx" : node.domain) +
                           "', opset " + std::to_string(node.opset) + "): the CPU backend has no kernel for op '" +
                           node.op_type + "'");
    }
    if (kernel->supports) return kernel->supports(node, inputs);
    return ok_status();
  }

  Expected<std::unique_ptr<BackendExecutor>> create_executor(const Graph& graph) const override {
    KILN_ASSIGN_OR_RETURN(auto order, graph.topological_order());
    return std::unique_ptr<BackendExecutor>(new CpuExecutor(graph, std::move(order)));
  }
};

}  // namespace

const Backend* cpu_backend() {
  static const CpuBackend backend;
  return &backend;
}

}  // namespace kiln
