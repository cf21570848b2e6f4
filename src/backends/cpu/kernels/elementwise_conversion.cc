// Where, Clip, Cast and CastLike.
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "backends/cpu/kernels/elementwise_common.h"

namespace kiln::cpu {
namespace {

Status run_where(KernelArgs& args) {
  const Tensor& condition = args.input(0);
  const Tensor& x = args.input(1);
  const Tensor& y = args.input(2);
  if (condition.dtype() != DataType::kBool) return unsupported_dtype(args.node, condition.dtype(), "condition");
  if (x.dtype() != y.dtype()) {
    return invalid_argument(args.node.describe() + ": X is " + dtype_name(x.dtype()) + " but Y is " +
                            dtype_name(y.dtype()));
  }
  KILN_ASSIGN_OR_RETURN(BroadcastPlan plan, plan_for_inputs(args));
  Tensor& out = prepare_output(args, 0, x.dtype(), plan.output_dims);
  const auto pick = [](bool c, const auto& a, const auto& b) { return c ? a : b; };
  if (x.dtype() == DataType::kString) {
    broadcast_ternary(plan, condition.data<bool>(), x.string_data().data(), y.string_data().data(),
                      out.string_data().data(), pick);
    return ok_status();
  }
  const bool handled = dispatch_all_numeric(x.dtype(), [&]<typename T>() {
    broadcast_ternary(plan, condition.data<bool>(), x.data<T>(), y.data<T>(), out.data<T>(), pick);
  });
  return handled ? ok_status() : unsupported_dtype(args.node, x.dtype());
}

// Bounds come from attributes before opset 11 and from optional scalar inputs
// after; a missing bound does not clip. When min > max every element becomes max.
Status run_clip(KernelArgs& args) {
  const Tensor& in = args.input(0);
  Tensor& out = prepare_output(args, 0, in.dtype(), in.dims());
  for (size_t i = 1; i < 3; ++i) {
    if (args.has_input(i) && args.input(i).dtype() != in.dtype()) {
      return invalid_argument(args.node.describe() + ": bound " + std::to_string(i) + " is " +
                              dtype_name(args.input(i).dtype()) + ", input is " + dtype_name(in.dtype()));
    }
    if (args.has_input(i) && args.input(i).element_count() != 1) {
      return invalid_argument(args.node.describe() + ": bound " + std::to_string(i) + " has shape " +
                              dims_to_string(args.input(i).dims()) + ", expected a scalar");
    }
  }
  const bool from_attributes = args.node.opset < 11;
  const bool handled = dispatch_numeric(in.dtype(), [&]<typename T>() {
    using C = ComputeType<T>;
    C lo = std::numeric_limits<C>::lowest();
    C hi = std::numeric_limits<C>::max();
    if (std::is_floating_point_v<C>) {
      lo = -std::numeric_limits<C>::infinity();
      hi = std::numeric_limits<C>::infinity();
    }
    if (from_attributes) {
      if (args.node.has_attribute("min")) lo = static_cast<C>(args.node.attr_float("min", 0));
      if (args.node.has_attribute("max")) hi = static_cast<C>(args.node.attr_float("max", 0));
    } else {
      if (args.has_input(1)) lo = widen(args.input(1).data<T>()[0]);
      if (args.has_input(2)) hi = widen(args.input(2).data<T>()[0]);
    }
    map_elements(in.data<T>(), out.data<T>(), in.element_count(), [lo, hi](T v) {
      const C x = widen(v);
      if constexpr (std::is_floating_point_v<C>) {
        if (std::isnan(x)) return v;
      }
      return narrow<T>(x < lo ? (lo > hi ? hi : lo) : (x > hi ? hi : x));
    });
  });
  return handled ? ok_status() : unsupported_dtype(args.node, in.dtype());
}

// ONNX spells non-finite values NaN, INF and -INF; finite floats use the
// shortest text that reads back to the same value (like numpy's str()).
template <typename T>
std::string number_to_string(T value) {
  if constexpr (std::is_same_v<T, bool>) {
    return value ? "1" : "0";
  } else if constexpr (std::is_integral_v<T>) {
    return std::to_string(value);
  } else {
    const auto v = widen(value);
    if (std::isnan(v)) return "NaN";
    if (std::isinf(v)) return v > 0 ? "INF" : "-INF";
    char buffer[64];
    auto result = std::to_chars(buffer, buffer + sizeof buffer, v);
    return std::string(buffer, result.ptr);
  }
}

template <typename T>
T string_to_number(const std::string& text) {
  if constexpr (std::is_same_v<T, bool>) {
    return text == "1" || text == "true" || text == "True" || std::strtod(text.c_str(), nullptr) != 0.0;
  } else if constexpr (std::is_integral_v<T> && std::is_signed_v<T>) {
    return static_cast<T>(std::strtoll(text.c_str(), nullptr, 10));
  } else if constexpr (std::is_integral_v<T>) {
    return static_cast<T>(std::strtoull(text.c_str(), nullptr, 10));
  } else if constexpr (std::is_same_v<T, double>) {
    return std::strtod(text.c_str(), nullptr);  // also reads inf, INF, nan, NaN
  } else {
    return narrow<T>(std::strtof(text.c_str(), nullptr));
  }
}

Status cast_into(const KernelArgs& args, const Tensor& in, Tensor& out) {
  const int64_t n = in.element_count();
  const DataType from = in.dtype();
  const DataType to = out.dtype();
  bool handled = true;
  if (from == DataType::kString && to == DataType::kString) {
    out.string_data() = in.string_data();
  } else if (from == DataType::kString) {
    handled = dispatch_all_numeric(to, [&]<typename D>() {
      const std::string* s = in.string_data().data();
      D* o = out.data<D>();
      for (int64_t i = 0; i < n; ++i) o[i] = string_to_number<D>(s[i]);
    });
  } else if (to == DataType::kString) {
    handled = dispatch_all_numeric(from, [&]<typename S>() {
      const S* s = in.data<S>();
      std::string* o = out.string_data().data();
      for (int64_t i = 0; i < n; ++i) o[i] = number_to_string(s[i]);
    });
  } else {
    handled = dispatch_all_numeric(from, [&]<typename S>() {
      dispatch_all_numeric(to, [&]<typename D>() {
        map_elements(in.data<S>(), out.data<D>(), n, [](S v) { return convert_element<D>(v); });
      });
    });
  }
  return handled ? ok_status() : unimplemented(args.node.describe() + ": cast from " + dtype_name(from) + " to " +
                                               dtype_name(to) + " is not supported");
}

Status run_cast(KernelArgs& args) {
  const Tensor& in = args.input(0);
  const int64_t to = args.node.attr_int("to", 0);
  if (!dtype_is_valid(static_cast<int32_t>(to))) {
    return invalid_argument(args.node.describe() + ": 'to' = " + std::to_string(to) + " is not a supported type");
  }
  Tensor& out = prepare_output(args, 0, static_cast<DataType>(to), in.dims());
  return cast_into(args, in, out);
}

Status run_cast_like(KernelArgs& args) {
  const Tensor& in = args.input(0);
  Tensor& out = prepare_output(args, 0, args.input(1).dtype(), in.dims());
  return cast_into(args, in, out);
}

}  // namespace

void register_elementwise_conversion_kernels(KernelTable& table) {
  table.add("Where", {{}, run_where});
  table.add("Clip", {{}, run_clip});
  table.add("Cast", {{}, run_cast});
  table.add("CastLike", {{}, run_cast_like});
}

}  // namespace kiln::cpu
