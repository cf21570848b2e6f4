// Runs one node through the CUDA op table (no IR inference, no executor):
// host inputs in, host outputs back; and the comparison of a device run with
// the CPU backend's. Shared by the CUDA kernel tests.
#pragma once

#if KILN_WITH_CUDA

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "backends/cpu/cpu_kernels.h"
#include "backends/cuda/cuda_kernels.h"
#include "backends/cuda/cuda_resources.h"

namespace kiln::cuda {

// Owns what one kernel run needs on the device.
struct KernelRun {
  Stream stream;
  CudnnHandle cudnn;
  CublasLtHandle cublaslt;
  CudaLibraries libraries;
  std::vector<DeviceBuffer> buffers;
};

// Runs `node` on host `inputs` (nullptr for omitted ones). `outputs` gives each
// output's dtype and dims. Inputs listed in `host_known` are also passed as
// host values (constants for prepare); `tactic` is the one prepare must use.
inline Expected<std::vector<Tensor>> run_cuda_node(const Node& node, const std::vector<const Tensor*>& inputs,
                                            const std::vector<TensorInfo>& outputs,
                                            const std::vector<size_t>& host_known = {}, bool allow_tf32 = false,
                                            const KernelTactic* tactic = nullptr) {
  const CudaKernel* kernel = CudaKernelTable::global().find(node.op_type, node.domain);
  if (!kernel) return unimplemented("no CUDA kernel for " + node.op_type);
  std::vector<TensorInfo> in_infos;
  std::vector<const Tensor*> host_values(inputs.size(), nullptr);
  for (const Tensor* t : inputs) in_infos.push_back(t ? TensorInfo{t->dtype(), t->dims(), true} : TensorInfo{});
  for (size_t i : host_known) host_values[i] = inputs[i];
  if (kernel->supports) KILN_RETURN_IF_ERROR(kernel->supports(node, in_infos));
  KernelRun run;
  KILN_ASSIGN_OR_RETURN(run.stream, Stream::create());
  KILN_ASSIGN_OR_RETURN(run.cudnn, CudnnHandle::create(run.stream.get()));
  KILN_ASSIGN_OR_RETURN(run.cublaslt, CublasLtHandle::create());
  run.libraries = CudaLibraries{run.stream.get(), run.cudnn.get(), run.cublaslt.get(), allow_tf32};
  PrepareArgs prepare{node, in_infos, host_values, outputs, run.libraries, tactic};
  KILN_ASSIGN_OR_RETURN(PreparedKernel prepared, kernel->prepare(prepare));

  std::vector<DeviceTensor> device_inputs, device_outputs;
  for (const Tensor* t : inputs) {
    if (!t) { device_inputs.push_back({}); continue; }
    KILN_ASSIGN_OR_RETURN(DeviceBuffer b, DeviceBuffer::allocate(std::max<size_t>(t->byte_size(), 1)));
    KILN_CUDA_CHECK(cudaMemcpy(b.data(), t->raw_data(), t->byte_size(), cudaMemcpyHostToDevice));
    device_inputs.push_back(DeviceTensor{t->dtype(), t->dims(), b.data()});
    run.buffers.push_back(std::move(b));
  }
  for (const TensorInfo& info : outputs) {
    size_t bytes = static_cast<size_t>(element_count(info.dims)) * dtype_size(info.dtype);
    KILN_ASSIGN_OR_RETURN(DeviceBuffer b, DeviceBuffer::allocate(std::max<size_t>(bytes, 1)));
    device_outputs.push_back(DeviceTensor{info.dtype, info.dims, b.data()});
    run.buffers.push_back(std::move(b));
  }
  DeviceBuffer workspace;
  if (prepared.workspace_bytes > 0) {
    KILN_ASSIGN_OR_RETURN(workspace, DeviceBuffer::allocate(prepared.workspace_bytes));
  }
  LaunchArgs launch{device_inputs, device_outputs, workspace.data(), prepared.workspace_bytes, run.libraries};
  KILN_RETURN_IF_ERROR(prepared.enqueue(launch));
  KILN_RETURN_IF_ERROR(run.stream.synchronize());
  std::vector<Tensor> results;
  for (const DeviceTensor& d : device_outputs) {
    Tensor t = Tensor::empty(d.dtype, d.dims);
    KILN_CUDA_CHECK(cudaMemcpy(t.raw_data(), d.data, t.byte_size(), cudaMemcpyDeviceToHost));
    results.push_back(std::move(t));
  }
  return results;
}

inline Node make_node(const std::string& op, std::map<std::string, Attribute> attributes = {}, int opset = 17,
               const std::string& domain = "", size_t outputs = 1) {
  Node n;
  n.name = op + "_test";
  n.op_type = op;
  n.domain = domain;
  n.opset = opset;
  n.attributes = std::move(attributes);
  static Value dummy;
  n.outputs.assign(outputs, &dummy);
  return n;
}

inline TensorInfo info(Dims dims, DataType dtype = DataType::kFloat32) { return TensorInfo{dtype, std::move(dims), true}; }

// Runs `node` on the device with float inputs stored as `dtype`, and on the CPU
// in float32 from the same (rounded) values; outputs must agree within
// `tolerance` * (1 + |expected|) for floats and exactly otherwise.
inline void expect_matches_cpu(const Node& prototype, const std::vector<Tensor>& inputs, DataType dtype, float tolerance,
                        const std::vector<size_t>& host_known = {}, const KernelTactic* tactic = nullptr) {
  static Value input_value;
  Node node = prototype;
  node.inputs.assign(inputs.size(), &input_value);
  std::vector<Tensor> device_inputs, reference_inputs;
  for (const Tensor& t : inputs) {
    if (t.dtype() != DataType::kFloat32) {
      device_inputs.push_back(t);
      reference_inputs.push_back(t);
      continue;
    }
    auto stored = cast_tensor(t, dtype);
    ASSERT_TRUE(stored.ok()) << stored.status().to_string();
    auto widened = cast_tensor(*stored, DataType::kFloat32);
    ASSERT_TRUE(widened.ok()) << widened.status().to_string();
    device_inputs.push_back(std::move(stored).value());
    reference_inputs.push_back(std::move(widened).value());
  }
  std::vector<const Tensor*> device_pointers, reference_pointers;
  for (const Tensor& t : device_inputs) device_pointers.push_back(&t);
  for (const Tensor& t : reference_inputs) reference_pointers.push_back(&t);
  auto expected = cpu::evaluate_node(node, reference_pointers);
  ASSERT_TRUE(expected.ok()) << expected.status().to_string();
  std::vector<TensorInfo> outputs;
  for (const Tensor& t : *expected) {
    outputs.push_back(info(t.dims(), t.dtype() == DataType::kFloat32 ? dtype : t.dtype()));
  }
  auto actual = run_cuda_node(node, device_pointers, outputs, host_known, false, tactic);
  ASSERT_TRUE(actual.ok()) << node.op_type << ": " << actual.status().to_string();
  for (size_t o = 0; o < expected->size(); ++o) {
    const Tensor& e = (*expected)[o];
    ASSERT_EQ((*actual)[o].dims(), e.dims());
    if (e.dtype() != DataType::kFloat32) {
      ASSERT_EQ((*actual)[o].dtype(), e.dtype());
      const std::vector<int64_t> a = (*actual)[o].to_int64_vector(), x = e.to_int64_vector();
      for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(a[i], x[i]) << node.op_type << " element " << i;
      continue;
    }
    auto widened = cast_tensor((*actual)[o], DataType::kFloat32);
    ASSERT_TRUE(widened.ok());
    const float* a = widened->data<float>();
    const float* x = e.data<float>();
    for (int64_t i = 0; i < e.element_count(); ++i) {
      ASSERT_NEAR(a[i], x[i], tolerance * (1.f + std::fabs(x[i])))
          << node.op_type << " " << dims_to_string(e.dims()) << " " << dtype_name(dtype) << " element " << i;
    }
  }
}

}  // namespace kiln::cuda

#endif  // KILN_WITH_CUDA
