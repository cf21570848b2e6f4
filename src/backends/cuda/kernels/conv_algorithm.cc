#include "backends/cuda/kernels/conv_algorithm.h"

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "backends/cuda/kernel_tactics.h"

// The legacy convolution API is deprecated in cuDNN 9 (see conv_kernels.cc).
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

namespace kiln::cuda {
namespace {

const char* algorithm_name(cudnnConvolutionFwdAlgo_t algorithm) {
  switch (algorithm) {
    case CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM: return "IMPLICIT_GEMM";
    case CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM: return "IMPLICIT_PRECOMP_GEMM";
    case CUDNN_CONVOLUTION_FWD_ALGO_GEMM: return "GEMM";
    case CUDNN_CONVOLUTION_FWD_ALGO_DIRECT: return "DIRECT";
    case CUDNN_CONVOLUTION_FWD_ALGO_FFT: return "FFT";
    case CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING: return "FFT_TILING";
    case CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD: return "WINOGRAD";
    case CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED: return "WINOGRAD_NONFUSED";
    default: return "algorithm";
  }
}

const char* math_name(cudnnMathType_t math) {
  switch (math) {
    case CUDNN_TENSOR_OP_MATH: return "tensor-op";
    case CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION: return "tensor-op-conversion";
    case CUDNN_FMA_MATH: return "fma";
    default: return "default-math";
  }
}

bool is_tensor_op_math(cudnnMathType_t math) {
  return math == CUDNN_TENSOR_OP_MATH || math == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;
}

// Tactic id "cudnn:<algorithm>,<math type>" (the enums' values).
KernelTactic conv_tactic(cudnnConvolutionFwdAlgo_t algorithm, cudnnMathType_t math) {
  return KernelTactic{"cudnn:" + std::to_string(static_cast<int>(algorithm)) + "," +
                          std::to_string(static_cast<int>(math)),
                      std::string("cudnn ") + algorithm_name(algorithm) + " " + math_name(math)};
}

bool parse_conv_tactic(const std::string& id, cudnnConvolutionFwdAlgo_t* algorithm, cudnnMathType_t* math) {
  int a = -1, m = -1, consumed = 0;
  if (std::sscanf(id.c_str(), "cudnn:%d,%d%n", &a, &m, &consumed) != 2 || consumed != static_cast<int>(id.size())) {
    return false;
  }
  if (a < 0 || a >= CUDNN_CONVOLUTION_FWD_ALGO_COUNT || m < CUDNN_DEFAULT_MATH || m > CUDNN_FMA_MATH) return false;
  *algorithm = static_cast<cudnnConvolutionFwdAlgo_t>(a);
  *math = static_cast<cudnnMathType_t>(m);
  return true;
}

}  // namespace

Expected<ConvAlgorithm> choose_conv_algorithm(const PrepareArgs& args, const ConvOperands& d, bool tensor_ops,
                                              DataType dtype) {
  const Node& node = args.node;
  cudnnHandle_t cudnn = args.libraries.cudnn;
  cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
  int returned = 0;
  KILN_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(cudnn, d.x, d.w, d.conv, d.y,
                                                          CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &returned, perf));
  std::vector<const cudnnConvolutionFwdAlgoPerf_t*> usable;
  for (int i = 0; i < returned; ++i) {
    if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].memory <= kMaxConvWorkspace) usable.push_back(&perf[i]);
  }
  if (args.candidates) {
    for (const auto* p : usable) {
      KernelTactic tactic = conv_tactic(p->algo, tensor_ops ? p->mathType : CUDNN_FMA_MATH);
      if (std::find(args.candidates->begin(), args.candidates->end(), tactic) == args.candidates->end()) {
        args.candidates->push_back(std::move(tactic));
      }
    }
  }
  cudnnMathType_t initial_math = CUDNN_DEFAULT_MATH;
  KILN_CUDNN_CHECK(cudnnGetConvolutionMathType(d.conv, &initial_math));
  if (auto requested = requested_tactic(args, dtype)) {
    cudnnConvolutionFwdAlgo_t algorithm;
    cudnnMathType_t math;
    std::string why;
    if (!parse_conv_tactic(requested->tactic.id, &algorithm, &math)) {
      why = "is not a cuDNN convolution tactic";
    } else if (!tensor_ops && is_tensor_op_math(math)) {
      why = "uses tensor-op math, which " + std::string(dtype_name(dtype)) + " without TF32 does not allow";
    } else {
      size_t workspace = 0;
      cudnnStatus_t status = cudnnSetConvolutionMathType(d.conv, tensor_ops ? math : CUDNN_FMA_MATH);
      if (status == CUDNN_STATUS_SUCCESS) {
        status = cudnnGetConvolutionForwardWorkspaceSize(cudnn, d.x, d.w, d.conv, d.y, algorithm, &workspace);
      }
      if (status != CUDNN_STATUS_SUCCESS) {
        why = std::string("is not supported for input ") + dims_to_string(args.inputs[0].dims) + " (" +
              cudnnGetErrorString(status) + ")";
      } else if (workspace > kMaxConvWorkspace) {
        why = "needs " + std::to_string(workspace) + " bytes of workspace, more than the limit of " +
              std::to_string(kMaxConvWorkspace);
      } else {
        return ConvAlgorithm{algorithm, workspace};
      }
    }
    KILN_RETURN_IF_ERROR(reject_tactic(node, *requested, why));
    KILN_CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv, initial_math));
  }
  if (usable.empty()) {
    return unimplemented(node.describe() + ": cuDNN offers no convolution algorithm for input " +
                         dims_to_string(args.inputs[0].dims) + " and weight " + dims_to_string(args.inputs[1].dims));
  }
  ConvAlgorithm chosen{usable.front()->algo, 0};
  if (tensor_ops) KILN_CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv, usable.front()->mathType));
  KILN_CUDNN_CHECK(cudnnGetConvolutionForwardWorkspaceSize(cudnn, d.x, d.w, d.conv, d.y, chosen.algorithm,
                                                           &chosen.workspace));
  return chosen;
}

}  // namespace kiln::cuda
