// Threads: one worker per instance. A worker that is free takes the queue's
// mutex, asks RequestQueue::next_batch for a batch and either runs it (outside
// the mutex) or sleeps until the batch's delay runs out or a request arrives.
// Batches are therefore formed only when an instance is free, so they grow
// while every instance is busy. Callbacks never run under a batcher mutex, so
// a callback may submit again.
#include "kiln/batcher.h"

#include <algorithm>
#include <condition_variable>
#include <limits>
#include <mutex>
#include <numeric>
#include <optional>
#include <thread>

#include "serve/batcher_queue.h"
#include "serve/batcher_tensors.h"

namespace kiln {
namespace {

constexpr int kMaxInstances = 64;
constexpr int kMaxPriorityLevels = 1 << 16;

uint64_t nanoseconds_between(BatcherClock::time_point from, BatcherClock::time_point to) {
  return static_cast<uint64_t>(
      std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::nanoseconds>(to - from).count()));
}

// The largest batch the engine accepts: the smallest static axis-0 extent of
// its declared inputs and the largest axis-0 max of its profiles; -1 when
// nothing bounds it.
int64_t engine_batch_limit(const Engine& engine) {
  int64_t limit = std::numeric_limits<int64_t>::max();
  for (const IoDesc& input : engine.inputs()) {
    if (input.shape.is_ranked() && input.shape.rank() > 0 && input.shape[0].is_known()) {
      limit = std::min(limit, input.shape[0].value);
    }
  }
  int64_t profile_max = 0;
  for (const OptimizationProfile& profile : engine.profiles()) {
    for (const auto& [name, range] : profile.inputs) {
      if (!range.max.empty()) profile_max = std::max(profile_max, range.max[0]);
    }
  }
  if (profile_max > 0) limit = std::min(limit, profile_max);
  return limit == std::numeric_limits<int64_t>::max() ? -1 : limit;
}

// Batch sizes the engine runs without waste: profiles whose batch axis is
// static (min = max), which pad smaller batches up to it. A size of 1 is left
// out: as a preferred size it would send every lone request at once.
std::vector<int64_t> static_batch_sizes(const Engine& engine, int64_t max_batch_size) {
  std::vector<int64_t> sizes;
  for (const OptimizationProfile& profile : engine.profiles()) {
    for (const auto& [name, range] : profile.inputs) {
      if (range.min.empty() || range.max.empty()) continue;
      if (range.min[0] == range.max[0] && range.max[0] > 1 && range.max[0] <= max_batch_size) {
        sizes.push_back(range.max[0]);
      }
      break;  // inputs of one profile share the batch range
    }
  }
  return sizes;
}

Expected<BatcherOptions> resolve_options(const Engine& engine, BatcherOptions options) {
  if (engine.inputs().empty()) return invalid_argument("batcher: the engine has no inputs to batch");
  for (const IoDesc& input : engine.inputs()) {
    if (input.shape.is_ranked() && input.shape.rank() == 0) {
      return invalid_argument("batcher: input '" + input.name +
                              "' is a scalar; every input needs a batch axis (axis 0) to be batched");
    }
  }
  const int64_t limit = engine_batch_limit(engine);
  if (options.max_batch_size < 0) {
    return invalid_argument("batcher: max_batch_size must be >= 0, got " + std::to_string(options.max_batch_size));
  }
  if (options.max_batch_size == 0) {
    if (limit < 0) {
      return invalid_argument(
          "batcher: max_batch_size is 0 (take it from the engine) but the engine's batch axis is unbounded "
          "(no profiles); set max_batch_size");
    }
    options.max_batch_size = limit;
  } else if (limit >= 0 && options.max_batch_size > limit) {
    return invalid_argument("batcher: max_batch_size " + std::to_string(options.max_batch_size) +
                            " exceeds the largest batch the engine accepts (" + std::to_string(limit) + ")");
  }
  if (options.preferred_batch_sizes.empty()) {
    options.preferred_batch_sizes = static_batch_sizes(engine, options.max_batch_size);
    if (options.preferred_batch_sizes.empty()) options.preferred_batch_sizes = {options.max_batch_size};
  }
  for (int64_t size : options.preferred_batch_sizes) {
    if (size < 1 || size > options.max_batch_size) {
      return invalid_argument("batcher: preferred batch size " + std::to_string(size) + " is outside 1.." +
                              std::to_string(options.max_batch_size) + " (max_batch_size)");
    }
  }
  auto& preferred = options.preferred_batch_sizes;
  std::sort(preferred.begin(), preferred.end());
  preferred.erase(std::unique(preferred.begin(), preferred.end()), preferred.end());

  if (options.priority_levels < 1 || options.priority_levels > kMaxPriorityLevels) {
    return invalid_argument("batcher: priority_levels must be between 1 and " + std::to_string(kMaxPriorityLevels) +
                            ", got " + std::to_string(options.priority_levels));
  }
  if (options.default_priority < 1 || options.default_priority > options.priority_levels) {
    return invalid_argument("batcher: default_priority must be between 1 and priority_levels (" +
                            std::to_string(options.priority_levels) + "), got " +
                            std::to_string(options.default_priority));
  }
  if (options.instances < 1 || options.instances > kMaxInstances) {
    return invalid_argument("batcher: instances must be between 1 and " + std::to_string(kMaxInstances) + ", got " +
                            std::to_string(options.instances));
  }
  if (options.max_queue_delay_us < 0) {
    return invalid_argument("batcher: max_queue_delay_us must be >= 0, got " +
                            std::to_string(options.max_queue_delay_us));
  }
  if (options.default_timeout_us < 0) {
    return invalid_argument("batcher: default_timeout_us must be >= 0, got " +
                            std::to_string(options.default_timeout_us));
  }
  if (options.max_queue_size < 1) return invalid_argument("batcher: max_queue_size must be at least 1, got 0");
  if (!options.join_ahead) options.join_ahead = engine.backend_kind() == BackendKind::kCuda;
  return options;
}

struct Completion {
  uint64_t sequence = 0;
  OutputsCallback done;
  Expected<Outputs> result;
};

}  // namespace

struct DynamicBatcher::State {
  std::shared_ptr<const Engine> engine;
  BatcherOptions options;  // resolved
  BatchPolicy policy;
  std::vector<std::unique_ptr<Context>> contexts;
  std::vector<std::thread> workers;

  // Guards queue, stopping and next_sequence.
  mutable std::mutex mutex;
  std::condition_variable changed;  // a request arrived, or the batcher is stopping
  RequestQueue queue;
  bool stopping = false;
  uint64_t next_sequence = 0;

  mutable std::mutex stats_mutex;  // never held together with `mutex`
  BatcherStats stats;

  // preserve_ordering: finished requests wait here until every earlier one is
  // delivered. One thread at a time delivers (`delivering`), outside the lock.
  std::mutex order_mutex;
  std::map<uint64_t, Completion> finished;
  uint64_t next_delivery = 0;
  bool delivering = false;

  explicit State(int priority_levels) : queue(priority_levels) {}

  // A batch whose requests are joined and ready to run.
  struct PreparedBatch {
    std::vector<QueuedRequest> requests;
    std::vector<int64_t> sizes;
    Expected<TensorMap> joined = TensorMap{};
    uint64_t queue_ns = 0;
  };

  // join_ahead: the hand-off between an instance's joining thread and its
  // running thread; it holds at most one prepared batch. An idle running side
  // whose own slot is empty takes another instance's prepared batch, so no
  // batch waits for a busy instance while another is free.
  struct Handoff {
    std::optional<PreparedBatch> ready;  // guarded by handoff_mutex
    bool finished = false;               // guarded by handoff_mutex: the joining side found the queue drained
  };
  std::vector<std::unique_ptr<Handoff>> handoffs;
  std::mutex handoff_mutex;
  std::condition_variable handoff_changed;

  // With handoff_mutex held: the slot a running side takes its next batch
  // from (its own, else any other instance's); null when none is prepared.
  Handoff* prepared_slot(Handoff& own) const {
    if (own.ready) return &own;
    for (const auto& h : handoffs) {
      if (h->ready) return h.get();
    }
    return nullptr;
  }

  // Which instance is free is known by construction: the worker that asks.
  void work(Context* context) {
    for (std::vector<QueuedRequest> batch = next_batch(); !batch.empty(); batch = next_batch()) {
      run(*context, prepare(std::move(batch)));
    }
  }

  // join_ahead, joining side: takes a batch only once the previous one has been
  // taken over by the running side, so a request is never held back from an
  // instance that could run it sooner than this one.
  void join_for(Handoff& handoff) {
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(handoff_mutex);
        handoff_changed.wait(lock, [&] { return !handoff.ready.has_value(); });
      }
      std::vector<QueuedRequest> batch = next_batch();
      const bool drained = batch.empty();
      std::optional<PreparedBatch> prepared;
      if (!drained) prepared.emplace(prepare(std::move(batch)));
      {
        std::lock_guard<std::mutex> lock(handoff_mutex);
        if (drained) {
          handoff.finished = true;
        } else {
          handoff.ready = std::move(prepared);
        }
      }
      handoff_changed.notify_all();
      if (drained) return;
    }
  }

  // join_ahead, running side: runs its own prepared batches and, when idle,
  // any other instance's; leaves once its joining side is done and no
  // prepared batch is left anywhere.
  void run_for(Context* context, Handoff& handoff) {
    for (;;) {
      std::optional<PreparedBatch> prepared;
      {
        std::unique_lock<std::mutex> lock(handoff_mutex);
        handoff_changed.wait(lock, [&] { return prepared_slot(handoff) || handoff.finished; });
        if (Handoff* from = prepared_slot(handoff)) {
          prepared = std::move(from->ready);
          from->ready.reset();
        }
      }
      if (!prepared) return;
      handoff_changed.notify_all();  // a slot emptied: its joining side may take the next batch
      run(*context, std::move(*prepared));
    }
  }

  // The next batch the policy releases, waiting as long as it takes; empty once
  // the batcher is stopping and its queue is drained. Expired requests found
  // on the way are failed here.
  std::vector<QueuedRequest> next_batch() {
    std::unique_lock<std::mutex> lock(mutex);
    for (;;) {
      const auto now = BatcherClock::now();
      std::vector<QueuedRequest> expired = queue.take_expired(now);
      if (!expired.empty()) {
        lock.unlock();
        fail_expired(std::move(expired));
        lock.lock();
        continue;
      }
      if (queue.empty()) {
        if (stopping) return {};
        changed.wait(lock);
        continue;
      }
      BatchDecision decision = queue.next_batch(policy, now, stopping);
      if (decision.batch.empty()) {
        if (decision.wake == BatcherClock::time_point::max()) {
          changed.wait(lock);
        } else {
          changed.wait_until(lock, decision.wake);
        }
        continue;
      }
      const bool more = !queue.empty();
      lock.unlock();
      if (more) changed.notify_one();  // another free instance may take the rest
      return std::move(decision.batch);
    }
  }

  void fail_expired(std::vector<QueuedRequest> expired) {
    const auto now = BatcherClock::now();
    std::vector<Completion> completions;
    for (QueuedRequest& r : expired) {
      const int64_t waited_us = static_cast<int64_t>(nanoseconds_between(r.submitted, now) / 1000);
      const int64_t timeout_us = static_cast<int64_t>(nanoseconds_between(r.submitted, r.deadline) / 1000);
      completions.push_back(
          {r.sequence, std::move(r.done),
           deadline_exceeded("request timed out in the batcher queue after " + std::to_string(waited_us) +
                             " us (timeout " + std::to_string(timeout_us) + " us)")});
    }
    {
      std::lock_guard<std::mutex> lock(stats_mutex);
      stats.requests_timed_out += expired.size();
      stats.requests_failed += expired.size();
    }
    deliver(std::move(completions));
  }

  // Joins the requests' inputs along axis 0 (page-locked for CUDA engines).
  PreparedBatch prepare(std::vector<QueuedRequest> batch) {
    PreparedBatch prepared;
    const auto started = BatcherClock::now();
    std::vector<const TensorMap*> inputs;
    for (const QueuedRequest& r : batch) {
      inputs.push_back(&r.inputs);
      prepared.sizes.push_back(r.batch);
      prepared.queue_ns += nanoseconds_between(r.submitted, started);
    }
    prepared.joined = join_requests(inputs, engine->inputs(), engine->backend_kind() == BackendKind::kCuda);
    prepared.requests = std::move(batch);
    return prepared;
  }

  // Runs a prepared batch and answers each of its requests.
  void run(Context& context, PreparedBatch prepared) {
    std::vector<QueuedRequest>& batch = prepared.requests;
    const std::vector<int64_t>& sizes = prepared.sizes;
    const uint64_t queue_ns = prepared.queue_ns;
    const int64_t total = std::accumulate(sizes.begin(), sizes.end(), int64_t{0});

    uint64_t compute_ns = 0;
    Expected<Outputs> outputs = [&]() -> Expected<Outputs> {
      KILN_RETURN_IF_ERROR(prepared.joined.status());
      const auto compute_start = BatcherClock::now();
      Expected<Outputs> result = context.execute(*prepared.joined);
      compute_ns = nanoseconds_between(compute_start, BatcherClock::now());
      return result;
    }();
    prepared.joined = TensorMap{};  // the joined batch is not needed past this point

    std::vector<Completion> completions;
    completions.reserve(batch.size());
    if (outputs.ok()) {
      std::vector<Outputs> parts = split_outputs(*outputs, sizes);
      for (size_t i = 0; i < batch.size(); ++i) {
        completions.push_back({batch[i].sequence, std::move(batch[i].done), std::move(parts[i])});
      }
    } else {
      // A request that ran alone sees the engine's error as is; one that ran
      // with others learns why its own valid inputs failed.
      const Status error = batch.size() == 1
                               ? outputs.status()
                               : outputs.status().with_context("batch of " + std::to_string(total) + " items from " +
                                                               std::to_string(batch.size()) + " requests");
      for (QueuedRequest& r : batch) completions.push_back({r.sequence, std::move(r.done), error});
    }
    const auto answered = BatcherClock::now();
    {
      std::lock_guard<std::mutex> lock(stats_mutex);
      stats.queue_ns += queue_ns;
      if (outputs.ok()) {
        stats.requests_ok += batch.size();
        stats.inference_count += static_cast<uint64_t>(total);
        stats.execution_count += 1;
        stats.compute_ns += compute_ns;
        stats.batch_size_histogram[total] += 1;
        stats.batch_compute_ns[total] += compute_ns;
        for (const QueuedRequest& r : batch) stats.request_ns += nanoseconds_between(r.submitted, answered);
      } else {
        stats.requests_failed += batch.size();
      }
    }
    batch.clear();  // the requests' input tensors are not needed past this point
    deliver(std::move(completions));
  }

  void deliver(std::vector<Completion> completions) {
    if (!options.preserve_ordering) {
      for (Completion& c : completions) c.done(std::move(c.result));
      return;
    }
    std::unique_lock<std::mutex> lock(order_mutex);
    for (Completion& c : completions) {
      const uint64_t sequence = c.sequence;
      finished.emplace(sequence, std::move(c));
    }
    if (delivering) return;  // that thread delivers these too once their turn comes
    delivering = true;
    while (!finished.empty() && finished.begin()->first == next_delivery) {
      Completion next = std::move(finished.begin()->second);
      finished.erase(finished.begin());
      ++next_delivery;
      lock.unlock();
      next.done(std::move(next.result));
      lock.lock();
    }
    delivering = false;
  }

  // Checks a request against the engine and the batcher's limits and returns
  // what batching needs to know about it. Errors name the input and shapes.
  Expected<QueuedRequest> describe(TensorMap inputs) const {
    KILN_RETURN_IF_ERROR(engine->validate_inputs(inputs));
    QueuedRequest request;
    const std::string* batch_input = nullptr;
    for (const IoDesc& desc : engine->inputs()) {
      const Tensor& t = inputs.at(desc.name);
      if (t.rank() == 0) {
        return invalid_argument("input '" + desc.name + "' is a scalar; the batcher needs a batch axis (axis 0)");
      }
      if (!batch_input) {
        request.batch = t.dim(0);
        batch_input = &desc.name;
      } else if (t.dim(0) != request.batch) {
        return invalid_argument("input '" + desc.name + "' has batch " + std::to_string(t.dim(0)) + " (shape " +
                                dims_to_string(t.dims()) + ") but input '" + *batch_input + "' has batch " +
                                std::to_string(request.batch) + " (shape " +
                                dims_to_string(inputs.at(*batch_input).dims()) + ")");
      }
      request.trailing_dims.emplace_back(t.dims().begin() + 1, t.dims().end());
    }
    const std::string shape =
        " (input '" + *batch_input + "' shape " + dims_to_string(inputs.at(*batch_input).dims()) + ")";
    if (request.batch < 1) {
      return invalid_argument("request batch " + std::to_string(request.batch) + shape +
                              " is empty; a request needs at least one item on axis 0");
    }
    if (request.batch > options.max_batch_size) {
      return invalid_argument("request batch " + std::to_string(request.batch) + shape + " exceeds max_batch_size " +
                              std::to_string(options.max_batch_size));
    }
    if (!engine->profiles().empty()) {
      // choose_profile reads only the immutable engine, so asking the first
      // instance's context is safe while its worker runs it.
      KILN_RETURN_IF_ERROR(contexts.front()->choose_profile(input_shapes_of(inputs)).status());
    }
    request.inputs = std::move(inputs);
    return request;
  }

  bool fits(const std::vector<Dims>& trailing_dims, int64_t batch) const {
    InputShapes shapes;
    const auto& inputs = engine->inputs();
    for (size_t i = 0; i < inputs.size() && i < trailing_dims.size(); ++i) {
      Dims dims{batch};
      dims.insert(dims.end(), trailing_dims[i].begin(), trailing_dims[i].end());
      shapes[inputs[i].name] = std::move(dims);
    }
    return contexts.front()->choose_profile(shapes).ok();
  }
};

DynamicBatcher::DynamicBatcher(std::unique_ptr<State> state) : state_(std::move(state)) {}

Expected<std::unique_ptr<DynamicBatcher>> DynamicBatcher::create(std::shared_ptr<const Engine> engine,
                                                                 const BatcherOptions& options) {
  if (!engine) return invalid_argument("batcher: no engine given");
  KILN_ASSIGN_OR_RETURN(BatcherOptions resolved, resolve_options(*engine, options));
  auto state = std::make_unique<State>(resolved.priority_levels);
  state->engine = std::move(engine);
  state->options = resolved;
  state->policy.max_batch_size = resolved.max_batch_size;
  state->policy.preferred_batch_sizes = resolved.preferred_batch_sizes;
  state->policy.max_queue_delay = microseconds_saturating(resolved.max_queue_delay_us);
  for (int i = 0; i < resolved.instances; ++i) {
    auto context = state->engine->create_context(resolved.execution);
    if (!context.ok()) {
      return context.status().with_context("batcher instance " + std::to_string(i) + " of " +
                                           std::to_string(resolved.instances));
    }
    state->contexts.push_back(std::move(context).value());
  }
  State* raw = state.get();
  if (!state->engine->profiles().empty()) {
    state->policy.fits = [raw](const std::vector<Dims>& trailing, int64_t batch) { return raw->fits(trailing, batch); };
  }
  // Every hand-off exists before any thread starts: running sides look at all of them.
  if (*resolved.join_ahead) {
    for (size_t i = 0; i < state->contexts.size(); ++i) state->handoffs.push_back(std::make_unique<State::Handoff>());
  }
  for (size_t i = 0; i < state->contexts.size(); ++i) {
    Context* c = state->contexts[i].get();
    if (*resolved.join_ahead) {
      State::Handoff* handoff = state->handoffs[i].get();
      state->workers.emplace_back([raw, handoff] { raw->join_for(*handoff); });
      state->workers.emplace_back([raw, c, handoff] { raw->run_for(c, *handoff); });
    } else {
      state->workers.emplace_back([raw, c] { raw->work(c); });
    }
  }
  return std::unique_ptr<DynamicBatcher>(new DynamicBatcher(std::move(state)));
}

DynamicBatcher::~DynamicBatcher() {
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->stopping = true;
  }
  state_->changed.notify_all();
  for (std::thread& worker : state_->workers) worker.join();
}

Status DynamicBatcher::submit(TensorMap inputs, OutputsCallback done, const BatchRequestOptions& request_options) {
  State& s = *state_;
  auto failed = [&s](Status status, bool rejected = false) {
    std::lock_guard<std::mutex> lock(s.stats_mutex);
    s.stats.requests_failed += 1;
    if (rejected) s.stats.requests_rejected += 1;
    return status;
  };
  if (!done) return failed(invalid_argument("batcher: submit needs a completion callback"));
  const int priority = request_options.priority == 0 ? s.options.default_priority : request_options.priority;
  if (priority < 1 || priority > s.options.priority_levels) {
    return failed(invalid_argument("request priority " + std::to_string(request_options.priority) + " is outside 1.." +
                                   std::to_string(s.options.priority_levels) +
                                   " (priority_levels; 0 takes the default)"));
  }
  if (request_options.timeout_us < 0) {
    return failed(
        invalid_argument("request timeout_us must be >= 0, got " + std::to_string(request_options.timeout_us)));
  }
  Expected<QueuedRequest> described = s.describe(std::move(inputs));
  if (!described.ok()) return failed(described.status());
  QueuedRequest request = std::move(described).value();
  request.done = std::move(done);
  request.submitted = BatcherClock::now();
  const int64_t timeout_us = request_options.timeout_us ? request_options.timeout_us : s.options.default_timeout_us;
  if (timeout_us > 0) request.deadline = add_saturating(request.submitted, microseconds_saturating(timeout_us));
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    if (s.stopping) return failed(unavailable("batcher is shutting down"));
    if (s.queue.size() >= s.options.max_queue_size) {
      return failed(resource_exhausted("batcher queue is full (max_queue_size " +
                                       std::to_string(s.options.max_queue_size) + " requests)"),
                    /*rejected=*/true);
    }
    request.sequence = s.next_sequence++;
    s.queue.push(priority, std::move(request));
  }
  s.changed.notify_one();
  return ok_status();
}

std::future<Expected<Outputs>> DynamicBatcher::submit(TensorMap inputs, const BatchRequestOptions& options) {
  auto promise = std::make_shared<std::promise<Expected<Outputs>>>();
  auto future = promise->get_future();
  Status status = submit(
      std::move(inputs), [promise](Expected<Outputs> result) { promise->set_value(std::move(result)); }, options);
  if (!status.ok()) promise->set_value(status);
  return future;
}

BatcherStats DynamicBatcher::stats() const {
  size_t pending = 0;
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    pending = state_->queue.size();
  }
  std::lock_guard<std::mutex> lock(state_->stats_mutex);
  BatcherStats copy = state_->stats;
  copy.pending = pending;
  return copy;
}

const BatcherOptions& DynamicBatcher::options() const { return state_->options; }
const Engine& DynamicBatcher::engine() const { return *state_->engine; }

}  // namespace kiln
