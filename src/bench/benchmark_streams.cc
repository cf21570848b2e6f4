// Benchmark over a Session: `streams` queries in flight at once, each on its
// own context and stream, so that one query's copies overlap another's compute.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

#include "bench/bench_loop_support.h"
#include "kiln/bench.h"
#include "kiln/session.h"

namespace kiln {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_between(Clock::time_point start, Clock::time_point end) {
  return std::chrono::duration<double>(end - start).count();
}

// Tells the core that this thread is in a busy-wait loop (saves power and
// frees pipeline resources for a sibling hyperthread).
inline void relax_cpu() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Keeps `in_flight` queries submitted until enough have completed; records each
// query's latency (submission to outputs in host memory), span and phase
// timings. Completions decide when to stop, on the session's worker threads;
// the thread in run() only waits for the last in-flight query, sleeping on a
// condition variable or, with spin_wait, polling an atomic flag.
class InFlightLoop {
 public:
  InFlightLoop(Session& session, const TensorMap& inputs, int in_flight, bool spin_wait)
      : session_(session), inputs_(inputs), in_flight_(in_flight), spin_wait_(spin_wait) {}

  // Runs until at least `min_queries` completed and `min_seconds` passed, then
  // returns once every submitted query has completed (their callbacks use this object).
  Status run(int64_t min_queries, double min_seconds, bool record) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      start_ = last_end_ = Clock::now();
      min_queries_ = min_queries;
      min_seconds_ = min_seconds;
      record_ = record;
      for (int i = 0; i < in_flight_ && error_.ok(); ++i) {
        Status s = submit_locked();
        if (!s.ok()) error_ = s;
      }
      if (!error_.ok()) stop_ = true;
      finish_if_drained_locked();
    }
    if (spin_wait_) {
      while (!finished_.load(std::memory_order_acquire)) relax_cpu();
    }
    // Also after spinning: the last callback may still hold the lock.
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [&] { return finished_.load(std::memory_order_acquire); });
    return error_;
  }

  Clock::time_point start() const { return start_; }
  Clock::time_point last_end() const { return last_end_; }
  std::vector<double>& latencies_ms() { return latencies_ms_; }
  std::vector<QuerySpan>& spans() { return spans_; }
  std::vector<QueryTimings>& timings() { return timings_; }
  int64_t completed() const { return completed_; }

 private:
  Status submit_locked() {
    ++submitted_;
    Clock::time_point begin = Clock::now();
    Status s = session_.submit(inputs_, [this, begin](Expected<Outputs> outputs, const QueryTimings& timings) {
      complete(begin, outputs.ok() ? ok_status() : outputs.status(), timings);
    });
    if (!s.ok()) --submitted_;
    return s;
  }

  void complete(Clock::time_point begin, const Status& status, const QueryTimings& timings) {
    Clock::time_point end = Clock::now();
    std::lock_guard<std::mutex> guard(mutex_);
    ++completed_;
    last_end_ = end;
    if (!status.ok() && error_.ok()) error_ = status;
    if (record_) {
      latencies_ms_.push_back(seconds_between(begin, end) * 1e3);
      spans_.push_back({seconds_between(start_, begin), seconds_between(start_, end), status.ok()});
      timings_.push_back(timings);
    }
    if (!error_.ok() || (completed_ >= min_queries_ && seconds_between(start_, last_end_) >= min_seconds_)) {
      stop_ = true;
    }
    if (!stop_) {
      Status again = submit_locked();
      if (!again.ok()) {
        error_ = again;
        stop_ = true;
      }
    }
    finish_if_drained_locked();
  }

  void finish_if_drained_locked() {
    if (stop_ && completed_ == submitted_) {
      finished_.store(true, std::memory_order_release);
      cv_.notify_all();
    }
  }

  Session& session_;
  const TensorMap& inputs_;
  const int in_flight_;
  const bool spin_wait_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::atomic<bool> finished_{false};
  Clock::time_point start_, last_end_;
  int64_t min_queries_ = 0;
  double min_seconds_ = 0;
  bool record_ = false;
  int64_t submitted_ = 0, completed_ = 0;
  bool stop_ = false;
  Status error_;
  std::vector<double> latencies_ms_;
  std::vector<QuerySpan> spans_;
  std::vector<QueryTimings> timings_;
};

}  // namespace

Expected<BenchResult> run_benchmark_streams(Session& session, const TensorMap& inputs, const BenchOptions& options) {
  KILN_RETURN_IF_ERROR(check_bench_options(options));
  BenchResult result;
  result.batch = options.batch;
  result.streams = session.streams();
  result.backend = session.engine().backend_kind();
  result.execution = options.execution;
  const bool spin = options.execution.spin_wait;
  if (options.warmup_s > 0) {
    InFlightLoop warmup(session, inputs, session.streams(), spin);
    Status s = warmup.run(session.streams(), options.warmup_s, /*record=*/false);
    if (!s.ok()) return s.with_context("warm-up query");
    result.warmup_iterations = warmup.completed();
    result.warmup_s = seconds_between(warmup.start(), warmup.last_end());
  }
  InFlightLoop timed(session, inputs, session.streams(), spin);
  Status s = timed.run(options.min_iterations, options.min_duration_s, /*record=*/true);
  if (!s.ok()) return s.with_context("timed query");
  result.iterations = timed.completed();
  result.wall_s = seconds_between(timed.start(), timed.last_end());
  result.latencies_ms = std::move(timed.latencies_ms());
  result.spans = std::move(timed.spans());
  result.query_timings = std::move(timed.timings());
  KILN_RETURN_IF_ERROR(summarize_run(result));
  return result;
}

}  // namespace kiln
