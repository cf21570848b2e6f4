#include "backends/cuda/tactic_timing.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>

#include "backends/cuda/cuda_kernels.h"
#include "backends/cuda/cuda_resources.h"
#include "backends/cuda/device_memory_pool.h"
#include "build/tactic_record.h"
#include "runtime/shape_plan.h"

namespace kiln::cuda {
namespace {

constexpr int kWarmupRuns = 2;
constexpr int kTimedRuns = 5;
constexpr int kLaunchesPerSample = 10;

// What one node sees at one point (min, opt or max) of a profile, in the form
// PrepareArgs takes.
struct NodeShapes {
  std::vector<TensorInfo> inputs;
  std::vector<const Tensor*> host_values;
  std::vector<TensorInfo> outputs;

  std::vector<std::optional<Dims>> input_dims() const {
    std::vector<std::optional<Dims>> out;
    for (const TensorInfo& info : inputs) {
      out.push_back(info.dtype == DataType::kUndefined ? std::nullopt : std::optional<Dims>(info.dims));
    }
    return out;
  }
};

// nullopt when some input or output of the node has no static shape at this point.
std::optional<NodeShapes> node_shapes(const Node& node, const ShapePlan& plan) {
  NodeShapes shapes;
  for (const Value* in : node.inputs) {
    if (!in) {
      shapes.inputs.push_back(TensorInfo{});
      shapes.host_values.push_back(nullptr);
      continue;
    }
    const Tensor* value = nullptr;
    if (in->constant)
      value = &*in->constant;
    else if (auto hv = plan.host_values.find(in); hv != plan.host_values.end())
      value = &hv->second;
    TensorInfo info;
    if (value)
      info = TensorInfo{value->dtype(), value->dims(), true};
    else if (auto it = plan.infos.find(in); it != plan.infos.end())
      info = it->second;
    if (info.dtype == DataType::kUndefined || !info.fully_known()) return std::nullopt;
    shapes.inputs.push_back(info);
    shapes.host_values.push_back(value);
  }
  for (const Value* out : node.outputs) {
    if (!out) {
      shapes.outputs.push_back(TensorInfo{});
      continue;
    }
    auto it = plan.infos.find(out);
    if (it == plan.infos.end() || it->second.dtype == DataType::kUndefined || !it->second.fully_known()) {
      return std::nullopt;
    }
    shapes.outputs.push_back(it->second);
  }
  return shapes;
}

// Random values in [-1, 1] for every input: timings should not profit from
// zeros, and the data must stay finite in every float type.
class RandomData {
 public:
  const std::vector<uint8_t>& bytes(DataType dtype, int64_t count) {
    std::vector<uint8_t>& bytes = by_type_[dtype];
    const size_t size = static_cast<size_t>(count) * dtype_size(dtype);
    if (bytes.size() >= size) return bytes;
    bytes.assign(size, 0);
    for (int64_t i = 0; i < count; ++i) {
      state_ ^= state_ << 13;
      state_ ^= state_ >> 7;
      state_ ^= state_ << 17;
      const float value = static_cast<float>(static_cast<double>(state_ >> 11) / 9007199254740992.0 * 2.0 - 1.0);
      uint8_t* out = bytes.data() + static_cast<size_t>(i) * dtype_size(dtype);
      if (dtype == DataType::kFloat32) {
        std::memcpy(out, &value, 4);
      } else if (dtype == DataType::kFloat16) {
        const uint16_t half = float_to_half(value);
        std::memcpy(out, &half, 2);
      } else if (dtype == DataType::kBFloat16) {
        uint32_t bits;
        std::memcpy(&bits, &value, 4);
        const uint16_t upper = static_cast<uint16_t>(bits >> 16);
        std::memcpy(out, &upper, 2);
      }  // other types stay zero: the kernels with tactics take floats only
    }
    return bytes;
  }

 private:
  std::map<DataType, std::vector<uint8_t>> by_type_;
  uint64_t state_ = 0x9e3779b97f4a7c15ull;
};

// Device memory for one node's operands and a candidate's workspace; both
// grow and are reused across nodes.
class TimingMemory {
 public:
  Expected<char*> operands(size_t bytes) { return grow(operands_, bytes); }
  Expected<char*> workspace(size_t bytes) { return grow(workspace_, bytes); }

 private:
  static Expected<char*> grow(DeviceBuffer& buffer, size_t bytes) {
    if (buffer.size() < bytes) {
      buffer = DeviceBuffer();  // free first: the old contents are not needed
      KILN_ASSIGN_OR_RETURN(buffer, DeviceBuffer::allocate(bytes));
    }
    return static_cast<char*>(buffer.data());
  }
  DeviceBuffer operands_;
  DeviceBuffer workspace_;
};

struct TimingState {
  Stream stream;
  CudnnHandle cudnn;
  CublasLtHandle cublaslt;
  CudaLibraries libraries;
  Event start, stop;
  TimingMemory memory;
  RandomData random;
};

// Device tensors for the node's inputs (random data) and outputs at `shapes`.
Status bind_operands(const NodeShapes& shapes, TimingState& state, std::vector<DeviceTensor>* inputs,
                     std::vector<DeviceTensor>* outputs) {
  size_t bytes = 0;
  auto size_of = [](const TensorInfo& info) {
    return info.dtype == DataType::kUndefined ? size_t{0}
                                              : static_cast<size_t>(element_count(info.dims)) * dtype_size(info.dtype);
  };
  for (const TensorInfo& info : shapes.inputs) bytes += align_up(size_of(info));
  for (const TensorInfo& info : shapes.outputs) bytes += align_up(size_of(info));
  KILN_ASSIGN_OR_RETURN(char* base, state.memory.operands(std::max<size_t>(bytes, kDeviceAlignment)));
  size_t offset = 0;
  inputs->clear();
  outputs->clear();
  for (const TensorInfo& info : shapes.inputs) {
    if (info.dtype == DataType::kUndefined) {
      inputs->push_back(DeviceTensor{});
      continue;
    }
    const int64_t count = element_count(info.dims);
    if (count > 0) {
      const std::vector<uint8_t>& data = state.random.bytes(info.dtype, count);
      KILN_CUDA_CHECK(
          cudaMemcpyAsync(base + offset, data.data(), size_of(info), cudaMemcpyHostToDevice, state.stream.get()));
    }
    inputs->push_back(DeviceTensor{info.dtype, info.dims, base + offset});
    offset += align_up(size_of(info));
  }
  for (const TensorInfo& info : shapes.outputs) {
    if (info.dtype == DataType::kUndefined) {
      outputs->push_back(DeviceTensor{});
      continue;
    }
    outputs->push_back(DeviceTensor{info.dtype, info.dims, base + offset});
    offset += align_up(size_of(info));
  }
  // The copies read pageable host memory that must stay put until they finish.
  return state.stream.synchronize();
}

Expected<PreparedKernel> prepare_with(const CudaKernel& kernel, const Node& node, const NodeShapes& shapes,
                                      const CudaLibraries& libraries, const KernelTactic& tactic) {
  PrepareArgs args{node, shapes.inputs, shapes.host_values, shapes.outputs, libraries, &tactic, nullptr};
  return kernel.prepare(args);
}

// Median milliseconds of one candidate at the shapes its operands were bound for.
Expected<double> time_candidate(const CudaKernel& kernel, const Node& node, const NodeShapes& shapes,
                                const KernelTactic& tactic, const std::vector<DeviceTensor>& inputs,
                                const std::vector<DeviceTensor>& outputs, TimingState& state) {
  KILN_ASSIGN_OR_RETURN(PreparedKernel prepared, prepare_with(kernel, node, shapes, state.libraries, tactic));
  void* workspace = nullptr;
  if (prepared.workspace_bytes > 0) {
    KILN_ASSIGN_OR_RETURN(char* memory, state.memory.workspace(prepared.workspace_bytes));
    workspace = memory;
  }
  LaunchArgs launch{inputs, outputs, workspace, prepared.workspace_bytes, state.libraries};
  for (int i = 0; i < kWarmupRuns; ++i) KILN_RETURN_IF_ERROR(prepared.enqueue(launch));
  // What counts is the kernels' time on the device: engines replay their
  // kernels from CUDA graphs, where host-side launch cost is paid once per
  // query, not per layer. So kLaunchesPerSample launches are captured into one
  // graph and each sample times a replay; timing single launches instead would
  // add each library call's host overhead (tens of microseconds, more than
  // many batch-1 kernels take) and rank candidates by that.
  GraphExec replay;
  if (CudaGraph::begin_capture(state.stream.get()).ok()) {
    Status enqueued = ok_status();
    for (int i = 0; i < kLaunchesPerSample && enqueued.ok(); ++i) enqueued = prepared.enqueue(launch);
    Expected<CudaGraph> graph = CudaGraph::end_capture(state.stream.get());
    if (enqueued.ok() && graph.ok()) {
      Expected<GraphExec> exec = GraphExec::instantiate(*graph);
      if (exec.ok()) replay = std::move(exec).value();
    }
    cudaGetLastError();  // a failed capture falls back to back-to-back launches below
  }
  if (replay.valid()) KILN_RETURN_IF_ERROR(replay.launch(state.stream.get()));  // warm the graph
  std::vector<double> times;
  for (int i = 0; i < kTimedRuns; ++i) {
    KILN_RETURN_IF_ERROR(state.start.record(state.stream.get()));
    if (replay.valid()) {
      KILN_RETURN_IF_ERROR(replay.launch(state.stream.get()));
    } else {
      for (int k = 0; k < kLaunchesPerSample; ++k) KILN_RETURN_IF_ERROR(prepared.enqueue(launch));
    }
    KILN_RETURN_IF_ERROR(state.stop.record(state.stream.get()));
    // The build waits for each measurement; nothing else runs on this stream.
    KILN_CUDA_CHECK(cudaEventSynchronize(state.stop.get()));
    float ms = 0;
    KILN_CUDA_CHECK(cudaEventElapsedTime(&ms, state.start.get(), state.stop.get()));
    times.push_back(ms / kLaunchesPerSample);
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

struct ProfilePlans {
  size_t index = 0;
  ShapePlan min, opt, max;
};

struct Choice {
  KernelTactic tactic;
  double time_ms = 0;
};

class TacticSelector {
 public:
  TacticSelector(TacticSelection& selection, TimingState& state, std::string device)
      : selection_(selection), state_(state), device_(std::move(device)) {}

  // Decides one node for one profile; nullopt when no candidate fits (the
  // kernel's heuristic decides at run time).
  Expected<std::optional<Choice>> choose(const Node& node, const CudaKernel& kernel, const NodeShapes& opt,
                                         const NodeShapes& min, const NodeShapes& max, const std::string& mode,
                                         bool* from_cache) {
    *from_cache = false;
    auto valid_everywhere = [&](const KernelTactic& tactic) {
      return prepare_with(kernel, node, opt, state_.libraries, tactic).ok() &&
             prepare_with(kernel, node, min, state_.libraries, tactic).ok() &&
             prepare_with(kernel, node, max, state_.libraries, tactic).ok();
    };
    const std::string key = device_ + " | " + layer_signature(node, opt.inputs, opt.outputs) + " | " + mode;
    if (const TimingCacheEntry* entry = selection_.cache->find(key)) {
      KernelTactic tactic{entry->tactic, entry->label};
      if (valid_everywhere(tactic)) {
        *from_cache = true;
        return std::optional<Choice>(Choice{tactic, entry->time_ms});
      }
    }
    std::vector<KernelTactic> candidates;
    PrepareArgs list_args{node, opt.inputs, opt.host_values, opt.outputs, state_.libraries, nullptr, &candidates};
    if (!kernel.prepare(list_args).ok() || candidates.empty()) return std::optional<Choice>();
    std::vector<DeviceTensor> inputs, outputs;
    KILN_RETURN_IF_ERROR(bind_operands(opt, state_, &inputs, &outputs));
    std::vector<Choice> timed;
    for (const KernelTactic& tactic : candidates) {
      Expected<double> ms = time_candidate(kernel, node, opt, tactic, inputs, outputs, state_);
      if (!ms.ok()) {
        // A candidate that fails to run is not a choice; the error is not sticky.
        cudaGetLastError();
        KILN_RETURN_IF_ERROR(state_.stream.synchronize());
        continue;
      }
      timed.push_back(Choice{tactic, *ms});
    }
    std::stable_sort(timed.begin(), timed.end(),
                     [](const Choice& a, const Choice& b) { return a.time_ms < b.time_ms; });
    for (const Choice& choice : timed) {
      if (!prepare_with(kernel, node, min, state_.libraries, choice.tactic).ok() ||
          !prepare_with(kernel, node, max, state_.libraries, choice.tactic).ok()) {
        continue;
      }
      selection_.cache->insert(key, TimingCacheEntry{choice.tactic.id, choice.time_ms, choice.tactic.label});
      return std::optional<Choice>(choice);
    }
    return std::optional<Choice>();
  }

 private:
  TacticSelection& selection_;
  TimingState& state_;
  std::string device_;
};

}  // namespace

Expected<std::string> cuda_device_key() {
  int device = 0;
  KILN_CUDA_CHECK(cudaGetDevice(&device));
  cudaDeviceProp properties{};
  KILN_CUDA_CHECK(cudaGetDeviceProperties(&properties, device));
  return std::string(properties.name) + " sm_" + std::to_string(properties.major) + std::to_string(properties.minor) +
         " cudnn " + std::to_string(cudnnGetVersion()) + " cublaslt " + std::to_string(cublasLtGetVersion());
}

Status select_cuda_tactics(Graph& graph, TacticSelection& selection) {
  TacticProgress& progress = *selection.progress;
  KILN_ASSIGN_OR_RETURN(std::vector<Node*> order, graph.topological_order());
  const CudaKernelTable& table = CudaKernelTable::global();
  auto kernel_of = [&](const Node* node) -> const CudaKernel* {
    const CudaKernel* kernel = table.find(node->op_type, node->domain);
    return kernel && kernel->has_tactics ? kernel : nullptr;
  };
  // Choices of an earlier build of this graph are replaced, not merged.
  for (Node* node : order) {
    if (kernel_of(node)) node->attributes.erase(kTacticsAttribute);
  }

  std::vector<ProfilePlans> plans;
  for (const ProfileShapes& profile : selection.profiles) {
    ProfilePlans p;
    p.index = profile.index;
    auto min = plan_shapes(graph, order, profile.min);
    auto opt = plan_shapes(graph, order, profile.opt);
    auto max = plan_shapes(graph, order, profile.max);
    if (!min.ok() || !opt.ok() || !max.ok()) {
      const Status& why = !min.ok() ? min.status() : !opt.ok() ? opt.status() : max.status();
      progress.warning("profile " + std::to_string(profile.index) + ": the shape pass failed (" + why.message() +
                       "); its layers run the heuristic's algorithms");
      continue;
    }
    p.min = std::move(min).value();
    p.opt = std::move(opt).value();
    p.max = std::move(max).value();
    plans.push_back(std::move(p));
  }
  struct Layer {
    Node* node;
    const CudaKernel* kernel;
    const ProfilePlans* plans;
  };
  std::vector<Layer> layers;
  for (const ProfilePlans& p : plans) {
    for (Node* node : order) {
      const CudaKernel* kernel = kernel_of(node);
      if (kernel && !p.opt.is_host_node(node)) layers.push_back(Layer{node, kernel, &p});
    }
  }
  if (layers.empty()) return ok_status();

  TimingState state;
  KILN_ASSIGN_OR_RETURN(state.stream, Stream::create());
  KILN_ASSIGN_OR_RETURN(state.cudnn, CudnnHandle::create(state.stream.get()));
  KILN_ASSIGN_OR_RETURN(state.cublaslt, CublasLtHandle::create());
  KILN_ASSIGN_OR_RETURN(state.start, Event::create(true));
  KILN_ASSIGN_OR_RETURN(state.stop, Event::create(true));
  // Contexts honour KILN_CUDA_DISABLE_TF32 too; time what they will run.
  const char* no_tf32 = std::getenv("KILN_CUDA_DISABLE_TF32");
  const bool allow_tf32 = selection.allow_tf32 && !(no_tf32 && no_tf32[0] != '\0' && no_tf32[0] != '0');
  state.libraries = CudaLibraries{state.stream.get(), state.cudnn.get(), state.cublaslt.get(), allow_tf32};
  KILN_ASSIGN_OR_RETURN(std::string device, cuda_device_key());
  TacticSelector selector(selection, state, device);

  progress.start(layers.size());
  std::map<Node*, std::vector<StoredTactic>> records;
  for (const Layer& layer : layers) {
    const Node& node = *layer.node;
    std::optional<NodeShapes> opt = node_shapes(node, layer.plans->opt);
    std::optional<NodeShapes> min = node_shapes(node, layer.plans->min);
    std::optional<NodeShapes> max = node_shapes(node, layer.plans->max);
    std::optional<Choice> choice;
    bool from_cache = false;
    if (opt && min && max && !opt->inputs.empty()) {
      const std::string mode = precision_mode(opt->inputs[0].dtype, allow_tf32);
      auto chosen = selector.choose(node, *layer.kernel, *opt, *min, *max, mode, &from_cache);
      if (!chosen.ok()) {
        return chosen.status().with_context(node.describe() + ", profile " + std::to_string(layer.plans->index));
      }
      choice = *chosen;
      if (choice) {
        records[layer.node].push_back(StoredTactic{layer.plans->index, mode, choice->time_ms, min->input_dims(),
                                                   max->input_dims(), choice->tactic.id, choice->tactic.label});
      }
    }
    progress.layer_done(node.name, node.op_type, layer.plans->index, choice ? choice->tactic.label : "",
                        choice ? choice->time_ms : 0.0, from_cache);
  }
  for (auto& [node, entries] : records) set_stored_tactics(*node, entries);
  progress.done();
  return ok_status();
}

}  // namespace kiln::cuda
