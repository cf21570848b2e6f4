// LpNormalization: x / ||x||_p along one axis (p = 1 or 2).
#include <cmath>

#include "backends/cpu/kernels/misc_kernels.h"
#include "core/dispatch.h"

namespace kiln::cpu {
namespace {

Status run_lp_normalization(KernelArgs& args) {
  const Tensor& x = args.input(0);
  Tensor& y = args.output(0);
  const int64_t rank = static_cast<int64_t>(x.rank());
  KILN_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(args.node.attr_int("axis", -1), rank, args.node));
  const int64_t p = args.node.attr_int("p", 2);
  int64_t outer = 1, inner = 1;
  for (int64_t a = 0; a < axis; ++a) outer *= x.dim(static_cast<size_t>(a));
  for (int64_t a = axis + 1; a < rank; ++a) inner *= x.dim(static_cast<size_t>(a));
  const int64_t n = x.dim(static_cast<size_t>(axis));
  bool ok = dispatch_float(x.dtype(), [&]<typename T>() {
    const T* src = x.data<T>();
    T* dst = y.data<T>();
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t i = 0; i < inner; ++i) {
        const int64_t base = o * n * inner + i;
        double norm = 0;
        for (int64_t k = 0; k < n; ++k) {
          double v = to_double(src[base + k * inner]);
          norm += p == 1 ? std::fabs(v) : v * v;
        }
        if (p == 2) norm = std::sqrt(norm);
        for (int64_t k = 0; k < n; ++k) {
          double v = to_double(src[base + k * inner]);
          dst[base + k * inner] = from_double<T>(norm == 0 ? 0.0 : v / norm);
        }
      }
    }
  });
  if (!ok) return unsupported_dtype(args.node, x.dtype());
  return ok_status();
}

}  // namespace

void register_lp_normalization_kernel(KernelTable& table) {
  table.add("LpNormalization", CpuKernel{nullptr, run_lp_normalization});
}

}  // namespace kiln::cpu
