#include "backends/cuda/cuda_resources.h"

#include <cstdio>
#include <cstdlib>

#include "backends/cuda/cuda_check.h"

namespace kiln::cuda {

// Destructors cannot return errors; a failure there means the context is
// already broken and the error was (or will be) reported by a checked call.

Expected<Stream> Stream::create() {
  Stream s;
  KILN_CUDA_CHECK(cudaStreamCreateWithFlags(&s.stream_, cudaStreamNonBlocking));
  return s;
}
Stream& Stream::operator=(Stream&& other) noexcept {
  if (this != &other) {
    if (stream_) cudaStreamDestroy(stream_);
    stream_ = take(other.stream_);
  }
  return *this;
}
Stream::~Stream() {
  if (stream_) cudaStreamDestroy(stream_);
}
Status Stream::synchronize() const {
  KILN_CUDA_CHECK(cudaStreamSynchronize(stream_));
  return ok_status();
}

Expected<Event> Event::create(bool timing, bool blocking_sync) {
  Event e;
  unsigned flags = timing ? cudaEventDefault : cudaEventDisableTiming;
  if (blocking_sync) flags |= cudaEventBlockingSync;
  KILN_CUDA_CHECK(cudaEventCreateWithFlags(&e.event_, flags));
  return e;
}
Status Event::wait(bool spin) const {
  if (!spin) {
    KILN_CUDA_CHECK(cudaEventSynchronize(event_));
    return ok_status();
  }
  for (;;) {
    cudaError_t state = cudaEventQuery(event_);
    if (state == cudaSuccess) return ok_status();
    if (state != cudaErrorNotReady) KILN_CUDA_CHECK(state);
  }
}
Expected<float> Event::elapsed_since(const Event& start) const {
  float ms = 0;
  KILN_CUDA_CHECK(cudaEventElapsedTime(&ms, start.event_, event_));
  return ms;
}
Event& Event::operator=(Event&& other) noexcept {
  if (this != &other) {
    if (event_) cudaEventDestroy(event_);
    event_ = take(other.event_);
  }
  return *this;
}
Event::~Event() {
  if (event_) cudaEventDestroy(event_);
}
Status Event::record(cudaStream_t stream) const {
  KILN_CUDA_CHECK(cudaEventRecord(event_, stream));
  return ok_status();
}

Expected<DeviceBuffer> DeviceBuffer::allocate(size_t bytes) {
  DeviceBuffer b;
  if (bytes == 0) return b;
  KILN_CUDA_CHECK(cudaMalloc(&b.data_, bytes));
  b.bytes_ = bytes;
  return b;
}
DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
  if (this != &other) {
    if (data_) cudaFree(data_);
    data_ = take(other.data_);
    bytes_ = take(other.bytes_);
  }
  return *this;
}
DeviceBuffer::~DeviceBuffer() {
  if (data_) cudaFree(data_);
}

Expected<PinnedBuffer> PinnedBuffer::allocate(size_t bytes) {
  PinnedBuffer b;
  if (bytes == 0) return b;
  if (cudaMallocHost(&b.data_, bytes) == cudaSuccess) {
    b.bytes_ = bytes;
    b.pinned_ = true;
    return b;
  }
  cudaGetLastError();  // clear the (non-sticky) error so a later cudaGetLastError does not report it
  static bool warned = false;
  if (!warned) {
    warned = true;
    std::fprintf(stderr, "kiln: warning: cudaMallocHost(%zu bytes) failed; using pageable host memory for "
                 "transfers (slower, copies are staged by the driver)\n", bytes);
  }
  b.data_ = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
  if (!b.data_) return resource_exhausted("cannot allocate " + std::to_string(bytes) + " bytes of host staging memory");
  b.bytes_ = bytes;
  return b;
}
void PinnedBuffer::release() {
  if (!data_) return;
  if (pinned_) cudaFreeHost(data_);
  else std::free(data_);
  data_ = nullptr;
}
PinnedBuffer& PinnedBuffer::operator=(PinnedBuffer&& other) noexcept {
  if (this != &other) {
    release();
    data_ = take(other.data_);
    bytes_ = take(other.bytes_);
    pinned_ = take(other.pinned_);
  }
  return *this;
}
PinnedBuffer::~PinnedBuffer() { release(); }

Expected<CudnnHandle> CudnnHandle::create(cudaStream_t stream) {
  CudnnHandle h;
  KILN_CUDNN_CHECK(cudnnCreate(&h.handle_));
  KILN_CUDNN_CHECK(cudnnSetStream(h.handle_, stream));
  return h;
}
CudnnHandle& CudnnHandle::operator=(CudnnHandle&& other) noexcept {
  if (this != &other) {
    if (handle_) cudnnDestroy(handle_);
    handle_ = take(other.handle_);
  }
  return *this;
}
CudnnHandle::~CudnnHandle() {
  if (handle_) cudnnDestroy(handle_);
}

Expected<CublasLtHandle> CublasLtHandle::create() {
  CublasLtHandle h;
  KILN_CUBLAS_CHECK(cublasLtCreate(&h.handle_));
  return h;
}
CublasLtHandle& CublasLtHandle::operator=(CublasLtHandle&& other) noexcept {
  if (this != &other) {
    if (handle_) cublasLtDestroy(handle_);
    handle_ = take(other.handle_);
  }
  return *this;
}
CublasLtHandle::~CublasLtHandle() {
  if (handle_) cublasLtDestroy(handle_);
}

Status CudaGraph::begin_capture(cudaStream_t stream) {
  KILN_CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
  return ok_status();
}
Expected<CudaGraph> CudaGraph::end_capture(cudaStream_t stream) {
  CudaGraph g;
  KILN_CUDA_CHECK(cudaStreamEndCapture(stream, &g.graph_));
  return g;
}
CudaGraph& CudaGraph::operator=(CudaGraph&& other) noexcept {
  if (this != &other) {
    if (graph_) cudaGraphDestroy(graph_);
    graph_ = take(other.graph_);
  }
  return *this;
}
CudaGraph::~CudaGraph() {
  if (graph_) cudaGraphDestroy(graph_);
}

Expected<GraphExec> GraphExec::instantiate(const CudaGraph& graph) {
  GraphExec e;
  KILN_CUDA_CHECK(cudaGraphInstantiate(&e.exec_, graph.get(), 0));
  return e;
}
GraphExec& GraphExec::operator=(GraphExec&& other) noexcept {
  if (this != &other) {
    if (exec_) cudaGraphExecDestroy(exec_);
    exec_ = take(other.exec_);
  }
  return *this;
}
GraphExec::~GraphExec() {
  if (exec_) cudaGraphExecDestroy(exec_);
}
Status GraphExec::launch(cudaStream_t stream) const {
  KILN_CUDA_CHECK(cudaGraphLaunch(exec_, stream));
  return ok_status();
}

Expected<int> device_count() {
  int count = 0;
  cudaError_t error = cudaGetDeviceCount(&count);
  if (error != cudaSuccess) {
    cudaGetLastError();
    return unavailable(std::string("no usable CUDA device: cudaGetDeviceCount failed: ") + cudaGetErrorName(error) +
                       " (" + cudaGetErrorString(error) + ")");
  }
  if (count == 0) return unavailable("no CUDA device is present");
  return count;
}

}  // namespace kiln::cuda
