// Entry point of the CUDA backend for the backend registry.
#include "runtime/backend.h"

namespace kiln {

const Backend* cuda_backend_or_null(Status* why) {
  *why = unimplemented("the CUDA backend has no kernels in this build yet; use --backend cpu");
  return nullptr;
}

}  // namespace kiln
