// Det: determinants of the square matrices in the last two axes, by LU
// decomposition with partial pivoting in double.
#include <cmath>
#include <utility>
#include <vector>

#include "backends/cpu/kernels/reduction_iteration.h"
#include "backends/cpu/kernels/reduction_kernels.h"
#include "core/dispatch.h"

namespace kiln::cpu {
namespace {

double determinant(std::vector<double>& a, int64_t n) {
  double det = 1.0;
  for (int64_t col = 0; col < n; ++col) {
    int64_t pivot = col;
    for (int64_t r = col + 1; r < n; ++r) {
      if (std::fabs(a[r * n + col]) > std::fabs(a[pivot * n + col])) pivot = r;
    }
    if (a[pivot * n + col] == 0.0) return 0.0;
    if (pivot != col) {
      for (int64_t c = 0; c < n; ++c) std::swap(a[pivot * n + c], a[col * n + c]);
      det = -det;
    }
    const double p = a[col * n + col];
    det *= p;
    for (int64_t r = col + 1; r < n; ++r) {
      const double factor = a[r * n + col] / p;
      for (int64_t c = col + 1; c < n; ++c) a[r * n + c] -= factor * a[col * n + c];
    }
  }
  return det;
}

Status run_det(KernelArgs& args) {
  const Tensor& x = args.input(0);
  const size_t rank = x.rank();
  if (rank < 2 || x.dim(rank - 1) != x.dim(rank - 2)) {
    return invalid_argument(args.node.describe() + ": Det needs square matrices in the last two axes, got shape " +
                            dims_to_string(x.dims()));
  }
  const int64_t n = x.dim(rank - 1);
  const Dims out_dims(x.dims().begin(), x.dims().end() - 2);
  Tensor& y = ensure_output(args, 0, x.dtype(), out_dims);
  const int64_t matrices = element_count(out_dims);
  const bool handled = dispatch_float(x.dtype(), [&]<typename T>() {
    const T* in = x.data<T>();
    T* out = y.data<T>();
    std::vector<double> a(static_cast<size_t>(n * n));
    for (int64_t m = 0; m < matrices; ++m) {
      for (int64_t i = 0; i < n * n; ++i) a[i] = to_double(in[m * n * n + i]);
      out[m] = from_double<T>(determinant(a, n));
    }
  });
  return handled ? ok_status() : unsupported_dtype(args.node, x.dtype());
}

}  // namespace

void register_det_kernels(KernelTable& table) { table.add("Det", {nullptr, run_det}); }

}  // namespace kiln::cpu
