#include "runtime/backend.h"

namespace kiln {

#if KILN_WITH_CUDA
const Backend* cuda_backend_or_null(Status* why);
#endif

Expected<const Backend*> get_backend(BackendKind kind) {
  if (kind == BackendKind::kCpu) return cpu_backend();
#if KILN_WITH_CUDA
  Status why;
  if (const Backend* b = cuda_backend_or_null(&why)) return b;
  return why;
#else
  return unavailable("this build of Kiln has no CUDA backend (configure with -DKILN_WITH_CUDA=ON)");
#endif
}

}  // namespace kiln
