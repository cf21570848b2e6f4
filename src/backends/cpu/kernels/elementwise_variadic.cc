// Sum, Mean, Max and Min over any number of inputs broadcast together.
#include <cmath>
#include <limits>

#include "backends/cpu/kernels/elementwise_common.h"

namespace kiln::cpu {
namespace {

enum class Fold { kSum, kMean, kMax, kMin };

// NaN wins in Max and Min, as in numpy's maximum/minimum.
template <typename C>
C fold_pair(Fold fold, C acc, C x) {
  if constexpr (std::is_floating_point_v<C>) {
    if ((fold == Fold::kMax || fold == Fold::kMin) && (std::isnan(acc) || std::isnan(x))) {
      return std::numeric_limits<C>::quiet_NaN();
    }
  }
  switch (fold) {
    case Fold::kSum:
    case Fold::kMean: return static_cast<C>(acc + x);
    case Fold::kMax: return x > acc ? x : acc;
    case Fold::kMin: return x < acc ? x : acc;
  }
  return acc;
}

// The output starts as input 0 broadcast to the full shape, then each further
// input is folded into it in place (the output never aliases an input).
Status run_fold(KernelArgs& args, Fold fold) {
  const size_t n = args.inputs.size();
  const DataType dtype = args.input(0).dtype();
  std::vector<Dims> dims;
  for (size_t i = 0; i < n; ++i) {
    if (!args.has_input(i)) return invalid_argument(args.node.describe() + ": input " + std::to_string(i) + " is missing");
    if (args.input(i).dtype() != dtype) {
      return invalid_argument(args.node.describe() + ": input " + std::to_string(i) + " is " +
                              dtype_name(args.input(i).dtype()) + ", input 0 is " + dtype_name(dtype));
    }
    dims.push_back(args.input(i).dims());
  }
  KILN_ASSIGN_OR_RETURN(BroadcastPlan all, make_broadcast_plan(dims));
  Tensor& out = prepare_output(args, 0, dtype, all.output_dims);
  const bool handled = dispatch_numeric(dtype, [&]<typename T>() {
    T* o = out.data<T>();
    for (size_t i = 0; i < n; ++i) {
      const Tensor& in = args.input(i);
      auto plan = make_broadcast_plan({all.output_dims, in.dims()});
      if (i == 0) {
        // Plain broadcast copy: the output is not read, only written.
        const T* src = in.data<T>();
        const int64_t step = plan->inner_strides[1];
        for_each_broadcast_row<2>(*plan, [&](int64_t at, const std::array<int64_t, 2>& off, int64_t count) {
          for (int64_t k = 0; k < count; ++k) o[at + k] = src[off[1] + k * step];
        });
      } else {
        broadcast_binary(*plan, o, in.data<T>(), o,
                         [fold](T acc, T x) { return narrow<T>(fold_pair(fold, widen(acc), widen(x))); });
      }
    }
    if (fold == Fold::kMean) {
      const double count = static_cast<double>(n);
      map_elements(o, o, out.element_count(), [count](T v) {
        if constexpr (std::is_integral_v<T>) return static_cast<T>(v / static_cast<T>(count));
        else return narrow<T>(widen(v) / static_cast<ComputeType<T>>(count));
      });
    }
  });
  return handled ? ok_status() : unsupported_dtype(args.node, dtype);
}

}  // namespace

void register_elementwise_variadic_kernels(KernelTable& table) {
  table.add("Sum", {{}, [](KernelArgs& a) { return run_fold(a, Fold::kSum); }});
  table.add("Mean", {{}, [](KernelArgs& a) { return run_fold(a, Fold::kMean); }});
  table.add("Max", {{}, [](KernelArgs& a) { return run_fold(a, Fold::kMax); }});
  table.add("Min", {{}, [](KernelArgs& a) { return run_fold(a, Fold::kMin); }});
}

}  // namespace kiln::cpu
