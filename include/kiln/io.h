// Names and descriptions of a model's inputs and outputs, shared by the
// engine, profile and plan headers.
#pragma once

#include <map>
#include <string>

#include "kiln/status.h"
#include "kiln/tensor.h"
#include "kiln/types.h"

namespace kiln {

enum class BackendKind { kCpu, kCuda };
const char* backend_kind_name(BackendKind kind);
Expected<BackendKind> parse_backend_kind(const std::string& name);

// A graph input or output as the user sees it.
struct IoDesc {
  std::string name;
  DataType dtype = DataType::kUndefined;
  Shape shape;
};

using TensorMap = std::map<std::string, Tensor>;

// How a context executes, chosen when it is created.
struct ExecutionOptions {
  // CUDA: capture each shape set's kernels into a CUDA graph once and replay
  // it; falls back to plain launches (with a message) where capture fails.
  bool cuda_graphs = false;
  // CUDA: let float32 convolutions and matmuls use TF32 tensor cores.
  bool allow_tf32 = true;
  // CUDA, for measuring compute alone (trtexec's --noDataTransfers): inputs are
  // copied to the device only on the first query of a shape set and outputs
  // are not copied back (the returned tensors are zeros, the same buffers for
  // every query of a shape set: placeholders, not results).
  bool no_data_transfers = false;
  // Waiting for a query to finish busy-polls instead of blocking (trtexec's
  // --useSpinWait): less wake-up latency and jitter, one host core kept busy.
  // CUDA: Context::execute polls cudaStreamQuery/cudaEventQuery in a loop;
  // without it, it blocks in cudaEventSynchronize on an event created with
  // cudaEventBlockingSync, so the waiting thread sleeps. CPU: execute runs on
  // the calling thread and never waits, so this changes nothing there; the
  // streams benchmark spins for completions instead of sleeping on a
  // condition variable when its options carry it.
  bool spin_wait = false;
  // Time every layer (node) of every query (trtexec's --dumpProfile): CUDA
  // records an event between consecutive kernels (and so launches without a
  // CUDA graph); CPU reads the host clock around each node. Adds overhead;
  // for finding where the time goes, not for headline figures.
  bool profile_layers = false;
};

}  // namespace kiln
