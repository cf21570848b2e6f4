// The one place where CUDA, cuDNN and cuBLASLt error codes become kiln::Status
// values. Every runtime call, library call and kernel launch in the backend goes
// through these macros so a failure names the statement, the file and the line.
// Private to the backend: includes CUDA headers (public headers must not).
#pragma once

#include <cublasLt.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include "kiln/status.h"

namespace kiln::cuda {

Status cuda_error(cudaError_t error, const char* statement, const char* file, int line);
Status cudnn_error(cudnnStatus_t status, const char* statement, const char* file, int line);
Status cublas_error(cublasStatus_t status, const char* statement, const char* file, int line);

}  // namespace kiln::cuda

// Evaluates a cudaError_t expression; returns a Status from the enclosing function on failure.
#define KILN_CUDA_CHECK(statement)                                                        \
  do {                                                                                    \
    cudaError_t kiln_cuda_error_ = (statement);                                           \
    if (kiln_cuda_error_ != cudaSuccess) {                                                \
      return ::kiln::cuda::cuda_error(kiln_cuda_error_, #statement, __FILE__, __LINE__);   \
    }                                                                                     \
  } while (0)

#define KILN_CUDNN_CHECK(statement)                                                       \
  do {                                                                                    \
    cudnnStatus_t kiln_cudnn_status_ = (statement);                                       \
    if (kiln_cudnn_status_ != CUDNN_STATUS_SUCCESS) {                                     \
      return ::kiln::cuda::cudnn_error(kiln_cudnn_status_, #statement, __FILE__, __LINE__); \
    }                                                                                     \
  } while (0)

#define KILN_CUBLAS_CHECK(statement)                                                        \
  do {                                                                                      \
    cublasStatus_t kiln_cublas_status_ = (statement);                                       \
    if (kiln_cublas_status_ != CUBLAS_STATUS_SUCCESS) {                                     \
      return ::kiln::cuda::cublas_error(kiln_cublas_status_, #statement, __FILE__, __LINE__); \
    }                                                                                       \
  } while (0)

// For launchers in .cu files, which return cudaGetLastError() right after the
// launch: KILN_CUDA_CHECK_LAUNCH(launch_copy(...)) names the launcher call.
#define KILN_CUDA_CHECK_LAUNCH(launcher_call) KILN_CUDA_CHECK(launcher_call)
