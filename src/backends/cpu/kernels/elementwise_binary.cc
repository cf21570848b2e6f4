// Broadcasting two-input kernels: arithmetic, Pow, Mod, bit operations,
// comparisons, logic and PRelu.
#include <cmath>
#include <limits>

#include "backends/cpu/kernels/elementwise_common.h"

namespace kiln::cpu {
namespace {

Status check_same_type(const KernelArgs& args) {
  if (args.input(0).dtype() != args.input(1).dtype()) {
    return invalid_argument(args.node.describe() + ": inputs are " + dtype_name(args.input(0).dtype()) + " and " +
                            dtype_name(args.input(1).dtype()) + ", expected one type");
  }
  return ok_status();
}

// out = op(a, b) in the inputs' type; `Dispatch` picks the accepted types.
// `op` is generic over the compute type so one lambda serves every dtype.
template <typename Dispatch, typename Op>
Status run_same_type(KernelArgs& args, Dispatch dispatch, Op op) {
  KILN_RETURN_IF_ERROR(check_same_type(args));
  const Tensor& a = args.input(0);
  const Tensor& b = args.input(1);
  KILN_ASSIGN_OR_RETURN(BroadcastPlan plan, plan_for_inputs(args));
  Tensor& out = prepare_output(args, 0, a.dtype(), plan.output_dims);
  const bool handled = dispatch(a.dtype(), [&]<typename T>() {
    broadcast_binary(plan, a.data<T>(), b.data<T>(), out.data<T>(),
                     [&](T x, T y) { return narrow<T>(op(widen(x), widen(y))); });
  });
  return handled ? ok_status() : unsupported_dtype(args.node, a.dtype());
}

template <typename Op>
CpuKernel arithmetic_kernel(Op op) {
  return {{}, [op](KernelArgs& args) {
            return run_same_type(args, [](DataType t, auto&& fn) { return dispatch_numeric(t, fn); }, op);
          }};
}

// Integer division truncates toward zero like C; division by zero gives 0
// instead of a trap, and MIN / -1 wraps.
template <typename T>
T divide(T x, T y) {
  if constexpr (std::is_integral_v<T>) {
    if (y == 0) return 0;
    if constexpr (std::is_signed_v<T>) {
      if (y == -1) return static_cast<T>(0 - static_cast<std::make_unsigned_t<T>>(x));
    }
    return static_cast<T>(x / y);
  } else {
    return x / y;
  }
}

// fmod = 1: the result has the dividend's sign (C fmod / %). fmod = 0: the
// divisor's sign (Python %).
template <typename T>
T modulo(T x, T y, bool c_style) {
  T r;
  if constexpr (std::is_integral_v<T>) {
    if (y == 0) return 0;
    if constexpr (std::is_signed_v<T>) {
      if (y == -1) return 0;
    }
    r = static_cast<T>(x % y);
  } else {
    r = std::fmod(x, y);
  }
  if (!c_style && r != 0 && ((r < 0) != (y < 0))) r = static_cast<T>(r + y);
  return r;
}

Status run_mod(KernelArgs& args) {
  const bool c_style = args.node.attr_int("fmod", 0) != 0;
  return run_same_type(args, [](DataType t, auto&& fn) { return dispatch_numeric(t, fn); },
                       [c_style](auto x, auto y) { return modulo(x, y, c_style); });
}

// Shift amounts are read as unsigned; shifts by the type's width or more (C++
// leaves them undefined) give 0, or -1 for a right shift of a negative value.
Status run_bit_shift(KernelArgs& args) {
  const std::string direction = args.node.attr_string("direction", "");
  if (direction != "LEFT" && direction != "RIGHT") {
    return invalid_argument(args.node.describe() + ": direction '" + direction + "' is not LEFT or RIGHT");
  }
  const bool left = direction == "LEFT";
  return run_same_type(args, [](DataType t, auto&& fn) { return dispatch_integer(t, fn); },
                       [left](auto x, auto y) -> decltype(x) {
                         using T = decltype(x);
                         using U = std::make_unsigned_t<T>;
                         const U bits = static_cast<U>(y);
                         if (bits >= sizeof(T) * 8) {
                           // Shifting right by the width or more leaves only copies of the sign bit.
                           if constexpr (std::is_signed_v<T>) return !left && x < 0 ? T(-1) : T(0);
                           else return 0;
                         }
                         if (left) return static_cast<T>(static_cast<U>(x) << bits);
                         return static_cast<T>(x >> bits);
                       });
}

template <typename Op>
CpuKernel bitwise_kernel(Op op) {
  return {{}, [op](KernelArgs& args) {
            return run_same_type(args, [](DataType t, auto&& fn) { return dispatch_integer(t, fn); }, op);
          }};
}

// Integer power by squaring, wrapping like the element type.
template <typename T>
T integer_power(T base, int64_t exponent) {
  using U = std::conditional_t<std::is_signed_v<T>, int64_t, uint64_t>;
  U result = 1, b = static_cast<U>(base);
  while (exponent > 0) {
    if (exponent & 1) result = static_cast<U>(static_cast<uint64_t>(result) * static_cast<uint64_t>(b));
    b = static_cast<U>(static_cast<uint64_t>(b) * static_cast<uint64_t>(b));
    exponent >>= 1;
  }
  return static_cast<T>(result);
}

// Pow's exponent may have another type than the base; the output has the base's.
// The exponent is read as double, which holds every exponent that makes sense.
Status run_pow(KernelArgs& args) {
  const Tensor& base = args.input(0);
  const Tensor* exponent = &args.input(1);
  Tensor exponent_as_double;
  if (exponent->dtype() != DataType::kFloat64) {
    KILN_ASSIGN_OR_RETURN(exponent_as_double, cast_tensor(*exponent, DataType::kFloat64));
    exponent = &exponent_as_double;
  }
  KILN_ASSIGN_OR_RETURN(BroadcastPlan plan, plan_for_inputs(args));
  Tensor& out = prepare_output(args, 0, base.dtype(), plan.output_dims);
  const bool handled = dispatch_numeric(base.dtype(), [&]<typename T>() {
    broadcast_binary(plan, base.data<T>(), exponent->data<double>(), out.data<T>(), [](T x, double e) {
      if constexpr (std::is_integral_v<T>) {
        if (e >= 0 && e == std::floor(e) && e < 1e18) return integer_power(x, static_cast<int64_t>(e));
        return convert_element<T>(std::pow(static_cast<double>(x), e));
      } else if constexpr (std::is_same_v<T, double>) {
        return std::pow(x, e);
      } else {
        return narrow<T>(std::pow(static_cast<double>(widen(x)), e));
      }
    });
  });
  return handled ? ok_status() : unsupported_dtype(args.node, base.dtype());
}

// Comparisons read any type (strings for Equal) and write bool.
template <typename Op>
CpuKernel comparison_kernel(Op op, bool strings_allowed) {
  return {{}, [op, strings_allowed](KernelArgs& args) -> Status {
            KILN_RETURN_IF_ERROR(check_same_type(args));
            const Tensor& a = args.input(0);
            const Tensor& b = args.input(1);
            KILN_ASSIGN_OR_RETURN(BroadcastPlan plan, plan_for_inputs(args));
            Tensor& out = prepare_output(args, 0, DataType::kBool, plan.output_dims);
            if (a.dtype() == DataType::kString && strings_allowed) {
              broadcast_binary(plan, a.string_data().data(), b.string_data().data(), out.data<bool>(),
                               [&](const std::string& x, const std::string& y) { return static_cast<bool>(op(x, y)); });
              return ok_status();
            }
            const bool handled = dispatch_all_numeric(a.dtype(), [&]<typename T>() {
              broadcast_binary(plan, a.data<T>(), b.data<T>(), out.data<bool>(),
                               [&](T x, T y) { return static_cast<bool>(op(widen(x), widen(y))); });
            });
            return handled ? ok_status() : unsupported_dtype(args.node, a.dtype());
          }};
}

template <typename Op>
CpuKernel logic_kernel(Op op) {
  return {{}, [op](KernelArgs& args) -> Status {
            for (size_t i = 0; i < 2; ++i) {
              if (args.input(i).dtype() != DataType::kBool) return unsupported_dtype(args.node, args.input(i).dtype());
            }
            KILN_ASSIGN_OR_RETURN(BroadcastPlan plan, plan_for_inputs(args));
            Tensor& out = prepare_output(args, 0, DataType::kBool, plan.output_dims);
            broadcast_binary(plan, args.input(0).data<bool>(), args.input(1).data<bool>(), out.data<bool>(),
                             [&](bool x, bool y) { return static_cast<bool>(op(x, y)); });
            return ok_status();
          }};
}

// PRelu: the slope broadcasts to X, and the output keeps X's shape.
Status run_prelu(KernelArgs& args) {
  KILN_RETURN_IF_ERROR(check_same_type(args));
  const Tensor& x = args.input(0);
  const Tensor& slope = args.input(1);
  // Before opset 7 a one-dimensional slope holds one value per channel (axis 1).
  Dims slope_dims = slope.dims();
  if (args.node.opset < 7 && slope_dims.size() == 1 && x.rank() >= 2 && slope_dims[0] == x.dim(1)) {
    slope_dims.resize(x.rank() - 1, 1);
  }
  KILN_ASSIGN_OR_RETURN(BroadcastPlan plan, make_broadcast_plan({x.dims(), slope_dims}));
  if (plan.output_dims != x.dims()) {
    return invalid_argument(args.node.describe() + ": slope " + dims_to_string(slope.dims()) +
                            " does not broadcast to X " + dims_to_string(x.dims()));
  }
  Tensor& out = prepare_output(args, 0, x.dtype(), x.dims());
  const bool handled = dispatch_numeric(x.dtype(), [&]<typename T>() {
    broadcast_binary(plan, x.data<T>(), slope.data<T>(), out.data<T>(), [](T v, T s) {
      const auto wv = widen(v);
      return wv < 0 ? narrow<T>(widen(s) * wv) : v;
    });
  });
  return handled ? ok_status() : unsupported_dtype(args.node, x.dtype());
}

}  // namespace

void register_elementwise_binary_kernels(KernelTable& table) {
  table.add("Add", arithmetic_kernel([](auto x, auto y) { return x + y; }));
  table.add("Sub", arithmetic_kernel([](auto x, auto y) { return x - y; }));
  table.add("Mul", arithmetic_kernel([](auto x, auto y) { return x * y; }));
  table.add("Div", arithmetic_kernel([](auto x, auto y) { return divide(x, y); }));
  table.add("Pow", {{}, run_pow});
  table.add("Mod", {{}, run_mod});
  table.add("BitShift", {{}, run_bit_shift});
  table.add("BitwiseAnd", bitwise_kernel([](auto x, auto y) { return x & y; }));
  table.add("BitwiseOr", bitwise_kernel([](auto x, auto y) { return x | y; }));
  table.add("BitwiseXor", bitwise_kernel([](auto x, auto y) { return x ^ y; }));
  table.add("Equal", comparison_kernel([](const auto& x, const auto& y) { return x == y; }, true));
  table.add("Greater", comparison_kernel([](const auto& x, const auto& y) { return x > y; }, false));
  table.add("GreaterOrEqual", comparison_kernel([](const auto& x, const auto& y) { return x >= y; }, false));
  table.add("Less", comparison_kernel([](const auto& x, const auto& y) { return x < y; }, false));
  table.add("LessOrEqual", comparison_kernel([](const auto& x, const auto& y) { return x <= y; }, false));
  table.add("And", logic_kernel([](bool x, bool y) { return x && y; }));
  table.add("Or", logic_kernel([](bool x, bool y) { return x || y; }));
  table.add("Xor", logic_kernel([](bool x, bool y) { return x != y; }));
  table.add("PRelu", {{}, run_prelu});
}

}  // namespace kiln::cpu
