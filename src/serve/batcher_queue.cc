#include "serve/batcher_queue.h"

#include <algorithm>
#include <limits>

namespace kiln {

BatcherClock::time_point add_saturating(BatcherClock::time_point point, std::chrono::nanoseconds span) {
  const auto room = BatcherClock::time_point::max() - point;
  if (span >= std::chrono::duration_cast<std::chrono::nanoseconds>(room)) return BatcherClock::time_point::max();
  return point + std::chrono::duration_cast<BatcherClock::duration>(span);
}

std::chrono::nanoseconds microseconds_saturating(int64_t microseconds) {
  constexpr int64_t kLimit = std::numeric_limits<int64_t>::max() / 1000;
  return std::chrono::nanoseconds(microseconds >= kLimit ? std::numeric_limits<int64_t>::max() : microseconds * 1000);
}

RequestQueue::RequestQueue(int priority_levels) : levels_(static_cast<size_t>(std::max(priority_levels, 1))) {}

void RequestQueue::push(int level, QueuedRequest request) {
  levels_[static_cast<size_t>(level - 1)].push_back(std::move(request));
  ++size_;
}

std::vector<QueuedRequest> RequestQueue::take_expired(BatcherClock::time_point now) {
  std::vector<QueuedRequest> expired;
  for (auto& level : levels_) {
    for (auto it = level.begin(); it != level.end();) {
      if (it->deadline <= now) {
        expired.push_back(std::move(*it));
        it = level.erase(it);
        --size_;
      } else {
        ++it;
      }
    }
  }
  return expired;
}

BatchDecision RequestQueue::next_batch(const BatchPolicy& policy, BatcherClock::time_point now, bool draining) {
  BatchDecision decision;
  auto head_level = std::find_if(levels_.begin(), levels_.end(), [](const auto& l) { return !l.empty(); });
  if (head_level == levels_.end()) return decision;
  const std::vector<Dims> key = head_level->front().trailing_dims;

  struct Candidate {
    size_t level;
    size_t index;
    int64_t total;  // items up to and including this one
  };
  std::vector<Candidate> candidates;
  int64_t total = 0;
  size_t preferred_count = 0;  // candidates in the longest run ending on a preferred size
  bool cannot_grow = false;
  auto oldest = BatcherClock::time_point::max();
  auto earliest_deadline = BatcherClock::time_point::max();
  for (size_t l = static_cast<size_t>(head_level - levels_.begin()); l < levels_.size(); ++l) {
    for (size_t i = 0; i < levels_[l].size(); ++i) {
      const QueuedRequest& r = levels_[l][i];
      earliest_deadline = std::min(earliest_deadline, r.deadline);
      if (cannot_grow || r.trailing_dims != key) continue;
      if (total + r.batch > policy.max_batch_size) {
        cannot_grow = true;
        continue;
      }
      total += r.batch;
      candidates.push_back({l, i, total});
      oldest = std::min(oldest, r.submitted);
      if (std::binary_search(policy.preferred_batch_sizes.begin(), policy.preferred_batch_sizes.end(), total)) {
        preferred_count = candidates.size();
      }
    }
  }

  size_t count = 0;
  if (total == policy.max_batch_size) {
    count = candidates.size();
  } else if (preferred_count > 0) {
    count = preferred_count;
  } else if (cannot_grow || draining || now >= add_saturating(oldest, policy.max_queue_delay)) {
    count = candidates.size();
  } else {
    decision.wake = std::min(add_saturating(oldest, policy.max_queue_delay), earliest_deadline);
    return decision;
  }
  // Every request fits a profile on its own (submit checks), so this stops at one at worst.
  if (policy.fits) {
    while (count > 1 && !policy.fits(key, candidates[count - 1].total)) --count;
  }

  decision.batch.reserve(count);
  for (size_t c = 0; c < count; ++c) {
    decision.batch.push_back(std::move(levels_[candidates[c].level][candidates[c].index]));
  }
  // Candidates are in (level, index) order, so erasing backwards keeps the
  // indices still to erase valid.
  for (size_t c = count; c-- > 0;) {
    auto& level = levels_[candidates[c].level];
    level.erase(level.begin() + static_cast<std::ptrdiff_t>(candidates[c].index));
  }
  size_ -= count;
  return decision;
}

}  // namespace kiln
