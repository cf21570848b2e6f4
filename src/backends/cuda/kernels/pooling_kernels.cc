#include "backends/cuda/kernels/kernel_helpers.h"

namespace kiln::cuda {

void register_cuda_pooling_kernels(CudaKernelTable& table) {}

}  // namespace kiln::cuda
