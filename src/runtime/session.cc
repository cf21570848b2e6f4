#include "kiln/session.h"

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include "core/parallel_copy.h"
#include "kiln/host_memory.h"

namespace kiln {

struct Session::State {
  struct Request {
    TensorMap inputs;
    TimedOutputsCallback done;
  };

  std::shared_ptr<const Engine> engine;
  SessionOptions options;
  std::vector<std::unique_ptr<Context>> contexts;
  std::vector<std::thread> workers;
  std::mutex mutex;
  std::condition_variable ready;
  std::deque<Request> queue;
  bool stopping = false;

  void work(Context* context) {
    for (;;) {
      Request request;
      {
        std::unique_lock<std::mutex> lock(mutex);
        ready.wait(lock, [&] { return stopping || !queue.empty(); });
        if (queue.empty()) return;  // stopping and drained
        request = std::move(queue.front());
        queue.pop_front();
      }
      Expected<Outputs> outputs = context->execute(request.inputs);
      // Read here: once `done` returns, this worker may run the context again.
      const QueryTimings timings = outputs.ok() ? context->last_timings() : QueryTimings{};
      request.done(std::move(outputs), timings);
    }
  }
};

Session::Session(std::unique_ptr<State> state) : state_(std::move(state)) {}

Expected<std::unique_ptr<Session>> Session::create(std::shared_ptr<const Engine> engine,
                                                   const SessionOptions& options) {
  if (!engine) return invalid_argument("session needs an engine");
  if (options.streams < 1 || options.streams > 256) {
    return invalid_argument("streams must be between 1 and 256, got " + std::to_string(options.streams));
  }
  auto state = std::make_unique<State>();
  state->engine = std::move(engine);
  state->options = options;
  for (int i = 0; i < options.streams; ++i) {
    KILN_ASSIGN_OR_RETURN(auto context, state->engine->create_context(options.execution));
    state->contexts.push_back(std::move(context));
  }
  State* raw = state.get();
  for (auto& context : state->contexts) {
    Context* c = context.get();
    state->workers.emplace_back([raw, c] { raw->work(c); });
  }
  return std::unique_ptr<Session>(new Session(std::move(state)));
}

Session::~Session() {
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->stopping = true;
  }
  state_->ready.notify_all();
  for (auto& w : state_->workers) w.join();
}

int Session::streams() const { return static_cast<int>(state_->contexts.size()); }
const Engine& Session::engine() const { return *state_->engine; }

Status Session::submit(TensorMap inputs, OutputsCallback done) {
  return submit(std::move(inputs),
                [done = std::move(done)](Expected<Outputs> outputs, const QueryTimings&) { done(std::move(outputs)); });
}

Status Session::submit(TensorMap inputs, TimedOutputsCallback done) {
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    if (state_->stopping) return unavailable("session is shutting down");
    if (state_->queue.size() >= state_->options.max_queue) {
      return resource_exhausted("session queue is full (" + std::to_string(state_->options.max_queue) + " requests)");
    }
    state_->queue.push_back({std::move(inputs), std::move(done)});
  }
  state_->ready.notify_one();
  return ok_status();
}

std::future<Expected<Outputs>> Session::submit(TensorMap inputs) {
  auto promise = std::make_shared<std::promise<Expected<Outputs>>>();
  auto future = promise->get_future();
  Status s = submit(std::move(inputs), [promise](Expected<Outputs> result) { promise->set_value(std::move(result)); });
  if (!s.ok()) promise->set_value(s);
  return future;
}

Expected<std::vector<TensorMap>> split_batch(const TensorMap& inputs, int64_t chunk, bool pinned) {
  if (chunk < 1) return invalid_argument("chunk size must be positive, got " + std::to_string(chunk));
  if (inputs.empty()) return invalid_argument("no inputs to split");
  int64_t batch = -1;
  for (const auto& [name, t] : inputs) {
    if (t.rank() == 0) return invalid_argument("input '" + name + "' is a scalar and has no batch axis to split");
    if (batch >= 0 && t.dim(0) != batch) {
      return invalid_argument("input '" + name + "' has batch " + std::to_string(t.dim(0)) + ", other inputs " +
                              std::to_string(batch));
    }
    batch = t.dim(0);
  }
  std::vector<TensorMap> pieces;
  for (int64_t begin = 0; begin < batch; begin += chunk) {
    int64_t count = std::min(chunk, batch - begin);
    TensorMap piece;
    for (const auto& [name, t] : inputs) {
      if (t.dtype() == DataType::kString)
        return unimplemented("input '" + name + "': string tensors cannot be chunked");
      // Pinned: a page-locked copy for the device; otherwise the rows themselves.
      Tensor rows = t.rows(begin, count);
      piece[name] = pinned ? PinnedMemoryPool::global().copy_of(rows) : rows;
    }
    pieces.push_back(std::move(piece));
  }
  return pieces;
}

Expected<Tensor> concat_batch(const std::vector<Tensor>& pieces, const std::string& what, bool pinned) {
  if (pieces.empty()) return invalid_argument(what + ": nothing to concatenate");
  Dims dims = pieces[0].dims();
  if (dims.empty()) return invalid_argument(what + " is a scalar and has no batch axis");
  int64_t total = 0;
  for (const Tensor& p : pieces) {
    Dims tail(p.dims().begin() + std::min<size_t>(1, p.rank()), p.dims().end());
    Dims first_tail(dims.begin() + 1, dims.end());
    if (p.dtype() != pieces[0].dtype() || p.rank() != dims.size() || tail != first_tail) {
      return invalid_argument(what + ": chunk outputs " + pieces[0].describe() + " and " + p.describe() +
                              " cannot be joined along the batch axis");
    }
    total += p.dim(0);
  }
  dims[0] = total;
  // Both kinds come from the pool's caches: joins recur at the same sizes.
  PinnedMemoryPool& pool = PinnedMemoryPool::global();
  Tensor out = pinned ? pool.allocate(pieces[0].dtype(), dims) : pool.allocate_pageable(pieces[0].dtype(), dims);
  // A served batch of large images is tens of MB, joined right before it runs.
  std::vector<CopyRange> copies;
  copies.reserve(pieces.size());
  size_t offset = 0;
  for (const Tensor& p : pieces) {
    copies.push_back({static_cast<char*>(out.raw_data()) + offset, p.raw_data(), p.byte_size()});
    offset += p.byte_size();
  }
  copy_in_parallel(copies);
  return out;
}

Expected<Outputs> Session::run_chunked(const TensorMap& inputs, int64_t chunk) {
  KILN_ASSIGN_OR_RETURN(auto pieces, split_batch(inputs, chunk, engine().backend_kind() == BackendKind::kCuda));
  return run_chunks(std::move(pieces));
}

namespace {

// The joined outputs of a chunked run. Each piece's outputs are copied into
// their rows as soon as that piece finishes (on the worker thread that ran
// it), so the copies of one piece overlap the device work of the others and
// no final concatenation is left for the caller's thread.
struct ChunkJoin {
  std::mutex mutex;
  std::condition_variable finished;
  size_t remaining = 0;
  Status error;
  Outputs joined;
  bool allocated = false;
};

}  // namespace

Expected<Outputs> Session::run_chunks(std::vector<TensorMap> pieces) {
  if (pieces.empty()) return invalid_argument("no chunks to run");
  std::vector<int64_t> offsets, counts;
  int64_t total = 0;
  for (const TensorMap& piece : pieces) {
    if (piece.empty() || piece.begin()->second.rank() == 0) return invalid_argument("a chunk has no batch axis");
    offsets.push_back(total);
    counts.push_back(piece.begin()->second.dim(0));
    total += counts.back();
  }
  const bool pinned = engine().backend_kind() == BackendKind::kCuda;
  const std::vector<IoDesc>& descs = engine().outputs();
  auto join = std::make_shared<ChunkJoin>();
  join->remaining = pieces.size();

  auto place = [join, total, pinned, &descs](const Outputs& outputs, int64_t offset, int64_t count) -> Status {
    std::vector<Tensor> targets;
    {
      std::lock_guard<std::mutex> lock(join->mutex);
      if (!join->allocated) {
        for (size_t i = 0; i < outputs.size(); ++i) {
          const Tensor& t = outputs[i];
          if (t.rank() == 0 || t.dim(0) != count || t.dtype() == DataType::kString) {
            return invalid_argument("output '" + descs[i].name + "' (" + t.describe() +
                                    ") does not have the chunk's batch on axis 0, so chunks cannot be joined");
          }
          Dims dims = t.dims();
          dims[0] = total;
          join->joined.push_back(pinned ? PinnedMemoryPool::global().allocate(t.dtype(), dims)
                                        : Tensor::empty(t.dtype(), dims));
        }
        join->allocated = true;
      }
      targets = join->joined;
    }
    for (size_t i = 0; i < outputs.size(); ++i) {
      const Tensor& t = outputs[i];
      Tensor& target = targets[i];
      const bool same_tail =
          t.rank() == target.rank() && std::equal(t.dims().begin() + 1, t.dims().end(), target.dims().begin() + 1);
      if (t.dtype() != target.dtype() || t.dim(0) != count || !same_tail) {
        return invalid_argument("output '" + descs[i].name + "': chunk outputs " + target.describe() + " and " +
                                t.describe() + " cannot be joined along the batch axis");
      }
      const size_t row = count ? t.byte_size() / static_cast<size_t>(count) : 0;
      if (t.byte_size()) std::memcpy(static_cast<char*>(target.raw_data()) + offset * row, t.raw_data(), t.byte_size());
    }
    return ok_status();
  };

  size_t submitted = 0;
  Status submit_error;
  for (size_t k = 0; k < pieces.size(); ++k) {
    const int64_t offset = offsets[k], count = counts[k];
    submit_error = submit(std::move(pieces[k]), [join, place, offset, count](Expected<Outputs> result) {
      Status status = result.ok() ? place(*result, offset, count) : result.status();
      std::lock_guard<std::mutex> lock(join->mutex);
      if (!status.ok() && join->error.ok()) join->error = status;
      if (--join->remaining == 0) join->finished.notify_all();
    });
    if (!submit_error.ok()) break;
    ++submitted;
  }
  std::unique_lock<std::mutex> lock(join->mutex);
  join->remaining -= pieces.size() - submitted;  // never submitted: nothing to wait for
  // The callbacks use `place`, which refers to this frame: wait for every submitted piece.
  join->finished.wait(lock, [&] { return join->remaining == 0; });
  if (!submit_error.ok()) return submit_error;
  if (!join->error.ok()) return join->error;
  return std::move(join->joined);
}

}  // namespace kiln
