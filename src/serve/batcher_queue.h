// The dynamic batcher's queue and its batch-forming rule, apart from threads
// and engines so the rule reads in one place. Not thread-safe: the batcher
// calls it under its own mutex.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <vector>

#include "kiln/session.h"

namespace kiln {

using BatcherClock = std::chrono::steady_clock;

// `point + span`, clamped to time_point::max() instead of overflowing (a delay
// or timeout of hours must not wrap around into the past).
BatcherClock::time_point add_saturating(BatcherClock::time_point point, std::chrono::nanoseconds span);
// Microseconds as nanoseconds, clamped likewise.
std::chrono::nanoseconds microseconds_saturating(int64_t microseconds);

struct QueuedRequest {
  TensorMap inputs;
  OutputsCallback done;
  int64_t batch = 0;                // extent on axis 0
  std::vector<Dims> trailing_dims;  // per engine input, axes 1..: only equal ones share a batch
  BatcherClock::time_point submitted;
  BatcherClock::time_point deadline = BatcherClock::time_point::max();  // fails if still queued then
  uint64_t sequence = 0;                                                // submission order, for preserve_ordering
};

struct BatchPolicy {
  int64_t max_batch_size = 1;
  std::vector<int64_t> preferred_batch_sizes;  // ascending
  std::chrono::nanoseconds max_queue_delay{0};
  // Whether `batch` items with these trailing dims fit one of the engine's
  // profiles; null when any batch up to max_batch_size does. A profile may
  // bound the batch lower for some trailing dims (a long sequence profile
  // with a small batch), so the rule shrinks a batch until it fits.
  std::function<bool(const std::vector<Dims>& trailing_dims, int64_t batch)> fits;
};

struct BatchDecision {
  std::vector<QueuedRequest> batch;  // in batch order; empty: nothing to run yet
  // When `batch` is empty and requests are queued: when to look again (the
  // oldest candidate's delay runs out, or a queued request's deadline).
  BatcherClock::time_point wake = BatcherClock::time_point::max();
};

class RequestQueue {
 public:
  explicit RequestQueue(int priority_levels);

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // `level` is 1-based; 1 is served first.
  void push(int level, QueuedRequest request);
  // Removes and returns every request whose deadline is at or before `now`.
  std::vector<QueuedRequest> take_expired(BatcherClock::time_point now);

  // The rule, for an instance that is free now. The head is the oldest
  // request of the most urgent non-empty level; candidates are the requests
  // with the head's trailing dims, most urgent level first and oldest first
  // within a level, taken while the total stays within max_batch_size (the
  // first candidate that does not fit ends the walk, so nothing overtakes it).
  // The batch goes now when the candidates fill max_batch_size, or reach a
  // preferred size (then the longest run of candidates ending on a preferred
  // size goes, the rest wait), or cannot grow (the next candidate does not
  // fit), or `draining`, or the oldest candidate has waited max_queue_delay
  // (then all candidates go). Otherwise nothing is taken and `wake` says when
  // the delay runs out.
  BatchDecision next_batch(const BatchPolicy& policy, BatcherClock::time_point now, bool draining);

 private:
  std::vector<std::deque<QueuedRequest>> levels_;
  size_t size_ = 0;
};

}  // namespace kiln
