#include "backends/cuda/device_weights.h"

namespace kiln::cuda {

Expected<std::shared_ptr<DeviceWeights>> DeviceWeights::upload(const std::vector<const Value*>& values) {
  auto weights = std::make_shared<DeviceWeights>();
  for (const Value* value : values) {
    if (!value->constant || value->constant->dtype() == DataType::kString) continue;
    const Tensor& host = *value->constant;
    KILN_ASSIGN_OR_RETURN(void* device, weights->pool_.allocate(host.byte_size()));
    if (host.byte_size() > 0) {
      KILN_CUDA_CHECK(cudaMemcpy(device, host.raw_data(), host.byte_size(), cudaMemcpyHostToDevice));
    }
    weights->tensors_[value] = DeviceTensor{host.dtype(), host.dims(), device};
  }
  // cudaMemcpy from pageable memory may return before the DMA lands, and
  // contexts run on non-blocking streams that do not wait for the legacy stream.
  KILN_CUDA_CHECK(cudaStreamSynchronize(nullptr));
  return weights;
}

const DeviceTensor* DeviceWeights::find(const Value* value) const {
  auto it = tensors_.find(value);
  return it == tensors_.end() ? nullptr : &it->second;
}

}  // namespace kiln::cuda
