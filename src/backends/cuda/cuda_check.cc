#include "backends/cuda/cuda_check.h"

#include <string>

namespace kiln::cuda {
namespace {

std::string where(const char* statement, const char* file, int line) {
  return std::string(statement) + " failed at " + file + ":" + std::to_string(line);
}

}  // namespace

Status cuda_error(cudaError_t error, const char* statement, const char* file, int line) {
  std::string message = where(statement, file, line) + ": " + cudaGetErrorName(error) + " (" +
                        cudaGetErrorString(error) + ")";
  switch (error) {
    case cudaErrorMemoryAllocation: return resource_exhausted(message);
    case cudaErrorNoDevice:
    case cudaErrorInsufficientDriver:
    case cudaErrorDevicesUnavailable: return unavailable(message);
    case cudaErrorInvalidValue: return invalid_argument(message);
    default: return internal_error(message);
  }
}

Status cudnn_error(cudnnStatus_t status, const char* statement, const char* file, int line) {
  std::string message = where(statement, file, line) + ": " + cudnnGetErrorString(status);
  if (status == CUDNN_STATUS_NOT_SUPPORTED) return unimplemented(message);
  if (status == CUDNN_STATUS_ALLOC_FAILED) return resource_exhausted(message);
  if (status == CUDNN_STATUS_BAD_PARAM) return invalid_argument(message);
  return internal_error(message);
}

Status cublas_error(cublasStatus_t status, const char* statement, const char* file, int line) {
  std::string message = where(statement, file, line) + ": " + cublasLtGetStatusName(status) + " (" +
                        cublasLtGetStatusString(status) + ")";
  if (status == CUBLAS_STATUS_NOT_SUPPORTED) return unimplemented(message);
  if (status == CUBLAS_STATUS_ALLOC_FAILED) return resource_exhausted(message);
  if (status == CUBLAS_STATUS_INVALID_VALUE) return invalid_argument(message);
  return internal_error(message);
}

}  // namespace kiln::cuda
