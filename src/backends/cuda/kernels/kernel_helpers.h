// Host-side helpers shared by the CUDA kernels' prepare functions.
#pragma once

#include <vector>

#include "backends/cuda/cuda_kernels.h"
#include "backends/cuda/kernels/launch_types.h"
#include "ir/pointwise_program.h"

namespace kiln::cuda {

// Row-major strides of `dims` in elements.
Dims contiguous_strides(const Dims& dims);

// Index for reading each input with numpy broadcasting into `out_dims`
// (input k of `inputs` goes to StridedIndex slot k, at most 3).
Expected<StridedIndex> broadcast_index(const Node& node, const Dims& out_dims, const std::vector<Dims>& inputs);

// The node's pointwise program in device form; errors when it is too long.
Expected<DeviceProgram> to_device_program(const Node& node, const PointwiseProgram& program);

// A program of one instruction applied to register 0.
PointwiseProgram single_op_program(PointwiseOp op, float p0 = 0, float p1 = 0);

// True when the program is exactly Relu(x).
bool program_is_relu(const PointwiseProgram& program);

// A kernel that copies input 0 to output 0 (same bytes): Reshape & co.
PreparedKernel device_copy_kernel();

// Runs `program` (with an optional per-channel bias) in place on `tensor`:
// channel of element i = (i / inner) % channels.
Status enqueue_program(const DeviceTensor& tensor, const void* bias, int64_t inner, int64_t channels,
                       const DeviceProgram& program, cudaStream_t stream);

}  // namespace kiln::cuda
