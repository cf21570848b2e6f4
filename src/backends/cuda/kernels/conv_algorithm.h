// Which cuDNN forward algorithm a convolution runs: the tactic the builder
// timed and stored in the node (or forces while timing), else cuDNN's
// heuristic. Kept apart from conv_kernels.cc, which sets up the descriptors.
#pragma once

#include "backends/cuda/cuda_kernels.h"

namespace kiln::cuda {

// Larger workspaces are never asked for: an algorithm needing more is not a candidate.
constexpr size_t kMaxConvWorkspace = size_t{1} << 30;

// The descriptors of the convolution as it will run (borrowed).
struct ConvOperands {
  cudnnTensorDescriptor_t x = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  cudnnTensorDescriptor_t y = nullptr;
};

struct ConvAlgorithm {
  cudnnConvolutionFwdAlgo_t algorithm = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
  size_t workspace = 0;
};

// Chooses the algorithm and sets its math type on `d.conv`: the requested
// tactic (PrepareArgs::tactic, or the node's stored one for these shapes and
// precision) when cuDNN accepts it here within kMaxConvWorkspace, else the
// first algorithm cuDNN's heuristic ranks that succeeds within that limit.
// With PrepareArgs::candidates, lists every such algorithm as a tactic
// ("cudnn:<algorithm>,<math type>"). On entry `d.conv` carries the math type
// the precision allows (`tensor_ops`: tensor cores allowed).
Expected<ConvAlgorithm> choose_conv_algorithm(const PrepareArgs& args, const ConvOperands& d, bool tensor_ops,
                                              DataType dtype);

}  // namespace kiln::cuda
