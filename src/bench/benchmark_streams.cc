// Benchmark over a Session: `streams` queries in flight at once, each on its
// own context and stream, so that one query's copies overlap another's compute.
#include <chrono>
#include <condition_variable>
#include <mutex>

#include "kiln/bench.h"
#include "kiln/session.h"

namespace kiln {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_between(Clock::time_point start, Clock::time_point end) {
  return std::chrono::duration<double>(end - start).count();
}

// Keeps `in_flight` queries submitted until `done()` says stop; records each
// query's latency (submission to outputs in host memory) and span.
class InFlightLoop {
 public:
  InFlightLoop(Session& session, const TensorMap& inputs, int in_flight)
      : session_(session), inputs_(inputs), in_flight_(in_flight) {}

  // Runs until at least `min_queries` completed and `min_seconds` passed.
  Status run(int64_t min_queries, double min_seconds, bool record) {
    start_ = Clock::now();
    std::unique_lock<std::mutex> lock(mutex_);
    completed_ = 0;
    submitted_ = 0;
    stop_ = false;
    for (int i = 0; i < in_flight_; ++i) KILN_RETURN_IF_ERROR(submit_locked(record));
    // Returns only once every submitted query has completed: their callbacks use this object.
    cv_.wait(lock, [&] {
      bool enough = completed_ >= min_queries && seconds_between(start_, last_end_) >= min_seconds;
      if (enough || !error_.ok()) stop_ = true;
      return stop_ && completed_ == submitted_;
    });
    return error_;
  }

  Clock::time_point start() const { return start_; }
  Clock::time_point last_end() const { return last_end_; }
  std::vector<double>& latencies_ms() { return latencies_ms_; }
  std::vector<QuerySpan>& spans() { return spans_; }
  int64_t completed() const { return completed_; }

 private:
  Status submit_locked(bool record) {
    ++submitted_;
    Clock::time_point begin = Clock::now();
    Status s = session_.submit(inputs_, [this, begin, record](Expected<Outputs> outputs) {
      Clock::time_point end = Clock::now();
      std::lock_guard<std::mutex> guard(mutex_);
      ++completed_;
      last_end_ = end;
      if (!outputs.ok() && error_.ok()) error_ = outputs.status();
      if (record) {
        latencies_ms_.push_back(seconds_between(begin, end) * 1e3);
        spans_.push_back({seconds_between(start_, begin), seconds_between(start_, end), outputs.ok()});
      }
      if (!stop_ && error_.ok()) {
        Status again = submit_locked(record);
        if (!again.ok()) error_ = again;
      }
      cv_.notify_all();
    });
    if (!s.ok()) --submitted_;
    return s;
  }

  Session& session_;
  const TensorMap& inputs_;
  const int in_flight_;
  std::mutex mutex_;
  std::condition_variable cv_;
  Clock::time_point start_, last_end_;
  int64_t submitted_ = 0, completed_ = 0;
  bool stop_ = false;
  Status error_;
  std::vector<double> latencies_ms_;
  std::vector<QuerySpan> spans_;
};

}  // namespace

Expected<BenchResult> run_benchmark_streams(Session& session, const TensorMap& inputs, const BenchOptions& options) {
  if (options.min_iterations < 1 && options.min_duration_s <= 0) {
    return invalid_argument("the benchmark needs at least one iteration or a positive duration");
  }
  BenchResult result;
  result.batch = options.batch;
  result.streams = session.streams();
  if (options.warmup_s > 0) {
    InFlightLoop warmup(session, inputs, session.streams());
    Status s = warmup.run(session.streams(), options.warmup_s, /*record=*/false);
    if (!s.ok()) return s.with_context("warm-up query");
    result.warmup_iterations = warmup.completed();
    result.warmup_s = seconds_between(warmup.start(), warmup.last_end());
  }
  InFlightLoop timed(session, inputs, session.streams());
  Status s = timed.run(options.min_iterations, options.min_duration_s, /*record=*/true);
  if (!s.ok()) return s.with_context("timed query");
  result.iterations = timed.completed();
  result.wall_s = seconds_between(timed.start(), timed.last_end());
  result.latencies_ms = std::move(timed.latencies_ms());
  result.spans = std::move(timed.spans());
  KILN_ASSIGN_OR_RETURN(result.latency, compute_latency_stats(result.latencies_ms));
  if (result.wall_s > 0) {
    result.throughput_qps = static_cast<double>(result.iterations) / result.wall_s;
    result.throughput_items_per_s = result.throughput_qps * static_cast<double>(result.batch);
  }
  return result;
}

}  // namespace kiln
