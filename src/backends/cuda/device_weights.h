// The device copies of an engine's constants (weights), uploaded once and
// shared, read-only, by every context of the engine.
#pragma once

#include <memory>
#include <unordered_map>
#include <vector>

#include "backends/cuda/cuda_kernels.h"
#include "backends/cuda/device_memory_pool.h"
#include "kiln/graph.h"

namespace kiln::cuda {

class DeviceWeights {
 public:
  // Uploads each value's constant (synchronously: this happens once, before
  // any context runs). String constants cannot live on the device and are skipped.
  static Expected<std::shared_ptr<DeviceWeights>> upload(const std::vector<const Value*>& values);

  // nullptr when `value` was not uploaded.
  const DeviceTensor* find(const Value* value) const;
  size_t bytes_reserved() const { return pool_.bytes_reserved(); }

 private:
  DeviceBlockPool pool_;
  std::unordered_map<const Value*, DeviceTensor> tensors_;
};

}  // namespace kiln::cuda
