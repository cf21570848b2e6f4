// Reduce* kernels (sum, mean, max, min, prod, L1, L2, log-sum, log-sum-exp,
// sum of squares) over any set of axes, and ArgMax/ArgMin.
#include <cmath>
#include <limits>
#include <type_traits>

#include "backends/cpu/kernels/reduction_iteration.h"
#include "backends/cpu/kernels/reduction_kernels.h"
#include "core/dispatch.h"
#include "ir/ops/reduction_axes.h"

namespace kiln::cpu {
namespace {

enum class ReduceKind { kSum, kMean, kMax, kMin, kProd, kL1, kL2, kLogSum, kLogSumExp, kSumSquare };

// Integer inputs keep exact int64 accumulation where the result is an integer
// anyway; everything else accumulates in double.
constexpr bool exact_in_integers(ReduceKind kind) {
  return kind == ReduceKind::kSum || kind == ReduceKind::kMean || kind == ReduceKind::kMax ||
         kind == ReduceKind::kMin || kind == ReduceKind::kProd || kind == ReduceKind::kL1 ||
         kind == ReduceKind::kSumSquare;
}

// The identity of each reduction: what an empty reduction produces.
template <typename T, typename Acc>
Acc identity_of(ReduceKind kind) {
  switch (kind) {
    case ReduceKind::kProd: return Acc(1);
    case ReduceKind::kMax:
    case ReduceKind::kLogSumExp:
      if constexpr (std::is_floating_point_v<Acc>) return -std::numeric_limits<Acc>::infinity();
      else return static_cast<Acc>(std::numeric_limits<T>::lowest());
    case ReduceKind::kMin:
      if constexpr (std::is_floating_point_v<Acc>) return std::numeric_limits<Acc>::infinity();
      else return static_cast<Acc>(std::numeric_limits<T>::max());
    default: return Acc(0);
  }
}

template <typename T, typename Acc>
Acc to_accumulator(T v) {
  if constexpr (std::is_floating_point_v<Acc>) return to_double(v);
  else return static_cast<Acc>(v);
}

template <typename T, typename Acc>
T from_accumulator(Acc v) {
  if constexpr (std::is_floating_point_v<Acc>) return from_double<T>(v);
  else return static_cast<T>(v);
}

template <ReduceKind K, typename Acc>
inline void accumulate(Acc& a, Acc v, Acc shift) {
  if constexpr (K == ReduceKind::kSum || K == ReduceKind::kMean || K == ReduceKind::kLogSum) a += v;
  else if constexpr (K == ReduceKind::kL1) a += v < 0 ? -v : v;
  else if constexpr (K == ReduceKind::kL2 || K == ReduceKind::kSumSquare) a += v * v;
  else if constexpr (K == ReduceKind::kProd) a *= v;
  else if constexpr (K == ReduceKind::kMax) {
    if constexpr (std::is_floating_point_v<Acc>) {
      if (v > a || std::isnan(v)) a = v;
    } else if (v > a) a = v;
  } else if constexpr (K == ReduceKind::kMin) {
    if constexpr (std::is_floating_point_v<Acc>) {
      if (v < a || std::isnan(v)) a = v;
    } else if (v < a) a = v;
  } else if constexpr (K == ReduceKind::kLogSumExp) {
    if (std::isfinite(shift)) a += std::exp(v - shift);
  }
}

template <ReduceKind K, typename Acc>
inline Acc finish(Acc a, Acc shift, int64_t count) {
  if constexpr (K == ReduceKind::kMean) {
    if constexpr (std::is_floating_point_v<Acc>) return a / static_cast<Acc>(count);
    else return count == 0 ? Acc(0) : a / count;
  } else if constexpr (K == ReduceKind::kL2) {
    return std::sqrt(a);
  } else if constexpr (K == ReduceKind::kLogSum) {
    return std::log(a);
  } else if constexpr (K == ReduceKind::kLogSumExp) {
    return std::isfinite(shift) ? shift + std::log(a) : shift;
  } else {
    return a;
  }
}

template <typename T, typename Acc, ReduceKind K>
void reduce_with(const Tensor& input, const std::vector<bool>& reduced, Tensor& output) {
  const T* x = input.data<T>();
  T* y = output.data<T>();
  const int64_t out_count = output.element_count();
  const int64_t reduced_count = out_count == 0 ? 0 : input.element_count() / out_count;
  std::vector<Acc> shift;
  if constexpr (K == ReduceKind::kLogSumExp) {
    // Subtract each slice's maximum before exponentiating so large inputs do not overflow.
    shift.assign(out_count, identity_of<T, Acc>(ReduceKind::kMax));
    for_each_with_reduced_index(input.dims(), reduced, [&](int64_t i, int64_t o) {
      accumulate<ReduceKind::kMax, Acc>(shift[o], to_accumulator<T, Acc>(x[i]), Acc(0));
    });
  }
  std::vector<Acc> acc(out_count, K == ReduceKind::kLogSumExp ? Acc(0) : identity_of<T, Acc>(K));
  for_each_with_reduced_index(input.dims(), reduced, [&](int64_t i, int64_t o) {
    accumulate<K, Acc>(acc[o], to_accumulator<T, Acc>(x[i]), shift.empty() ? Acc(0) : shift[o]);
  });
  for (int64_t o = 0; o < out_count; ++o) {
    y[o] = from_accumulator<T, Acc>(finish<K, Acc>(acc[o], shift.empty() ? Acc(0) : shift[o], reduced_count));
  }
}

template <typename T, ReduceKind K>
void reduce_typed(const Tensor& input, const std::vector<bool>& reduced, Tensor& output) {
  if constexpr (std::is_integral_v<T> && exact_in_integers(K)) {
    reduce_with<T, int64_t, K>(input, reduced, output);
  } else {
    reduce_with<T, double, K>(input, reduced, output);
  }
}

template <ReduceKind K>
Status run_reduce(KernelArgs& args) {
  const Tensor& input = args.input(0);
  const int64_t rank = static_cast<int64_t>(input.rank());
  const Tensor* axes_value = args.has_input(1) ? args.inputs[1] : nullptr;
  KILN_ASSIGN_OR_RETURN(ReduceAxes axes, resolve_reduce_axes(args.node, args.has_input(1), axes_value, rank));
  const bool keepdims = args.node.attr_int("keepdims", 1) != 0;
  Tensor& output = ensure_output(args, 0, input.dtype(), reduce_output_dims(input.dims(), axes, keepdims));
  // With noop_with_empty_axes every element is reduced on its own: the
  // output keeps the input's shape, and ops with an element-wise part apply it
  // (ReduceSumSquare squares, ReduceLogSum takes the log), as the ONNX
  // reference does. axes.reduced is all false in that case.
  const bool handled = dispatch_all_numeric(input.dtype(), [&]<typename T>() {
    reduce_typed<T, K>(input, axes.reduced, output);
  });
  return handled ? ok_status() : unsupported_dtype(args.node, input.dtype());
}

template <bool kMax>
Status run_arg_reduce(KernelArgs& args) {
  const Tensor& input = args.input(0);
  const int64_t rank = static_cast<int64_t>(input.rank());
  KILN_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(args.node.attr_int("axis", 0), rank, args.node));
  const bool keepdims = args.node.attr_int("keepdims", 1) != 0;
  const bool last = args.node.attr_int("select_last_index", 0) != 0;
  Dims out_dims;
  for (int64_t i = 0; i < rank; ++i) {
    if (i != axis) out_dims.push_back(input.dim(i));
    else if (keepdims) out_dims.push_back(1);
  }
  Tensor& output = ensure_output(args, 0, DataType::kInt64, out_dims);
  const AxisSplit s = split_at_axis(input.dims(), axis);
  if (s.extent == 0 && output.element_count() > 0) {
    return invalid_argument(args.node.describe() + ": cannot take the arg-extreme over an empty axis (shape " +
                            dims_to_string(input.dims()) + ")");
  }
  int64_t* y = output.data<int64_t>();
  const bool handled = dispatch_all_numeric(input.dtype(), [&]<typename T>() {
    const T* x = input.data<T>();
    for (int64_t o = 0; o < s.outer; ++o) {
      for (int64_t in = 0; in < s.inner; ++in) {
        const T* base = x + o * s.extent * s.inner + in;
        int64_t best = 0;
        double best_value = to_double(base[0]);
        for (int64_t k = 1; k < s.extent; ++k) {
          const double v = to_double(base[k * s.inner]);
          const bool better = kMax ? (last ? v >= best_value : v > best_value)
                                   : (last ? v <= best_value : v < best_value);
          if (better) {
            best = k;
            best_value = v;
          }
        }
        y[o * s.inner + in] = best;
      }
    }
  });
  return handled ? ok_status() : unsupported_dtype(args.node, input.dtype());
}

}  // namespace

void register_reduce_kernels(KernelTable& table) {
  table.add("ReduceSum", {nullptr, run_reduce<ReduceKind::kSum>});
  table.add("ReduceMean", {nullptr, run_reduce<ReduceKind::kMean>});
  table.add("ReduceMax", {nullptr, run_reduce<ReduceKind::kMax>});
  table.add("ReduceMin", {nullptr, run_reduce<ReduceKind::kMin>});
  table.add("ReduceProd", {nullptr, run_reduce<ReduceKind::kProd>});
  table.add("ReduceL1", {nullptr, run_reduce<ReduceKind::kL1>});
  table.add("ReduceL2", {nullptr, run_reduce<ReduceKind::kL2>});
  table.add("ReduceLogSum", {nullptr, run_reduce<ReduceKind::kLogSum>});
  table.add("ReduceLogSumExp", {nullptr, run_reduce<ReduceKind::kLogSumExp>});
  table.add("ReduceSumSquare", {nullptr, run_reduce<ReduceKind::kSumSquare>});
  table.add("ArgMax", {nullptr, run_arg_reduce<true>});
  table.add("ArgMin", {nullptr, run_arg_reduce<false>});
}

}  // namespace kiln::cpu
