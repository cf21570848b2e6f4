// RAII owners of CUDA objects. Each is move-only, created by a factory that
// returns Expected (creation can fail without a device), and releases its
// object in the destructor. Nothing here synchronises implicitly except
// where a comment says so.
#pragma once

#include <cublasLt.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <cstddef>
#include <utility>

#include "kiln/status.h"

namespace kiln::cuda {

// Moves ownership of a raw handle and leaves the source empty.
template <typename T>
T take(T& handle) { return std::exchange(handle, T{}); }

class Stream {
 public:
  Stream() = default;
  // A non-blocking stream: it does not synchronise with the legacy default stream.
  static Expected<Stream> create();
  Stream(Stream&& other) noexcept : stream_(take(other.stream_)) {}
  Stream& operator=(Stream&& other) noexcept;
  ~Stream();
  cudaStream_t get() const { return stream_; }
  // Blocks the calling thread until all work queued so far has finished.
  Status synchronize() const;

 private:
  cudaStream_t stream_ = nullptr;
};

class Event {
 public:
  Event() = default;
  // timing = false creates a lighter event usable only for ordering;
  // blocking_sync = true makes a host wait on it sleep instead of spin.
  static Expected<Event> create(bool timing = false, bool blocking_sync = false);
  Event(Event&& other) noexcept : event_(take(other.event_)) {}
  Event& operator=(Event&& other) noexcept;
  ~Event();
  cudaEvent_t get() const { return event_; }
  Status record(cudaStream_t stream) const;
  // Blocks until the work before the last record() has finished: by polling
  // (spin = true, lowest wake-up latency, one core busy) or by the event's
  // own synchronisation (sleeping when created with blocking_sync).
  Status wait(bool spin) const;
  // Milliseconds between `start` and this event (both recorded and finished, both timing events).
  Expected<float> elapsed_since(const Event& start) const;

 private:
  cudaEvent_t event_ = nullptr;
};

// Device memory from cudaMalloc; cudaFree in the destructor (which waits for
// the device to stop using it, as cudaFree does).
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  static Expected<DeviceBuffer> allocate(size_t bytes);
  DeviceBuffer(DeviceBuffer&& other) noexcept : data_(take(other.data_)), bytes_(take(other.bytes_)) {}
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  ~DeviceBuffer();
  void* data() const { return data_; }
  size_t size() const { return bytes_; }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

// Page-locked host memory for fast, truly asynchronous copies. When the driver
// refuses (pinned memory is limited), falls back to pageable memory and prints
// one warning: copies still work but are staged by the driver.
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  static Expected<PinnedBuffer> allocate(size_t bytes);
  PinnedBuffer(PinnedBuffer&& other) noexcept
      : data_(take(other.data_)), bytes_(take(other.bytes_)), pinned_(take(other.pinned_)) {}
  PinnedBuffer& operator=(PinnedBuffer&& other) noexcept;
  ~PinnedBuffer();
  void* data() const { return data_; }
  size_t size() const { return bytes_; }
  bool is_pinned() const { return pinned_; }

 private:
  void release();
  void* data_ = nullptr;
  size_t bytes_ = 0;
  bool pinned_ = false;
};

class CudnnHandle {
 public:
  CudnnHandle() = default;
  // The handle's work goes to `stream`.
  static Expected<CudnnHandle> create(cudaStream_t stream);
  CudnnHandle(CudnnHandle&& other) noexcept : handle_(take(other.handle_)) {}
  CudnnHandle& operator=(CudnnHandle&& other) noexcept;
  ~CudnnHandle();
  cudnnHandle_t get() const { return handle_; }

 private:
  cudnnHandle_t handle_ = nullptr;
};

class CublasLtHandle {
 public:
  CublasLtHandle() = default;
  static Expected<CublasLtHandle> create();
  CublasLtHandle(CublasLtHandle&& other) noexcept : handle_(take(other.handle_)) {}
  CublasLtHandle& operator=(CublasLtHandle&& other) noexcept;
  ~CublasLtHandle();
  cublasLtHandle_t get() const { return handle_; }

 private:
  cublasLtHandle_t handle_ = nullptr;
};

// A captured sequence of stream work. Capture with begin_capture/end_capture
// on a stream that nothing else uses meanwhile; replay with GraphExec::launch.
class CudaGraph {
 public:
  CudaGraph() = default;
  static Status begin_capture(cudaStream_t stream);
  // Ends the capture begun on `stream`; the captured work is not run.
  static Expected<CudaGraph> end_capture(cudaStream_t stream);
  CudaGraph(CudaGraph&& other) noexcept : graph_(take(other.graph_)) {}
  CudaGraph& operator=(CudaGraph&& other) noexcept;
  ~CudaGraph();
  cudaGraph_t get() const { return graph_; }

 private:
  cudaGraph_t graph_ = nullptr;
};

class GraphExec {
 public:
  GraphExec() = default;
  static Expected<GraphExec> instantiate(const CudaGraph& graph);
  GraphExec(GraphExec&& other) noexcept : exec_(take(other.exec_)) {}
  GraphExec& operator=(GraphExec&& other) noexcept;
  ~GraphExec();
  bool valid() const { return exec_ != nullptr; }
  Status launch(cudaStream_t stream) const;

 private:
  cudaGraphExec_t exec_ = nullptr;
};

// Number of CUDA devices, or an error saying why none can be used.
Expected<int> device_count();

}  // namespace kiln::cuda
