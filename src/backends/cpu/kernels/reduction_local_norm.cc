// LRN (normalisation across neighbouring channels) and
// MeanVarianceNormalization (zero mean, unit variance over given axes).
#include <algorithm>
#include <cmath>
#include <vector>

#include "backends/cpu/kernels/reduction_iteration.h"
#include "backends/cpu/kernels/reduction_kernels.h"
#include "core/dispatch.h"
#include "ir/ops/reduction_axes.h"

namespace kiln::cpu {
namespace {

Status float_input(const Node& node, const std::vector<TensorInfo>& inputs) {
  if (!dtype_is_float(inputs[0].dtype)) return unsupported_dtype(node, inputs[0].dtype);
  return ok_status();
}

Status run_lrn(KernelArgs& args) {
  const Node& node = args.node;
  const Tensor& x = args.input(0);
  if (x.rank() < 2) {
    return invalid_argument(node.describe() + ": input must be N x C x ..., got shape " + dims_to_string(x.dims()));
  }
  const int64_t size = node.attr_int("size", 0);
  if (size <= 0) return invalid_argument(node.describe() + ": size must be positive, got " + std::to_string(size));
  const double alpha = node.attr_float("alpha", 1e-4);
  const double beta = node.attr_float("beta", 0.75);
  const double bias = node.attr_float("bias", 1.0);
  const int64_t batch = x.dim(0), channels = x.dim(1);
  const int64_t spatial = batch * channels == 0 ? 0 : x.element_count() / (batch * channels);
  // The window covers floor((size-1)/2) channels before and ceil((size-1)/2) after.
  const int64_t before = (size - 1) / 2;
  const int64_t after = size - 1 - before;
  Tensor& y = ensure_output(args, 0, x.dtype(), x.dims());
  const bool handled = dispatch_float(x.dtype(), [&]<typename T>() {
    const T* in = x.data<T>();
    T* out = y.data<T>();
    for (int64_t n = 0; n < batch; ++n) {
      for (int64_t c = 0; c < channels; ++c) {
        const int64_t first = std::max<int64_t>(0, c - before);
        const int64_t last = std::min<int64_t>(channels - 1, c + after);
        for (int64_t i = 0; i < spatial; ++i) {
          double squares = 0;
          for (int64_t k = first; k <= last; ++k) {
            const double v = to_double(in[(n * channels + k) * spatial + i]);
            squares += v * v;
          }
          const int64_t e = (n * channels + c) * spatial + i;
          out[e] = from_double<T>(to_double(in[e]) / std::pow(bias + alpha / size * squares, beta));
        }
      }
    }
  });
  return handled ? ok_status() : unsupported_dtype(node, x.dtype());
}

Status run_mean_variance_norm(KernelArgs& args) {
  const Node& node = args.node;
  const Tensor& x = args.input(0);
  std::vector<int64_t> axes = node.attr_ints("axes", {0, 2, 3});
  if (!node.has_attribute("axes") && node.attr_int("across_channels", 0) != 0) axes = {0, 1, 2, 3};
  KILN_ASSIGN_OR_RETURN(std::vector<bool> reduced, axes_to_flags(axes, static_cast<int64_t>(x.rank()), node));
  const bool normalize_variance = node.attr_int("normalize_variance", 1) != 0;
  // The reference adds this epsilon to the standard deviation.
  constexpr double kEpsilon = 1e-9;
  Dims stats_dims = x.dims();
  for (size_t i = 0; i < stats_dims.size(); ++i) {
    if (reduced[i]) stats_dims[i] = 1;
  }
  const int64_t groups = element_count(stats_dims);
  const int64_t count = groups == 0 ? 0 : x.element_count() / groups;
  Tensor& y = ensure_output(args, 0, x.dtype(), x.dims());
  const bool handled = dispatch_float(x.dtype(), [&]<typename T>() {
    const T* in = x.data<T>();
    T* out = y.data<T>();
    std::vector<double> mean(groups, 0.0), variance(groups, 0.0);
    for_each_with_reduced_index(x.dims(), reduced, [&](int64_t i, int64_t o) { mean[o] += to_double(in[i]); });
    for (double& m : mean) m /= static_cast<double>(count);
    for_each_with_reduced_index(x.dims(), reduced, [&](int64_t i, int64_t o) {
      const double d = to_double(in[i]) - mean[o];
      variance[o] += d * d;
    });
    std::vector<double> divisor(groups, 1.0);
    if (normalize_variance) {
      for (int64_t g = 0; g < groups; ++g) divisor[g] = std::sqrt(variance[g] / count) + kEpsilon;
    }
    for_each_with_reduced_index(x.dims(), reduced, [&](int64_t i, int64_t o) {
      out[i] = from_double<T>((to_double(in[i]) - mean[o]) / divisor[o]);
    });
  });
  return handled ? ok_status() : unsupported_dtype(node, x.dtype());
}

}  // namespace

void register_local_norm_kernels(KernelTable& table) {
  table.add("LRN", {float_input, run_lrn});
  table.add("MeanVarianceNormalization", {float_input, run_mean_variance_norm});
}

}  // namespace kiln::cpu
