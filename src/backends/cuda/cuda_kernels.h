// The CUDA backend's op table: for each op, whether a node is supported
// (supports) and how to set it up for one set of static shapes (prepare). What
// prepare returns is enqueued on every execution with device pointers only:
// no allocation, no host synchronisation, no shape logic at enqueue time.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "backends/cuda/cuda_check.h"
#include "ir/op_registry.h"
#include "kiln/graph.h"
#include "kiln/tensor.h"

namespace kiln::cuda {

// A tensor in device memory, viewed (never owned).
struct DeviceTensor {
  DataType dtype = DataType::kUndefined;
  Dims dims;
  void* data = nullptr;

  bool present() const { return dtype != DataType::kUndefined; }
  int64_t element_count() const { return kiln::element_count(dims); }
  size_t byte_size() const { return static_cast<size_t>(element_count()) * dtype_size(dtype); }
  template <typename T> T* as() const { return static_cast<T*>(data); }
};

// Per-context library state; every call goes to `stream`.
struct CudaLibraries {
  cudaStream_t stream = nullptr;
  cudnnHandle_t cudnn = nullptr;
  cublasLtHandle_t cublaslt = nullptr;
  // TF32 tensor-core math for float32 convolution and matmul (on unless
  // KILN_CUDA_DISABLE_TF32=1 is set in the environment).
  bool allow_tf32 = true;
};

// One way a kernel can run a node (a cuDNN algorithm and math type, a
// cuBLASLt algorithm and epilogue). `id` is what plans and timing caches
// store; only the kernel that made it reads it.
struct KernelTactic {
  std::string id;     // one line, no ';' or tab
  std::string label;  // for people: "cudnn IMPLICIT_PRECOMP_GEMM tensor-op"
  bool operator==(const KernelTactic&) const = default;
};

// What prepare sees: the node, fully static input and output infos, and the
// host value of every input the shape pass knows (weights, Shape outputs and
// what is computed from them), nullptr otherwise.
//
// Tactics (kernels with CudaKernel::has_tactics): without `tactic`, prepare
// uses the node's stored tactic for these input shapes and precision when one
// exists and is valid (build/tactic_record.h), else its heuristic. The builder
// sets `tactic` to prepare exactly that one (an error when it is not valid for
// these shapes) and `candidates` to collect every tactic valid here.
struct PrepareArgs {
  const Node& node;
  const std::vector<TensorInfo>& inputs;
  const std::vector<const Tensor*>& host_values;
  const std::vector<TensorInfo>& outputs;
  const CudaLibraries& libraries;
  const KernelTactic* tactic = nullptr;
  std::vector<KernelTactic>* candidates = nullptr;

  bool has_input(size_t i) const { return i < inputs.size() && inputs[i].dtype != DataType::kUndefined; }
  const Tensor* host_value(size_t i) const { return i < host_values.size() ? host_values[i] : nullptr; }
};

// What enqueue sees: device tensors aligned with node inputs/outputs (omitted
// ones are not present), and the workspace prepare asked for.
struct LaunchArgs {
  const std::vector<DeviceTensor>& inputs;
  const std::vector<DeviceTensor>& outputs;
  void* workspace = nullptr;
  size_t workspace_bytes = 0;
  const CudaLibraries& libraries;

  bool has_input(size_t i) const { return i < inputs.size() && inputs[i].present(); }
};

// A node ready to run for one shape set. `state` keeps descriptors and plans
// alive as long as the enqueue function may use them.
struct PreparedKernel {
  size_t workspace_bytes = 0;
  std::function<Status(const LaunchArgs&)> enqueue;
};

using CudaSupportsFn = std::function<Status(const Node&, const std::vector<TensorInfo>& inputs)>;
using CudaPrepareFn = std::function<Expected<PreparedKernel>(const PrepareArgs&)>;

struct CudaKernel {
  CudaSupportsFn supports;  // may be empty: every node the IR accepts is supported
  CudaPrepareFn prepare;
  // prepare lists and honours tactics (PrepareArgs::tactic / candidates), so
  // the builder times them.
  bool has_tactics = false;
};

class CudaKernelTable {
 public:
  static const CudaKernelTable& global();
  void add(const std::string& op_type, CudaKernel kernel, const std::string& domain = "");
  const CudaKernel* find(const std::string& op_type, const std::string& domain) const;

 private:
  std::map<std::pair<std::string, std::string>, CudaKernel> kernels_;
};

// Groups of kernels, each in src/backends/cuda/kernels/<group>.cc.
void register_cuda_elementwise_kernels(CudaKernelTable& table);
void register_cuda_data_movement_kernels(CudaKernelTable& table);
void register_cuda_conv_kernels(CudaKernelTable& table);
void register_cuda_conv_transpose_kernels(CudaKernelTable& table);
void register_cuda_matmul_kernels(CudaKernelTable& table);
void register_cuda_normalization_kernels(CudaKernelTable& table);
void register_cuda_reduction_kernels(CudaKernelTable& table);
void register_cuda_pooling_kernels(CudaKernelTable& table);
void register_cuda_resize_kernels(CudaKernelTable& table);
void register_cuda_layout_kernels(CudaKernelTable& table);
void register_cuda_indexing_kernels(CudaKernelTable& table);
void register_cuda_loss_kernels(CudaKernelTable& table);
void register_cuda_generator_kernels(CudaKernelTable& table);
void register_cuda_quantize_kernels(CudaKernelTable& table);
void register_cuda_selection_kernels(CudaKernelTable& table);
void register_cuda_grid_sample_kernels(CudaKernelTable& table);
void register_cuda_attention_kernels(CudaKernelTable& table);

// Error for a dtype a CUDA kernel does not handle, naming node and type.
Status unsupported_cuda_dtype(const Node& node, DataType dtype, const std::string& which = "input");
// OK when `dtype` is one of `allowed`, else unsupported_cuda_dtype.
Status require_dtype(const Node& node, DataType dtype, std::initializer_list<DataType> allowed,
                     const std::string& which = "input");

// The float types most kernels handle.
inline constexpr std::initializer_list<DataType> kFloatTypes = {DataType::kFloat32, DataType::kFloat16,
                                                                 DataType::kBFloat16};

}  // namespace kiln::cuda
