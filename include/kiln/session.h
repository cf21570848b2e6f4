// Session: a pool of contexts of one engine, each on its own stream (on the
// CPU backend: its own worker thread), taking requests from many threads.
// A request's H2D copy, compute and D2H copy run in order on one stream while
// other requests proceed on the other streams.
#pragma once

#include <functional>
#include <future>
#include <memory>
#include <vector>

#include "kiln/engine.h"
#include "kiln/status.h"

namespace kiln {

struct SessionOptions {
  int streams = 1;              // contexts (and streams) in the pool
  size_t max_queue = 1 << 16;   // submissions beyond this are rejected
  ExecutionOptions execution;   // for every context of the pool
};

using Outputs = std::vector<Tensor>;
using OutputsCallback = std::function<void(Expected<Outputs>)>;
// Also receives the phase timings of the execute that produced the outputs
// (Context::last_timings, read on the worker before the context runs again).
using TimedOutputsCallback = std::function<void(Expected<Outputs>, const QueryTimings&)>;

class Session {
 public:
  static Expected<std::unique_ptr<Session>> create(std::shared_ptr<const Engine> engine, const SessionOptions& options);
  ~Session();  // finishes queued requests, then joins the workers
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Thread-safe. The future holds the outputs or the error of this request.
  std::future<Expected<Outputs>> submit(TensorMap inputs);
  // Thread-safe. `done` runs on a worker thread once the outputs are in host memory.
  Status submit(TensorMap inputs, OutputsCallback done);
  // As above, with the request's phase timings (valid = false when the backend
  // measures none, or the request failed before it ran).
  Status submit(TensorMap inputs, TimedOutputsCallback done);

  // Runs `inputs` (all with the same leading batch extent) as chunks of
  // `chunk` items spread over the pool's streams, so that one chunk's copies
  // overlap another's compute, and concatenates the outputs along axis 0.
  // Identical to one unsplit run.
  Expected<Outputs> run_chunked(const TensorMap& inputs, int64_t chunk);
  // The same for inputs already split (split_batch): submits every piece, then
  // joins the outputs in order.
  Expected<Outputs> run_chunks(std::vector<TensorMap> pieces);

  int streams() const;
  const Engine& engine() const;

 private:
  struct State;
  explicit Session(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// Splits every tensor of `inputs` along axis 0 into pieces of at most `chunk`
// items; with `pinned`, the pieces live in page-locked memory (PinnedMemoryPool),
// so that a CUDA context copies them to the device without staging.
Expected<std::vector<TensorMap>> split_batch(const TensorMap& inputs, int64_t chunk, bool pinned = false);
// Concatenates along axis 0 (all pieces share dtype and trailing dims).
// With `pinned`, the result lives in page-locked memory (PinnedMemoryPool).
Expected<Tensor> concat_batch(const std::vector<Tensor>& pieces, const std::string& what, bool pinned = false);

}  // namespace kiln
