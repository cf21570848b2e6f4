// The CUDA executor: runs one engine's graph for one context.
//
// Design
// ------
// * Weights. The engine's constants that device nodes read are uploaded once
//   (DeviceWeights) and shared read-only by all contexts of the engine; the
//   backend caches them per graph (cuda_backend.cc).
// * Host/device split (graph_partition.h). Values that are constants, outputs
//   of Shape/Size, or outputs of nodes whose inputs are all host-known are
//   "host-known": they depend on input shapes only, never on input data. Their
//   nodes run on the CPU (cpu::evaluate_node) during the shape pass. This is
//   what resolves Reshape/Expand/Slice/... shape inputs on the host. Every other
//   node runs on the device and must have a CUDA kernel (checked when the
//   context is created).
// * Shape pass. When a context sees a set of input shapes it has not prepared,
//   it walks the graph once: host nodes are evaluated; device nodes get fully
//   static output shapes from OpRegistry::infer (with the host values), and their
//   kernel's prepare() builds descriptors, picks algorithms and states its
//   workspace. A device output whose shape would depend on device data is an
//   error naming the node (supports() already rejects NonZero, Unique, ...).
//   Host-known values that device nodes read are uploaded once per shape set.
//   Activations, graph inputs and workspaces get offsets in one arena from a
//   lifetime-aware plan (memory_plan.h); the arena is grown, never shrunk. A few
//   shape sets are cached per context. When a device node still lacks a value
//   (a Reshape target or Resize sizes given as graph inputs), its small
//   graph-input operands become "value-keyed": their bytes join the shape-set
//   key and their host copies serve the shape pass.
// * Execution (execute): pinned inputs (PinnedMemoryPool, or registered by the
//   caller) are sent H2D straight from the caller's buffer, pageable ones
//   through a pinned staging buffer; every device node's prepared kernel is
//   enqueued on the context's stream (no allocation and no host
//   synchronisation while enqueueing); outputs come back D2H straight into
//   pinned tensors from the pool; one wait at the end (spinning or sleeping,
//   ExecutionOptions::spin_wait). Events around the H2D, kernel and D2H phases
//   give each query's QueryTimings. With
//   KILN_CUDA_GRAPHS=1 the node kernels of a shape set are captured once into a
//   CUDA graph and replayed. KILN_CUDA_DISABLE_TF32=1 turns TF32 off.
// * Ownership: the context owns its stream, cuDNN and cuBLASLt handles, arena,
//   staging buffer and shape sets; prepared kernels reference only those.
#include "backends/cuda/cuda_executor.h"

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <list>
#include <unordered_map>

#include "backends/cpu/cpu_kernels.h"
#include "backends/cuda/cuda_kernels.h"
#include "backends/cuda/cuda_resources.h"
#include "backends/cuda/device_memory_pool.h"
#include "backends/cuda/memory_plan.h"
#include "kiln/host_memory.h"
#include "runtime/layer_profile.h"

namespace kiln::cuda {
namespace {

constexpr size_t kMaxCachedShapeSets = 8;
constexpr size_t kNotStaged = static_cast<size_t>(-1);

// Ops whose output holds exactly the bytes of input 0 (a new shape over the
// same row-major data), so the output can share the input's memory.
bool is_view_of_input(const Node& node, const std::vector<TensorInfo>& inputs, const std::vector<TensorInfo>& outputs) {
  static const char* const kViewOps[] = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity"};
  if (!node.domain.empty() || node.outputs.size() != 1 || !node.outputs[0] || inputs.empty() || !node.inputs[0]) {
    return false;
  }
  bool listed = false;
  for (const char* op : kViewOps) listed |= node.op_type == op;
  if (!listed || outputs.empty()) return false;
  return inputs[0].dtype == outputs[0].dtype && element_count(inputs[0].dims) == element_count(outputs[0].dims);
}

Status cancelled_status() { return Status(StatusCode::kCancelled, "shape pass restarted with value-keyed inputs"); }

bool environment_flag(const char* name) {
  const char* flag = std::getenv(name);
  return flag && flag[0] != '\0' && flag[0] != '0';
}

bool tf32_allowed_by_environment() {
  const char* flag = std::getenv("KILN_CUDA_DISABLE_TF32");
  return !(flag && flag[0] != '\0' && flag[0] != '0');
}

// Where a device value lives for one shape set.
struct ValueLocation {
  enum class Kind { kWeight, kUploaded, kArena } kind = Kind::kArena;
  void* pointer = nullptr;  // weights and uploads
  size_t offset = 0;        // arena
  DataType dtype = DataType::kUndefined;
  Dims dims;
};

struct Step {
  const Node* node = nullptr;
  PreparedKernel kernel;
  size_t workspace_offset = 0;
  bool skip = false;  // every output is empty: nothing to compute
  // Bound device tensors (rebuilt when the arena moves).
  std::vector<DeviceTensor> inputs;
  std::vector<DeviceTensor> outputs;
};

// What a shape set depends on: every input's dims, plus the bytes of the
// "value-keyed" inputs, graph inputs whose values decide shapes (a Reshape
// target or Resize sizes fed by the caller rather than by constants).
struct ShapeKey {
  std::vector<Dims> dims;
  std::vector<std::string> values;  // empty for inputs that are not value-keyed
  bool operator==(const ShapeKey&) const = default;
};

// Graph inputs larger than this never become value-keyed: they are data.
constexpr int64_t kMaxValueKeyedElements = 4096;

struct ShapeSet {
  ShapeKey key;
  std::unordered_map<const Value*, Tensor> host_values;
  std::unordered_map<const Value*, ValueLocation> locations;
  std::vector<Step> steps;
  DeviceBuffer uploads;
  size_t arena_bytes = 0;
  char* bound_arena = nullptr;
  bool bound = false;
  // Captured steps (KILN_CUDA_GRAPHS=1); reset whenever the bindings change.
  GraphExec graph;
  bool graph_failed = false;
  bool inputs_on_device = false;  // no_data_transfers: uploaded once
  // no_data_transfers: the zero placeholders returned for device outputs, made
  // once per shape set (a fresh 50 MB zeroed tensor per query would put the
  // host's memset into every query of a "compute only" benchmark).
  std::unordered_map<const Value*, Tensor> placeholders;
};

class CudaExecutor final : public BackendExecutor {
 public:
  CudaExecutor(const Graph& graph, GraphPartition partition, std::shared_ptr<const DeviceWeights> weights)
      : graph_(graph), partition_(std::move(partition)), weights_(std::move(weights)) {
    for (size_t i = 0; i < graph_.inputs().size(); ++i) input_index_[graph_.inputs()[i]] = i;
    value_keyed_.assign(graph_.inputs().size(), false);
  }

  Status initialize(const ExecutionOptions& options) {
    KILN_ASSIGN_OR_RETURN(stream_, Stream::create());
    KILN_ASSIGN_OR_RETURN(cudnn_, CudnnHandle::create(stream_.get()));
    KILN_ASSIGN_OR_RETURN(cublaslt_, CublasLtHandle::create());
    libraries_.stream = stream_.get();
    libraries_.cudnn = cudnn_.get();
    libraries_.cublaslt = cublaslt_.get();
    libraries_.allow_tf32 = options.allow_tf32 && tf32_allowed_by_environment();
    use_cuda_graphs_ = options.cuda_graphs || environment_flag("KILN_CUDA_GRAPHS");
    no_data_transfers_ = options.no_data_transfers;
    spin_wait_ = options.spin_wait;
    // Per-layer events sit between kernels, which a replayed graph hides.
    profile_layers_ = options.profile_layers;
    if (profile_layers_) use_cuda_graphs_ = false;
    KILN_ASSIGN_OR_RETURN(events_.start, Event::create(/*timing=*/true));
    KILN_ASSIGN_OR_RETURN(events_.inputs_copied, Event::create(/*timing=*/true));
    KILN_ASSIGN_OR_RETURN(events_.computed, Event::create(/*timing=*/true));
    KILN_ASSIGN_OR_RETURN(events_.outputs_copied, Event::create(/*timing=*/true, /*blocking_sync=*/!spin_wait_));
    return ok_status();
  }

  Expected<std::vector<Tensor>> execute(const TensorMap& inputs) override {
    std::vector<const Tensor*> input_tensors;
    for (const Value* v : graph_.inputs()) {
      auto it = inputs.find(v->name);
      if (it == inputs.end()) return invalid_argument("input '" + v->name + "' is missing");
      if (it->second.dtype() == DataType::kString) {
        return unimplemented("input '" + v->name + "' is a string tensor; the CUDA backend cannot hold strings");
      }
      input_tensors.push_back(&it->second);
    }
    KILN_ASSIGN_OR_RETURN(ShapeSet * set, shape_set_for(input_tensors));
    KILN_RETURN_IF_ERROR(arena_.reserve(set->arena_bytes));
    if (!set->bound || set->bound_arena != arena_.base()) bind(*set);

    // Pinned inputs are copied to the device straight from the caller's
    // buffer; pageable ones go through the context's pinned staging buffer
    // first (a host memcpy), so that the H2D itself is asynchronous.
    PinnedMemoryPool& pinned = PinnedMemoryPool::global();
    std::vector<size_t> input_staging(input_tensors.size(), kNotStaged);
    size_t staging_bytes = 0;
    for (size_t i = 0; i < input_tensors.size(); ++i) {
      const Tensor& t = *input_tensors[i];
      if (t.byte_size() == 0 || pinned.is_pinned(t.raw_data(), t.byte_size())) continue;
      input_staging[i] = staging_bytes;
      staging_bytes += align_up(t.byte_size(), 64);
    }
    if (staging_.size() < staging_bytes) {
      staging_ = PinnedBuffer();
      KILN_ASSIGN_OR_RETURN(staging_, PinnedBuffer::allocate(staging_bytes * 2));
    }
    char* staging = static_cast<char*>(staging_.data());
    cudaStream_t stream = stream_.get();

    const auto host_start = std::chrono::steady_clock::now();
    KILN_RETURN_IF_ERROR(events_.start.record(stream));
    const bool upload = !no_data_transfers_ || !set->inputs_on_device;
    set->inputs_on_device = true;
    for (size_t i = 0; i < input_tensors.size() && upload; ++i) {
      const Tensor& t = *input_tensors[i];
      if (t.byte_size() == 0) continue;
      const void* source = t.raw_data();
      if (input_staging[i] != kNotStaged) {
        std::memcpy(staging + input_staging[i], t.raw_data(), t.byte_size());
        source = staging + input_staging[i];
      }
      KILN_CUDA_CHECK(cudaMemcpyAsync(device_pointer(*set, graph_.inputs()[i]), source, t.byte_size(),
                                      cudaMemcpyHostToDevice, stream));
    }
    KILN_RETURN_IF_ERROR(events_.inputs_copied.record(stream));
    if (use_cuda_graphs_) {
      KILN_RETURN_IF_ERROR(launch_as_graph(*set));
    } else {
      KILN_RETURN_IF_ERROR(enqueue_steps(*set));
    }
    KILN_RETURN_IF_ERROR(events_.computed.record(stream));
    // Outputs land in pinned tensors from the pool: the D2H writes the
    // caller's buffer directly (pool buffers are recycled, so steady-state
    // queries allocate nothing).
    std::vector<Tensor> results;
    for (size_t i = 0; i < graph_.outputs().size(); ++i) {
      const Value* v = graph_.outputs()[i];
      if (v->constant) {
        results.push_back(*v->constant);
        continue;
      }
      if (auto host = set->host_values.find(v); host != set->host_values.end()) {
        results.push_back(host->second.clone());  // the cached value must not change with the caller's copy
        continue;
      }
      auto loc = set->locations.find(v);
      if (loc == set->locations.end()) return internal_error("graph output '" + v->name + "' was not computed");
      if (no_data_transfers_) {
        auto placeholder = set->placeholders.find(v);
        if (placeholder == set->placeholders.end()) {
          placeholder = set->placeholders.emplace(v, Tensor::zeros(loc->second.dtype, loc->second.dims)).first;
        }
        results.push_back(placeholder->second);
        continue;
      }
      Tensor out = pinned.allocate(loc->second.dtype, loc->second.dims);
      if (out.byte_size() > 0) {
        KILN_CUDA_CHECK(
            cudaMemcpyAsync(out.raw_data(), device_pointer(*set, v), out.byte_size(), cudaMemcpyDeviceToHost, stream));
      }
      results.push_back(std::move(out));
    }
    KILN_RETURN_IF_ERROR(events_.outputs_copied.record(stream));
    const auto host_enqueued = std::chrono::steady_clock::now();
    // The one wait of a query: the caller asked for outputs in host memory.
    KILN_RETURN_IF_ERROR(events_.outputs_copied.wait(spin_wait_));
    const auto host_done = std::chrono::steady_clock::now();
    QueryTimings timings;
    timings.valid = true;
    timings.enqueue_ms = std::chrono::duration<double, std::milli>(host_enqueued - host_start).count();
    timings.host_wall_ms = std::chrono::duration<double, std::milli>(host_done - host_start).count();
    KILN_ASSIGN_OR_RETURN(float h2d, events_.inputs_copied.elapsed_since(events_.start));
    KILN_ASSIGN_OR_RETURN(float compute, events_.computed.elapsed_since(events_.inputs_copied));
    KILN_ASSIGN_OR_RETURN(float d2h, events_.outputs_copied.elapsed_since(events_.computed));
    timings.h2d_ms = h2d;
    timings.compute_ms = compute;
    timings.d2h_ms = d2h;
    timings_ = timings;
    if (profile_layers_) KILN_RETURN_IF_ERROR(collect_layer_times(*set));
    return results;
  }

  QueryTimings last_timings() const override { return timings_; }
  std::vector<LayerTime> layer_profile() const override { return profile_.layers(); }

 private:
  // Every device node's kernel, in order, on the context's stream.
  Status enqueue_steps(ShapeSet& set) {
    if (profile_layers_) KILN_RETURN_IF_ERROR(prepare_layer_events(set));
    size_t marker = 0;
    for (Step& step : set.steps) {
      if (step.skip) continue;
      if (profile_layers_) KILN_RETURN_IF_ERROR(layer_events_[marker++].record(stream_.get()));
      LaunchArgs args{step.inputs, step.outputs, arena_.base() + step.workspace_offset, step.kernel.workspace_bytes,
                      libraries_};
      if (step.kernel.workspace_bytes == 0) args.workspace = nullptr;
      Status status = step.kernel.enqueue(args);
      if (!status.ok()) return status.with_context(step.node->describe());
    }
    if (profile_layers_) KILN_RETURN_IF_ERROR(layer_events_[marker].record(stream_.get()));
    return ok_status();
  }

  // One timing event per kernel boundary of the shape set (grown, never shrunk).
  Status prepare_layer_events(const ShapeSet& set) {
    size_t needed = 1;
    for (const Step& step : set.steps) needed += step.skip ? 0 : 1;
    while (layer_events_.size() < needed) {
      KILN_ASSIGN_OR_RETURN(Event e, Event::create(/*timing=*/true));
      layer_events_.push_back(std::move(e));
    }
    return ok_status();
  }

  // After the query finished: the time between each kernel's start marker and the next.
  Status collect_layer_times(const ShapeSet& set) {
    size_t marker = 0;
    for (const Step& step : set.steps) {
      if (step.skip) continue;
      KILN_ASSIGN_OR_RETURN(float ms, layer_events_[marker + 1].elapsed_since(layer_events_[marker]));
      profile_.add(*step.node, ms);
      ++marker;
    }
    return ok_status();
  }

  // With KILN_CUDA_GRAPHS=1 the steps of a shape set are captured once into a
  // CUDA graph and replayed (one launch instead of one per kernel). A capture
  // that fails falls back to plain enqueueing for that shape set.
  Status launch_as_graph(ShapeSet& set) {
    if (!set.graph.valid() && !set.graph_failed) {
      KILN_RETURN_IF_ERROR(CudaGraph::begin_capture(stream_.get()));
      Status enqueued = enqueue_steps(set);
      Expected<CudaGraph> graph = CudaGraph::end_capture(stream_.get());
      if (!enqueued.ok() || !graph.ok()) {
        cudaGetLastError();
        set.graph_failed = true;
      } else {
        Expected<GraphExec> exec = GraphExec::instantiate(*graph);
        if (exec.ok())
          set.graph = std::move(exec).value();
        else
          set.graph_failed = true;
      }
    }
    if (set.graph.valid()) return set.graph.launch(stream_.get());
    return enqueue_steps(set);
  }

  void* device_pointer(const ShapeSet& set, const Value* v) const {
    const ValueLocation& loc = set.locations.at(v);
    return loc.kind == ValueLocation::Kind::kArena ? arena_.base() + loc.offset : loc.pointer;
  }

  void bind(ShapeSet& set) {
    auto tensor_of = [&](const Value* v) -> DeviceTensor {
      if (!v) return {};
      auto it = set.locations.find(v);
      if (it == set.locations.end()) return {};
      return DeviceTensor{it->second.dtype, it->second.dims, device_pointer(set, v)};
    };
    for (Step& step : set.steps) {
      step.inputs.clear();
      step.outputs.clear();
      for (const Value* in : step.node->inputs) step.inputs.push_back(tensor_of(in));
      for (const Value* out : step.node->outputs) step.outputs.push_back(tensor_of(out));
    }
    set.bound_arena = arena_.base();
    set.bound = true;
    set.graph = GraphExec();
    set.graph_failed = false;
  }

  ShapeKey make_key(const std::vector<const Tensor*>& inputs) const {
    ShapeKey key;
    for (size_t i = 0; i < inputs.size(); ++i) {
      key.dims.push_back(inputs[i]->dims());
      key.values.emplace_back();
      if (value_keyed_[i]) {
        key.values.back().assign(static_cast<const char*>(inputs[i]->raw_data()), inputs[i]->byte_size());
      }
    }
    return key;
  }

  // A device node whose shapes or set-up need values it does not have: its
  // small graph-input operands become value-keyed. True when any was added
  // (the shape pass is then run again).
  bool key_inputs_of(const Node& node, const std::vector<const Tensor*>& inputs) {
    bool added = false;
    for (const Value* in : node.inputs) {
      auto it = input_index_.find(in);
      if (it == input_index_.end() || value_keyed_[it->second]) continue;
      const Tensor& t = *inputs[it->second];
      if (t.dtype() == DataType::kString || t.element_count() > kMaxValueKeyedElements) continue;
      value_keyed_[it->second] = true;
      added = true;
    }
    return added;
  }

  Expected<ShapeSet*> shape_set_for(const std::vector<const Tensor*>& inputs) {
    for (size_t attempt = 0; attempt <= inputs.size(); ++attempt) {
      ShapeKey key = make_key(inputs);
      for (auto it = shape_sets_.begin(); it != shape_sets_.end(); ++it) {
        if ((*it)->key == key) {
          shape_sets_.splice(shape_sets_.begin(), shape_sets_, it);  // most recent first
          return shape_sets_.front().get();
        }
      }
      bool retry = false;
      auto set = prepare_shape_set(key, inputs, &retry);
      if (retry) continue;
      if (!set.ok()) return set.status();
      shape_sets_.push_front(std::move(set).value());
      if (shape_sets_.size() > kMaxCachedShapeSets) shape_sets_.pop_back();
      return shape_sets_.front().get();
    }
    return internal_error("the shape pass did not settle on a set of value-keyed inputs");
  }

  // Shape/Size on the host from the input's dims alone.
  static Expected<Tensor> evaluate_shape_op(const Node& node, const Dims& dims) {
    if (node.op_type == "Size") return Tensor::from_vector<int64_t>(DataType::kInt64, {}, {element_count(dims)});
    const int64_t rank = static_cast<int64_t>(dims.size());
    auto clamp_axis = [rank](int64_t axis) {
      if (axis < 0) axis += rank;
      return std::max<int64_t>(0, std::min(axis, rank));
    };
    int64_t start = clamp_axis(node.attr_int("start", 0));
    int64_t end = node.has_attribute("end") ? clamp_axis(node.attr_int("end", rank)) : rank;
    std::vector<int64_t> extents;
    for (int64_t a = start; a < end; ++a) extents.push_back(dims[a]);
    return Tensor::from_vector<int64_t>(DataType::kInt64, {static_cast<int64_t>(extents.size())}, extents);
  }

  // Runs the shape pass for `key`. Sets *retry (and returns an error) when it
  // made more inputs value-keyed, so the caller must build a new key.
  Expected<std::unique_ptr<ShapeSet>> prepare_shape_set(const ShapeKey& key, const std::vector<const Tensor*>& inputs,
                                                        bool* retry) {
    auto set = std::make_unique<ShapeSet>();
    set->key = key;
    std::unordered_map<const Value*, TensorInfo> infos;
    for (size_t i = 0; i < graph_.inputs().size(); ++i) {
      infos[graph_.inputs()[i]] = TensorInfo{inputs[i]->dtype(), inputs[i]->dims(), true};
    }
    auto info_of = [&](const Value* v) -> TensorInfo {
      if (!v) return {};
      if (v->constant) return TensorInfo{v->constant->dtype(), v->constant->dims(), true};
      auto it = infos.find(v);
      return it == infos.end() ? TensorInfo{} : it->second;
    };
    auto host_value_of = [&](const Value* v) -> const Tensor* {
      if (!v) return nullptr;
      if (v->constant) return &*v->constant;
      if (auto in = input_index_.find(v); in != input_index_.end()) {
        return value_keyed_[in->second] ? inputs[in->second] : nullptr;
      }
      auto it = set->host_values.find(v);
      return it == set->host_values.end() ? nullptr : &it->second;
    };

    const std::vector<Node*>& order = partition_.order;
    const int64_t end_step = static_cast<int64_t>(order.size());
    std::vector<const Value*> arena_values;
    std::unordered_map<const Value*, BufferRequest> lifetimes;
    for (const Value* v : graph_.inputs()) {
      arena_values.push_back(v);
      lifetimes[v] = BufferRequest{0, 0, 0};
    }
    std::vector<std::pair<size_t, size_t>> workspace_requests;  // (step index in set->steps, bytes)
    // Reshape & co. move no bytes: their outputs are views of the arena value
    // that holds their input's bytes, whose lifetime then covers the views' readers.
    std::unordered_map<const Value*, const Value*> view_of;
    auto storage_of = [&](const Value* v) -> const Value* {
      auto it = view_of.find(v);
      return it == view_of.end() ? v : it->second;
    };

    for (size_t i = 0; i < order.size(); ++i) {
      const Node& node = *order[i];
      std::vector<TensorInfo> in_infos;
      std::vector<const Tensor*> in_values;
      for (const Value* in : node.inputs) {
        in_infos.push_back(info_of(in));
        in_values.push_back(host_value_of(in));
        if (in && in_infos.back().dtype == DataType::kUndefined) {
          return internal_error(node.describe() + ": input '" + in->name + "' was not computed before it");
        }
      }
      if (partition_.on_host[i]) {
        std::vector<Tensor> outputs;
        if (reads_only_shape(node) && !in_values[0]) {
          KILN_ASSIGN_OR_RETURN(Tensor t, evaluate_shape_op(node, in_infos[0].dims));
          outputs.push_back(std::move(t));
        } else {
          KILN_ASSIGN_OR_RETURN(outputs, cpu::evaluate_node(node, in_values));
        }
        for (size_t o = 0; o < node.outputs.size() && o < outputs.size(); ++o) {
          if (!node.outputs[o]) continue;
          infos[node.outputs[o]] = TensorInfo{outputs[o].dtype(), outputs[o].dims(), true};
          set->host_values[node.outputs[o]] = std::move(outputs[o]);
        }
        continue;
      }

      const CudaKernel* kernel = CudaKernelTable::global().find(node.op_type, node.domain);
      if (!kernel) return unimplemented(node.describe() + ": no CUDA kernel");
      // The build may have accepted this node for host evaluation (integer or
      // tiny inputs); on the device its kernel must accept the real inputs.
      if (kernel->supports) KILN_RETURN_IF_ERROR(kernel->supports(node, in_infos));
      InferContext context{node, in_infos, in_values};
      KILN_ASSIGN_OR_RETURN(std::vector<TensorInfo> out_infos, OpRegistry::global().infer(context));
      out_infos.resize(node.outputs.size());
      bool all_empty = true;
      for (size_t o = 0; o < node.outputs.size(); ++o) {
        const Value* out = node.outputs[o];
        if (!out) continue;
        if (!out_infos[o].fully_known() || out_infos[o].dtype == DataType::kUndefined) {
          if (key_inputs_of(node, inputs)) {
            *retry = true;
            return cancelled_status();
          }
          return unimplemented(node.describe() + ": the shape of output '" + out->name +
                               "' depends on data on the device; the CUDA backend needs every shape known "
                               "before it runs (its shape inputs must come from constants or Shape)");
        }
        if (out_infos[o].dtype == DataType::kString) return unsupported_cuda_dtype(node, DataType::kString, "output");
        if (element_count(out_infos[o].dims) != 0) all_empty = false;
        infos[out] = out_infos[o];
      }
      const bool view = is_view_of_input(node, in_infos, out_infos) && lifetimes.count(storage_of(node.inputs[0]));
      if (view) {
        view_of[node.outputs[0]] = storage_of(node.inputs[0]);
      } else {
        for (const Value* out : node.outputs) {
          if (!out) continue;
          arena_values.push_back(out);
          lifetimes[out] = BufferRequest{0, static_cast<int64_t>(i), static_cast<int64_t>(i)};
        }
      }
      for (const Value* in : node.inputs) {
        auto it = lifetimes.find(storage_of(in));
        if (it != lifetimes.end()) it->second.last_step = static_cast<int64_t>(i);
      }
      PrepareArgs prepare_args{node, in_infos, in_values, out_infos, libraries_};
      Expected<PreparedKernel> prepared = kernel->prepare(prepare_args);
      if (!prepared.ok() && key_inputs_of(node, inputs)) {
        *retry = true;
        return cancelled_status();
      }
      if (!prepared.ok()) {
        const Status& s = prepared.status();
        return s.message().rfind("node '", 0) == 0 ? s : s.with_context(node.describe());
      }
      Step step;
      step.node = &node;
      step.kernel = std::move(prepared).value();
      step.skip = all_empty || view;
      if (step.kernel.workspace_bytes > 0) workspace_requests.push_back({set->steps.size(), i});
      set->steps.push_back(std::move(step));
    }
    for (const Value* v : graph_.outputs()) {
      auto it = lifetimes.find(storage_of(v));
      if (it != lifetimes.end()) it->second.last_step = end_step;
    }

    // Host-known values read by device nodes: one upload per shape set.
    size_t upload_bytes = 0;
    std::vector<std::pair<const Value*, size_t>> uploads;
    for (const Value* v : partition_.needed_on_device) {
      if (v->constant) {
        const DeviceTensor* w = weights_->find(v);
        if (!w) return internal_error("constant '" + v->name + "' was not uploaded to the device");
        set->locations[v] = ValueLocation{ValueLocation::Kind::kWeight, w->data, 0, w->dtype, w->dims};
        continue;
      }
      const Tensor* host = host_value_of(v);
      if (!host) return internal_error("host value '" + v->name + "' was not computed");
      if (host->dtype() == DataType::kString) {
        return unimplemented("value '" + v->name + "' is a string tensor; the CUDA backend cannot hold strings");
      }
      uploads.push_back({v, upload_bytes});
      upload_bytes += align_up(host->byte_size());
    }
    if (upload_bytes > 0) {
      KILN_ASSIGN_OR_RETURN(set->uploads, DeviceBuffer::allocate(upload_bytes));
      for (const auto& [v, offset] : uploads) {
        const Tensor& host = *host_value_of(v);
        void* device = static_cast<char*>(set->uploads.data()) + offset;
        if (host.byte_size() > 0) {
          KILN_CUDA_CHECK(cudaMemcpy(device, host.raw_data(), host.byte_size(), cudaMemcpyHostToDevice));
        }
        set->locations[v] = ValueLocation{ValueLocation::Kind::kUploaded, device, 0, host.dtype(), host.dims()};
      }
      // cudaMemcpy from pageable memory may return before the DMA lands, and the
      // context's non-blocking stream does not wait for the legacy stream.
      KILN_CUDA_CHECK(cudaStreamSynchronize(nullptr));
    }

    // One arena for activations and workspaces.
    std::vector<BufferRequest> requests;
    for (const Value* v : arena_values) {
      BufferRequest r = lifetimes[v];
      const TensorInfo& info = infos[v];
      r.bytes = static_cast<size_t>(element_count(info.dims)) * dtype_size(info.dtype);
      requests.push_back(r);
    }
    for (const auto& [step_index, node_index] : workspace_requests) {
      requests.push_back(BufferRequest{set->steps[step_index].kernel.workspace_bytes, static_cast<int64_t>(node_index),
                                       static_cast<int64_t>(node_index)});
    }
    MemoryPlan plan = plan_memory(requests, kDeviceAlignment);
    for (size_t k = 0; k < arena_values.size(); ++k) {
      const Value* v = arena_values[k];
      const TensorInfo& info = infos[v];
      set->locations[v] = ValueLocation{ValueLocation::Kind::kArena, nullptr, plan.offsets[k], info.dtype, info.dims};
    }
    for (const auto& [view, storage] : view_of) {
      const TensorInfo& info = infos[view];
      set->locations[view] =
          ValueLocation{ValueLocation::Kind::kArena, nullptr, set->locations.at(storage).offset, info.dtype, info.dims};
    }
    for (size_t k = 0; k < workspace_requests.size(); ++k) {
      set->steps[workspace_requests[k].first].workspace_offset = plan.offsets[arena_values.size() + k];
    }
    set->arena_bytes = plan.total_bytes;
    return set;
  }

  const Graph& graph_;
  GraphPartition partition_;
  std::shared_ptr<const DeviceWeights> weights_;
  Stream stream_;
  CudnnHandle cudnn_;
  CublasLtHandle cublaslt_;
  CudaLibraries libraries_;
  bool use_cuda_graphs_ = false;
  bool no_data_transfers_ = false;
  DeviceArena arena_;
  PinnedBuffer staging_;
  // Phase boundaries of the current query, recorded on stream_.
  struct PhaseEvents {
    Event start, inputs_copied, computed, outputs_copied;
  } events_;
  bool spin_wait_ = false;
  QueryTimings timings_;
  bool profile_layers_ = false;
  std::vector<Event> layer_events_;
  LayerProfile profile_;
  std::list<std::unique_ptr<ShapeSet>> shape_sets_;
  std::unordered_map<const Value*, size_t> input_index_;
  std::vector<bool> value_keyed_;  // aligned with graph inputs
};

}  // namespace

Expected<std::unique_ptr<BackendExecutor>> create_cuda_executor(const Graph& graph, GraphPartition partition,
                                                                std::shared_ptr<const DeviceWeights> weights,
                                                                const ExecutionOptions& options) {
  for (size_t i = 0; i < partition.order.size(); ++i) {
    if (partition.on_host[i]) continue;
    const Node& node = *partition.order[i];
    if (!CudaKernelTable::global().find(node.op_type, node.domain)) {
      return unimplemented(node.describe() + ": the CUDA backend has no kernel for op '" + node.op_type +
                           "' and the node reads device data, so it cannot run on the host during the shape pass");
    }
  }
  auto executor = std::make_unique<CudaExecutor>(graph, std::move(partition), std::move(weights));
  KILN_RETURN_IF_ERROR(executor->initialize(options));
  return std::unique_ptr<BackendExecutor>(std::move(executor));
}

}  // namespace kiln::cuda
