// Dynamic batcher: requests arrive one by one from many threads; the batcher
// joins them along the batch axis (axis 0 of every input) into the batch sizes
// the engine was built for and runs each batch on one of N instances (contexts
// on their own streams; worker threads on the CPU backend), then hands every
// request its own slice of the outputs.
//
// Batch formation (the Triton model), done whenever an instance is free: a
// batch is sent as soon as it reaches the largest preferred size that the
// queue can fill, or max_batch_size, or cannot grow any more, or when the
// oldest request in it has waited max_queue_delay_us. Requests whose non-batch
// dims differ from the head of the queue wait for a later batch. Higher
// priority (smaller level number) requests are taken first. A batch is also
// kept within what the engine's profiles accept for its non-batch dims.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "kiln/engine.h"
#include "kiln/session.h"
#include "kiln/status.h"

namespace kiln {

struct BatcherOptions {
  // Largest batch sent to an instance. 0: the largest batch the engine's
  // profiles accept on axis 0 (error at create when unbounded and 0).
  int64_t max_batch_size = 0;
  // Batch sizes to aim for; empty: the static batch sizes (min = max on axis
  // 0, which pad smaller batches) above 1 of the engine's profiles, else
  // max_batch_size alone. 1 is never a default: as a preferred size it would
  // send every lone request at once instead of letting others join it.
  std::vector<int64_t> preferred_batch_sizes;
  // How long the oldest queued request may wait for others to join it.
  int64_t max_queue_delay_us = 100;
  // Priority levels 1..priority_levels (1 is the most urgent); requests that
  // give 0 get default_priority.
  int priority_levels = 1;
  int default_priority = 1;
  // Requests queued (all levels) beyond which submit() rejects with
  // kResourceExhausted.
  size_t max_queue_size = 1024;
  // A request still queued after this long fails with kDeadlineExceeded
  // (0: no limit). A request may set its own.
  int64_t default_timeout_us = 0;
  // Deliver responses in submission order (a finished request waits for the
  // ones submitted before it).
  bool preserve_ordering = false;
  // Instances (contexts, each on its own stream or worker thread).
  int instances = 1;
  // Each instance joins its next batch's requests on the host while the GPU
  // runs its current one (a second thread per instance), so the join of large
  // inputs is off the instance's critical path. Unset: on for CUDA engines,
  // off otherwise (on the CPU the join and the kernels share the cores).
  std::optional<bool> join_ahead;
  ExecutionOptions execution;
};

struct BatchRequestOptions {
  int priority = 0;        // 0: the batcher's default
  int64_t timeout_us = 0;  // 0: the batcher's default
};

// Cumulative counters since create(). Durations in nanoseconds, summed over requests
// (queue) or batches (compute).
struct BatcherStats {
  uint64_t requests_ok = 0;
  uint64_t requests_failed = 0;      // errors (submit's included), timeouts and rejections
  uint64_t requests_rejected = 0;    // queue full
  uint64_t requests_timed_out = 0;
  uint64_t inference_count = 0;      // items (sum of request batch sizes) that ran successfully
  uint64_t execution_count = 0;      // batches run successfully (the histograms count these)
  uint64_t queue_ns = 0;             // submit -> batch starts, summed over requests
  uint64_t compute_ns = 0;           // batch run (inputs in host memory -> outputs in host memory), summed over batches
  uint64_t request_ns = 0;           // submit -> response, summed over successful requests
  size_t pending = 0;                // queued now
  std::map<int64_t, uint64_t> batch_size_histogram;  // batch size -> batches of that size
  std::map<int64_t, uint64_t> batch_compute_ns;      // batch size -> summed compute time
};

class DynamicBatcher {
 public:
  // Errors: engine without a batch axis on some input, option out of range
  // (each message names the option and the value).
  static Expected<std::unique_ptr<DynamicBatcher>> create(std::shared_ptr<const Engine> engine,
                                                          const BatcherOptions& options);
  ~DynamicBatcher();  // runs every queued request, then joins its threads
  DynamicBatcher(const DynamicBatcher&) = delete;
  DynamicBatcher& operator=(const DynamicBatcher&) = delete;

  // Thread-safe. `inputs` holds one request (batch extent >= 1 on axis 0 of
  // every input, <= max_batch_size). Validation errors and a full queue are
  // returned here and `done` is not called; otherwise `done` runs exactly once,
  // on a batcher thread and under no batcher lock (it may submit again, but
  // must not destroy the batcher), with this request's outputs (engine output
  // order) or its error. Outputs without a batch axis are shared whole by
  // every request of the batch.
  Status submit(TensorMap inputs, OutputsCallback done, const BatchRequestOptions& options = {});
  std::future<Expected<Outputs>> submit(TensorMap inputs, const BatchRequestOptions& options = {});

  BatcherStats stats() const;
  const BatcherOptions& options() const;  // with defaults resolved (max batch, preferred sizes)
  const Engine& engine() const;

 private:
  struct State;
  explicit DynamicBatcher(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace kiln
