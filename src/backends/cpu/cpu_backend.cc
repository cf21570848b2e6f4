// The CPU backend: walks the graph in topological order and runs each node's
// kernel. Per set of input shapes it runs the shape pass once (shape tensors on
// the host, every activation's dims known) and packs all activations into one
// arena planned from value lifetimes; execution then allocates only graph
// outputs and the outputs of data-dependent ops.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <unordered_map>

#include "backends/cpu/cpu_kernels.h"
#include "build/memory_planner.h"
#include "ir/shape_inference.h"
#include "passes/passes.h"
#include "runtime/backend.h"
#include "runtime/layer_profile.h"
#include "runtime/shape_plan.h"

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

// Everything decided once per set of input shapes.
struct PreparedShapes {
  ShapePlan shapes;
  GraphMemoryPlan memory;
  std::shared_ptr<void> arena;
  size_t arena_bytes = 0;
};

class CpuExecutor final : public BackendExecutor {
 public:
  explicit CpuExecutor(const Graph& graph, std::vector<Node*> order) : graph_(graph), order_(std::move(order)) {
    for (size_t i = 0; i < order_.size(); ++i) {
      for (Value* in : order_[i]->inputs) if (in) last_use_[in] = i;
    }
    for (Value* out : graph_.outputs()) last_use_[out] = order_.size();
  }

  // Phases on the host clock: enqueue = shape pass, arena set-up and the live
  // map (everything before the first kernel); compute = the node loop; d2h =
  // copying outputs that sit in the arena out of it (usually none: graph
  // outputs are allocated on their own). Inputs are read in place, so h2d is 0.
  Expected<std::vector<Tensor>> execute(const TensorMap& inputs) override {
    timings_ = {};
    const Clock::time_point start = Clock::now();
    QueryTimings timings;
    KILN_ASSIGN_OR_RETURN(std::vector<Tensor> results, run(inputs, timings));
    timings.host_wall_ms = milliseconds_since(start);
    timings.valid = true;
    timings_ = timings;
    return results;
  }

  QueryTimings last_timings() const override { return timings_; }
  std::vector<LayerTime> layer_profile() const override { return profile_.layers(); }
  void set_profile_layers(bool on) { profile_layers_ = on; }

 private:
  using Clock = std::chrono::steady_clock;
  using KernelTableRef = const cpu::KernelTable&;

  static double milliseconds_since(Clock::time_point start) {
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  }

  Expected<std::vector<Tensor>> run(const TensorMap& inputs, QueryTimings& timings) {
    const Clock::time_point enqueue_start = Clock::now();
    InputShapes shapes = input_shapes_of(inputs);
    if (!prepared_ || prepared_->shapes.input_shapes != shapes) KILN_RETURN_IF_ERROR(prepare(shapes));
    const PreparedShapes& p = *prepared_;
    char* arena = static_cast<char*>(p.arena.get());
    auto in_arena = [&](const void* ptr) {
      return arena && ptr >= arena && ptr < arena + p.arena_bytes;
    };

    std::unordered_map<const Value*, Tensor> live;
    for (Value* in : graph_.inputs()) {
      auto it = inputs.find(in->name);
      if (it != inputs.end()) live[in] = it->second;
    }
    const KernelTableRef kernels = cpu::KernelTable::global();
    timings.enqueue_ms = milliseconds_since(enqueue_start);
    const Clock::time_point compute_start = Clock::now();
    for (size_t step = 0; step < order_.size(); ++step) {
      Node* node = order_[step];
      if (p.shapes.is_host_node(node)) continue;
      // Read only when profiling: the clock is not free on every node of every query.
      const Clock::time_point node_start = profile_layers_ ? Clock::now() : Clock::time_point{};
      std::vector<const Tensor*> values;
      std::vector<TensorInfo> input_infos;
      for (Value* in : node->inputs) {
        const Tensor* t = nullptr;
        if (in) {
          if (in->constant) t = &*in->constant;
          else if (auto hv = p.shapes.host_values.find(in); hv != p.shapes.host_values.end()) t = &hv->second;
          else if (auto lv = live.find(in); lv != live.end()) t = &lv->second;
          else return internal_error(node->describe() + ": input '" + in->name + "' was not computed");
        }
        values.push_back(t);
        input_infos.push_back(t ? TensorInfo{t->dtype(), t->dims(), true} : TensorInfo{});
      }
      std::vector<TensorInfo> infos;
      bool planned = true;
      for (Value* out : node->outputs) {
        if (!out) { infos.push_back(TensorInfo{}); continue; }
        auto it = p.shapes.infos.find(out);
        if (it == p.shapes.infos.end() || !it->second.fully_known()) { planned = false; break; }
        infos.push_back(it->second);
      }
      std::vector<Tensor> outputs(node->outputs.size());
      if (planned) {
        for (size_t i = 0; i < outputs.size(); ++i) {
          Value* out = node->outputs[i];
          if (!out || infos[i].dtype == DataType::kUndefined) continue;
          auto off = p.memory.offsets.find(out);
          if (off != p.memory.offsets.end()) {
            outputs[i] = Tensor::view(infos[i].dtype, infos[i].dims, arena + off->second, p.arena);
          } else {
            outputs[i] = Tensor::empty(infos[i].dtype, infos[i].dims);
          }
        }
        const cpu::CpuKernel* kernel = kernels.find(node->op_type, node->domain);
        if (!kernel) return unimplemented(node->describe() + ": no CPU kernel");
        cpu::KernelArgs args{*node, values, outputs, infos};
        Status status = kernel->run(args);
        if (!status.ok()) {
          if (status.message().rfind("node '", 0) == 0) return status;
          return status.with_context(node->describe());
        }
      } else {
        // Data-dependent output shapes: infer with the actual values.
        InferContext context{*node, input_infos, values};
        KILN_ASSIGN_OR_RETURN(outputs, cpu::run_node(*node, context));
      }
      for (size_t i = 0; i < outputs.size(); ++i) {
        Value* out = node->outputs[i];
        if (!out) continue;
        if (!outputs[i].defined()) {
          return internal_error(node->describe() + ": kernel left output " + std::to_string(i) + " unset");
        }
        // A kernel may return a view of another value (reshape-like ops). When
        // that view points into the arena, the slot it points at is reused once
        // its own value dies, so the data moves to this value's own slot, or to
        // the heap for values the arena does not hold (graph outputs).
        auto off = p.memory.offsets.find(out);
        const bool own_slot = off != p.memory.offsets.end() && outputs[i].raw_data() == arena + off->second;
        if (!own_slot && in_arena(outputs[i].raw_data())) {
          if (off != p.memory.offsets.end()) {
            Tensor own = Tensor::view(outputs[i].dtype(), outputs[i].dims(), arena + off->second, p.arena);
            std::copy_n(static_cast<const char*>(outputs[i].raw_data()), outputs[i].byte_size(),
                        static_cast<char*>(own.raw_data()));
            outputs[i] = own;
          } else {
            outputs[i] = outputs[i].clone();
          }
        }
        live[out] = std::move(outputs[i]);
      }
      for (Value* in : node->inputs) {
        if (in && !in->constant) {
          auto lu = last_use_.find(in);
          if (lu != last_use_.end() && lu->second == step) live.erase(in);
        }
      }
      if (profile_layers_) profile_.add(*node, milliseconds_since(node_start));
    }
    timings.compute_ms = milliseconds_since(compute_start);
    std::vector<Tensor> results;
    for (Value* out : graph_.outputs()) {
      if (out->constant) { results.push_back(*out->constant); continue; }
      if (auto hv = p.shapes.host_values.find(out); hv != p.shapes.host_values.end()) {
        results.push_back(hv->second.clone());
        continue;
      }
      auto it = live.find(out);
      if (it == live.end()) return internal_error("graph output '" + out->name + "' was not computed");
      // Outputs leave the context: never hand out arena memory.
      if (in_arena(it->second.raw_data())) {
        const Clock::time_point copy_start = Clock::now();
        results.push_back(it->second.clone());
        timings.d2h_ms += milliseconds_since(copy_start);
      } else {
        results.push_back(it->second);
      }
    }
    return results;
  }

  Status prepare(const InputShapes& shapes) {
    auto p = std::make_unique<PreparedShapes>();
    KILN_ASSIGN_OR_RETURN(p->shapes, plan_shapes(graph_, order_, shapes));
    auto bytes = p->shapes.value_bytes();
    for (Value* v : graph_.inputs()) bytes.erase(v);
    for (Value* v : graph_.outputs()) bytes.erase(v);
    KILN_ASSIGN_OR_RETURN(p->memory, plan_graph_memory(graph_, bytes));
    p->arena_bytes = p->memory.plan.arena_bytes;
    if (p->arena_bytes) {
      void* raw = std::aligned_alloc(kArenaAlignment, p->arena_bytes);
      if (!raw) return resource_exhausted("cannot allocate a " + std::to_string(p->arena_bytes) + "-byte activation arena");
      p->arena = std::shared_ptr<void>(raw, [](void* q) { std::free(q); });
    }
    prepared_ = std::move(p);
    return ok_status();
  }

  const Graph& graph_;
  std::vector<Node*> order_;
  std::unordered_map<const Value*, size_t> last_use_;
  std::unique_ptr<PreparedShapes> prepared_;
  QueryTimings timings_;
  bool profile_layers_ = false;
  LayerProfile profile_;
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

  // The CPU backend has no graphs or TF32; options do not change its execution.
  Expected<std::unique_ptr<BackendExecutor>> create_executor(const Graph& graph,
                                                             const ExecutionOptions& options) const override {
    KILN_ASSIGN_OR_RETURN(auto order, graph.topological_order());
    auto executor = std::make_unique<CpuExecutor>(graph, std::move(order));
    executor->set_profile_layers(options.profile_layers);
    return std::unique_ptr<BackendExecutor>(std::move(executor));
  }
};

}  // namespace

const Backend* cpu_backend() {
  static const CpuBackend backend;
  return &backend;
}

}  // namespace kiln
