// Softmax, LogSoftmax and Hardmax in both ONNX semantics: before opset 13 the
// input is coerced to 2-D at `axis` (default 1) and normalised per row; from
// opset 13 it is normalised along `axis` alone (default -1).
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "backends/cpu/kernels/reduction_iteration.h"
#include "backends/cpu/kernels/reduction_kernels.h"
#include "core/dispatch.h"

namespace kiln::cpu {
namespace {

enum class SoftmaxKind { kSoftmax, kLogSoftmax, kHardmax };

Expected<AxisSplit> softmax_layout(const Node& node, const Dims& dims) {
  const int64_t rank = static_cast<int64_t>(dims.size());
  if (rank == 0) return AxisSplit{};
  if (node.opset < 13) {
    int64_t axis = node.attr_int("axis", 1);
    if (axis != rank) {
      KILN_ASSIGN_OR_RETURN(axis, normalize_axis(axis, rank, node));
    }
    AxisSplit s;
    for (int64_t i = 0; i < rank; ++i) (i < axis ? s.outer : s.extent) *= dims[i];
    return s;
  }
  KILN_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(node.attr_int("axis", -1), rank, node));
  return split_at_axis(dims, axis);
}

template <SoftmaxKind K, typename T>
void softmax_typed(const T* x, T* y, const AxisSplit& s) {
  // float math for float and half types, double for double.
  using C = std::conditional_t<std::is_same_v<T, double>, double, float>;
  const int64_t slices = s.outer * s.inner;
#pragma omp parallel if (slices * s.extent >= kParallelThreshold && slices > 1)
  {
    std::vector<C> row(static_cast<size_t>(s.extent));
#pragma omp for
    for (int64_t slice = 0; slice < slices; ++slice) {
      const int64_t o = slice / s.inner, in = slice % s.inner;
      const int64_t base = o * s.extent * s.inner + in;
      C max_value = -std::numeric_limits<C>::infinity();
      int64_t max_index = 0;
      for (int64_t k = 0; k < s.extent; ++k) {
        row[k] = static_cast<C>(to_double(x[base + k * s.inner]));
        if (row[k] > max_value) {
          max_value = row[k];
          max_index = k;
        }
      }
      if constexpr (K == SoftmaxKind::kHardmax) {
        for (int64_t k = 0; k < s.extent; ++k) y[base + k * s.inner] = from_double<T>(k == max_index ? 1.0 : 0.0);
      } else {
        double sum = 0;
        for (int64_t k = 0; k < s.extent; ++k) {
          row[k] = std::exp(row[k] - max_value);
          sum += row[k];
        }
        if constexpr (K == SoftmaxKind::kSoftmax) {
          const C scale = static_cast<C>(1.0 / sum);
          for (int64_t k = 0; k < s.extent; ++k) y[base + k * s.inner] = from_double<T>(row[k] * scale);
        } else {
          const double offset = max_value + std::log(sum);
          for (int64_t k = 0; k < s.extent; ++k) {
            y[base + k * s.inner] = from_double<T>(to_double(x[base + k * s.inner]) - offset);
          }
        }
      }
    }
  }
}

template <SoftmaxKind K>
Status run_softmax(KernelArgs& args) {
  const Tensor& input = args.input(0);
  KILN_ASSIGN_OR_RETURN(AxisSplit s, softmax_layout(args.node, input.dims()));
  Tensor& output = ensure_output(args, 0, input.dtype(), input.dims());
  const bool handled = dispatch_float(input.dtype(), [&]<typename T>() {
    softmax_typed<K, T>(input.data<T>(), output.data<T>(), s);
  });
  return handled ? ok_status() : unsupported_dtype(args.node, input.dtype());
}

Status float_input(const Node& node, const std::vector<TensorInfo>& inputs) {
  if (!dtype_is_float(inputs[0].dtype)) return unsupported_dtype(node, inputs[0].dtype);
  return ok_status();
}

}  // namespace

void register_softmax_kernels(KernelTable& table) {
  table.add("Softmax", {float_input, run_softmax<SoftmaxKind::kSoftmax>});
  table.add("LogSoftmax", {float_input, run_softmax<SoftmaxKind::kLogSoftmax>});
  table.add("Hardmax", {float_input, run_softmax<SoftmaxKind::kHardmax>});
}

}  // namespace kiln::cpu
