// Unary math kernels: Abs, Neg, Sqrt, Exp, Log, rounding, trigonometry, Erf,
// Sign, IsNaN, IsInf, Not and BitwiseNot.
#include <cmath>

#include "backends/cpu/kernels/elementwise_unary.h"

namespace kiln::cpu {
namespace {

template <typename C>
C absolute(C x) {
  if constexpr (std::is_unsigned_v<C>) return x;
  else return x < 0 ? static_cast<C>(-x) : x;
}

template <typename C>
C sign_of(C x) {
  if constexpr (std::is_floating_point_v<C>) {
    if (std::isnan(x)) return x;
  }
  return x > 0 ? C(1) : (x < 0 ? static_cast<C>(-1) : C(0));
}

// Float in, bool out (IsNaN, IsInf).
template <typename Predicate>
CpuKernel float_predicate_kernel(Predicate make_predicate) {
  return {{}, [make_predicate](KernelArgs& args) -> Status {
            const Tensor& in = args.input(0);
            Tensor& out = prepare_output(args, 0, DataType::kBool, in.dims());
            auto predicate = make_predicate(args.node);
            const bool handled = dispatch_float(in.dtype(), [&]<typename T>() {
              map_elements(in.data<T>(), out.data<bool>(), in.element_count(),
                           [&](T v) { return static_cast<bool>(predicate(widen(v))); });
            });
            return handled ? ok_status() : unsupported_dtype(args.node, in.dtype());
          }};
}

Status run_not(KernelArgs& args) {
  const Tensor& in = args.input(0);
  if (in.dtype() != DataType::kBool) return unsupported_dtype(args.node, in.dtype());
  Tensor& out = prepare_output(args, 0, DataType::kBool, in.dims());
  map_elements(in.data<bool>(), out.data<bool>(), in.element_count(), [](bool v) { return !v; });
  return ok_status();
}

}  // namespace

void register_elementwise_unary_kernels(KernelTable& table) {
  const auto numeric = [](DataType t, auto&& f) { return dispatch_numeric(t, f); };
  const auto signed_types = [](DataType t, auto&& f) { return dispatch_signed(t, f); };
  const auto integers = [](DataType t, auto&& f) { return dispatch_integer(t, f); };
  table.add("Abs", unary_kernel(numeric, [](const Node&) { return [](auto x) { return absolute(x); }; }));
  table.add("Sign", unary_kernel(numeric, [](const Node&) { return [](auto x) { return sign_of(x); }; }));
  table.add("Neg", unary_kernel(signed_types, [](const Node&) {
              return [](auto x) { return static_cast<decltype(x)>(-x); };
            }));
  table.add("BitwiseNot", unary_kernel(integers, [](const Node&) {
              return [](auto x) { return static_cast<decltype(x)>(~x); };
            }));
  table.add("Sqrt", float_unary_kernel([](auto x) { return std::sqrt(x); }));
  table.add("Reciprocal", float_unary_kernel([](auto x) { return decltype(x)(1) / x; }));
  table.add("Exp", float_unary_kernel([](auto x) { return std::exp(x); }));
  table.add("Log", float_unary_kernel([](auto x) { return std::log(x); }));
  table.add("Ceil", float_unary_kernel([](auto x) { return std::ceil(x); }));
  table.add("Floor", float_unary_kernel([](auto x) { return std::floor(x); }));
  // nearbyint rounds halves to even in the default rounding mode.
  table.add("Round", float_unary_kernel([](auto x) { return std::nearbyint(x); }));
  table.add("Sin", float_unary_kernel([](auto x) { return std::sin(x); }));
  table.add("Cos", float_unary_kernel([](auto x) { return std::cos(x); }));
  table.add("Tan", float_unary_kernel([](auto x) { return std::tan(x); }));
  table.add("Asin", float_unary_kernel([](auto x) { return std::asin(x); }));
  table.add("Acos", float_unary_kernel([](auto x) { return std::acos(x); }));
  table.add("Atan", float_unary_kernel([](auto x) { return std::atan(x); }));
  table.add("Sinh", float_unary_kernel([](auto x) { return std::sinh(x); }));
  table.add("Cosh", float_unary_kernel([](auto x) { return std::cosh(x); }));
  table.add("Asinh", float_unary_kernel([](auto x) { return std::asinh(x); }));
  table.add("Acosh", float_unary_kernel([](auto x) { return std::acosh(x); }));
  table.add("Atanh", float_unary_kernel([](auto x) { return std::atanh(x); }));
  table.add("Erf", float_unary_kernel([](auto x) { return std::erf(x); }));
  table.add("IsNaN", float_predicate_kernel([](const Node&) { return [](auto x) { return std::isnan(x); }; }));
  table.add("IsInf", float_predicate_kernel([](const Node& node) {
              const bool positive = node.attr_int("detect_positive", 1) != 0;
              const bool negative = node.attr_int("detect_negative", 1) != 0;
              return [positive, negative](auto x) { return std::isinf(x) && (x > 0 ? positive : negative); };
            }));
  table.add("Not", {{}, run_not});
}

}  // namespace kiln::cpu
