// TopK: the k largest (or smallest) elements along an axis with their indices.
// Equal values keep index order (the smaller index first), so results are
// deterministic.
#include <algorithm>
#include <cmath>
#include <vector>

#include "backends/cpu/kernels/reduction_iteration.h"
#include "backends/cpu/kernels/reduction_kernels.h"
#include "core/dispatch.h"

namespace kiln::cpu {
namespace {

Expected<int64_t> topk_k(const KernelArgs& args) {
  if (args.has_input(1)) {
    const Tensor& k = args.input(1);
    if (k.element_count() != 1) {
      return invalid_argument(args.node.describe() + ": K must hold one value, got shape " +
                              dims_to_string(k.dims()));
    }
    return k.scalar_as_int64();
  }
  if (!args.node.has_attribute("k")) {
    return invalid_argument(args.node.describe() + ": TopK needs K as input 1 or the attribute k");
  }
  return args.node.attr_int("k", 0);
}

Status run_topk(KernelArgs& args) {
  const Tensor& input = args.input(0);
  const int64_t rank = static_cast<int64_t>(input.rank());
  KILN_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(args.node.attr_int("axis", -1), rank, args.node));
  KILN_ASSIGN_OR_RETURN(int64_t k, topk_k(args));
  const AxisSplit s = split_at_axis(input.dims(), axis);
  if (k < 0 || k > s.extent) {
    return invalid_argument(args.node.describe() + ": k = " + std::to_string(k) + " is outside [0, " +
                            std::to_string(s.extent) + "] for input shape " + dims_to_string(input.dims()));
  }
  const bool largest = args.node.attr_int("largest", 1) != 0;
  Dims out_dims = input.dims();
  out_dims[axis] = k;
  Tensor& values = ensure_output(args, 0, input.dtype(), out_dims);
  Tensor& indices = ensure_output(args, 1, DataType::kInt64, out_dims);
  int64_t* index_out = indices.data<int64_t>();
  // Results are always sorted: that satisfies sorted = 0 too.
  const bool handled = dispatch_all_numeric(input.dtype(), [&]<typename T>() {
    const T* x = input.data<T>();
    T* value_out = values.data<T>();
    std::vector<std::pair<double, int64_t>> slice(static_cast<size_t>(s.extent));
    // NaN counts as larger than every number, so the order stays a strict
    // weak ordering whatever the data.
    auto before = [largest](const std::pair<double, int64_t>& a, const std::pair<double, int64_t>& b) {
      const bool a_nan = std::isnan(a.first), b_nan = std::isnan(b.first);
      if (a_nan != b_nan) return largest ? a_nan : b_nan;
      if (!a_nan && a.first != b.first) return largest ? a.first > b.first : a.first < b.first;
      return a.second < b.second;
    };
    for (int64_t o = 0; o < s.outer; ++o) {
      for (int64_t in = 0; in < s.inner; ++in) {
        const int64_t base = o * s.extent * s.inner + in;
        for (int64_t j = 0; j < s.extent; ++j) slice[j] = {to_double(x[base + j * s.inner]), j};
        std::partial_sort(slice.begin(), slice.begin() + k, slice.end(), before);
        const int64_t out_base = o * k * s.inner + in;
        for (int64_t j = 0; j < k; ++j) {
          value_out[out_base + j * s.inner] = x[base + slice[j].second * s.inner];
          index_out[out_base + j * s.inner] = slice[j].second;
        }
      }
    }
  });
  return handled ? ok_status() : unsupported_dtype(args.node, input.dtype());
}

}  // namespace

void register_topk_kernels(KernelTable& table) { table.add("TopK", {nullptr, run_topk}); }

}  // namespace kiln::cpu
