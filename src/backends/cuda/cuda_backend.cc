// Entry point of the CUDA backend for the backend registry: node support
// decisions and executor creation with per-engine shared weights.
#include <memory>
#include <mutex>
#include <set>
#include <unordered_map>

#include "backends/cpu/cpu_kernels.h"
#include "backends/cuda/cuda_executor.h"
#include "backends/cuda/cuda_kernels.h"
#include "backends/cuda/cuda_resources.h"
#include "backends/cuda/tactic_timing.h"
#include "runtime/backend.h"

namespace kiln {
namespace cuda {
namespace {

// Ops whose output shapes depend on the data itself; the executor needs every
// device shape before it enqueues anything.
bool has_data_dependent_shape(const Node& node) {
  static const std::set<std::string> kOps = {"NonZero", "Unique", "NonMaxSuppression", "Compress",
                                             "Loop",    "If",     "Scan",              "StringNormalizer"};
  return (node.domain.empty() || node.domain == "ai.onnx") && kOps.count(node.op_type) != 0;
}

// A node that only integer/bool tensors or tiny tensors flow into is most
// likely shape arithmetic (Gather on a Shape output, Concat of extents, Range
// on scalars...), which the executor runs on the host when its inputs are
// host-known. The build cannot tell host-known inputs from device inputs, so
// such nodes are accepted when the CPU backend can run them; creating a
// context checks the real placement and names the node if it must run on the device.
bool may_run_on_host(const Node& node, const std::vector<TensorInfo>& inputs) {
  constexpr int64_t kTinyElements = 16;
  if (!cpu::KernelTable::global().find(node.op_type, node.domain)) return false;
  for (const TensorInfo& info : inputs) {
    if (info.dtype == DataType::kUndefined) continue;
    if (dtype_is_integer(info.dtype) || info.dtype == DataType::kBool) continue;
    if (!info.fully_known() || element_count(info.dims) > kTinyElements) return false;
  }
  return true;
}

class CudaBackend final : public Backend {
 public:
  BackendKind kind() const override { return BackendKind::kCuda; }

  Status supports(const Node& node, const std::vector<TensorInfo>& inputs) const override {
    if (has_data_dependent_shape(node)) {
      return unimplemented(node.describe() + ": op '" + node.op_type +
                           "' has data-dependent output shapes, which the CUDA backend does not support "
                           "(every device shape must be known before execution); use --backend cpu");
    }
    if (reads_only_shape(node)) return ok_status();  // runs on the host in the shape pass
    const CudaKernel* kernel = CudaKernelTable::global().find(node.op_type, node.domain);
    Status device_status = ok_status();
    if (!kernel) {
      device_status = unimplemented(node.describe() + " (domain '" +
                                    (node.domain.empty() ? std::string("ai.onnx") : node.domain) + "', opset " +
                                    std::to_string(node.opset) + "): the CUDA backend has no kernel for op '" +
                                    node.op_type + "'");
    } else if (kernel->supports) {
      device_status = kernel->supports(node, inputs);
    }
    if (device_status.ok() || may_run_on_host(node, inputs)) return ok_status();
    return device_status;
  }

  bool has_tactics() const override { return true; }

  Status select_tactics(Graph& graph, TacticSelection& selection) const override {
    return select_cuda_tactics(graph, selection);
  }

  // Tensor-core convolutions in half precision read NHWC natively; NCHW makes
  // cuDNN transpose around each of them. float32 stays NCHW.
  bool prefers_channels_last(DataType precision) const override {
    return precision == DataType::kFloat16 || precision == DataType::kBFloat16;
  }

  Expected<std::unique_ptr<BackendExecutor>> create_executor(const Graph& graph,
                                                             const ExecutionOptions& options) const override {
    KILN_ASSIGN_OR_RETURN(auto order, graph.topological_order());
    GraphPartition partition = partition_graph(graph, std::move(order));
    KILN_ASSIGN_OR_RETURN(auto weights, weights_for(graph, partition));
    return create_cuda_executor(graph, std::move(partition), std::move(weights), options);
  }

 private:
  // Weights are uploaded by the first context of an engine and shared by the
  // others while any of them lives. The graph outlives its contexts, so a live
  // cache entry always belongs to the graph at that address.
  Expected<std::shared_ptr<const DeviceWeights>> weights_for(const Graph& graph,
                                                             const GraphPartition& partition) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = weights_.find(&graph);
    if (it != weights_.end()) {
      if (auto live = it->second.lock()) return live;
    }
    std::vector<const Value*> constants;
    for (const Value* v : partition.needed_on_device) {
      if (v->constant) constants.push_back(v);
    }
    KILN_ASSIGN_OR_RETURN(std::shared_ptr<DeviceWeights> uploaded, DeviceWeights::upload(constants));
    weights_[&graph] = uploaded;
    for (auto e = weights_.begin(); e != weights_.end();) {
      e = e->second.expired() ? weights_.erase(e) : std::next(e);
    }
    return std::shared_ptr<const DeviceWeights>(uploaded);
  }

  mutable std::mutex mutex_;
  mutable std::unordered_map<const Graph*, std::weak_ptr<const DeviceWeights>> weights_;
};

}  // namespace
}  // namespace cuda

const Backend* cuda_backend_or_null(Status* why) {
  static const Expected<int> devices = cuda::device_count();
  if (!devices.ok()) {
    *why = devices.status();
    return nullptr;
  }
  static const cuda::CudaBackend backend;
  return &backend;
}

}  // namespace kiln
