// Activation kernels: Relu and its relatives, sigmoids, Softplus, Gelu, Mish,
// Shrink. PRelu, which broadcasts a slope, lives with the binary kernels.
#include <cmath>

#include "backends/cpu/kernels/elementwise_unary.h"

namespace kiln::cpu {
namespace {

// log(1 + e^x) without overflow for large x or loss for very negative x.
template <typename C>
C softplus(C x) {
  return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
}

// 1 / (1 + e^-x), computed on the side where e^.. cannot overflow.
template <typename C>
C sigmoid(C x) {
  if (x >= 0) return C(1) / (C(1) + std::exp(-x));
  const C e = std::exp(x);
  return e / (C(1) + e);
}

float float_attribute(const Node& node, const char* name, double fallback) {
  return static_cast<float>(node.attr_float(name, fallback));
}

}  // namespace

void register_elementwise_activation_kernels(KernelTable& table) {
  const auto signed_types = [](DataType t, auto&& f) { return dispatch_signed(t, f); };
  const auto numeric = [](DataType t, auto&& f) { return dispatch_numeric(t, f); };
  table.add("Relu", unary_kernel(signed_types, [](const Node&) {
              return [](auto x) { return x > 0 ? x : decltype(x)(0); };
            }));
  table.add("LeakyRelu", float_unary_kernel_with_attributes([](const Node& node) {
              const float alpha = float_attribute(node, "alpha", 0.01);
              return [alpha](auto x) { return x < 0 ? static_cast<decltype(x)>(alpha) * x : x; };
            }));
  table.add("Elu", float_unary_kernel_with_attributes([](const Node& node) {
              const float alpha = float_attribute(node, "alpha", 1.0);
              return [alpha](auto x) {
                using C = decltype(x);
                return x < 0 ? static_cast<C>(alpha) * (std::exp(x) - C(1)) : x;
              };
            }));
  table.add("Selu", float_unary_kernel_with_attributes([](const Node& node) {
              const float alpha = float_attribute(node, "alpha", 1.67326319217681884765625);
              const float gamma = float_attribute(node, "gamma", 1.05070102214813232421875);
              return [alpha, gamma](auto x) {
                using C = decltype(x);
                return x <= 0 ? static_cast<C>(gamma) * (static_cast<C>(alpha) * std::exp(x) - static_cast<C>(alpha))
                              : static_cast<C>(gamma) * x;
              };
            }));
  table.add("Celu", float_unary_kernel_with_attributes([](const Node& node) {
              const float alpha = float_attribute(node, "alpha", 1.0);
              return [alpha](auto x) {
                using C = decltype(x);
                const C a = static_cast<C>(alpha);
                return std::max(C(0), x) + std::min(C(0), a * (std::exp(x / a) - C(1)));
              };
            }));
  table.add("Sigmoid", float_unary_kernel([](auto x) { return sigmoid(x); }));
  table.add("HardSigmoid", float_unary_kernel_with_attributes([](const Node& node) {
              const float alpha = float_attribute(node, "alpha", 0.2);
              const float beta = float_attribute(node, "beta", 0.5);
              return [alpha, beta](auto x) {
                using C = decltype(x);
                return std::max(C(0), std::min(C(1), static_cast<C>(alpha) * x + static_cast<C>(beta)));
              };
            }));
  table.add("HardSwish", float_unary_kernel([](auto x) {
              using C = decltype(x);
              return x * std::max(C(0), std::min(C(1), x / C(6) + C(0.5)));
            }));
  table.add("Softplus", float_unary_kernel([](auto x) { return softplus(x); }));
  table.add("Softsign", float_unary_kernel([](auto x) { return x / (decltype(x)(1) + std::fabs(x)); }));
  table.add("Tanh", float_unary_kernel([](auto x) { return std::tanh(x); }));
  table.add("ThresholdedRelu", float_unary_kernel_with_attributes([](const Node& node) {
              const float alpha = float_attribute(node, "alpha", 1.0);
              return [alpha](auto x) { return x > static_cast<decltype(x)>(alpha) ? x : decltype(x)(0); };
            }));
  // Shrink also takes integers; the comparison and bias happen in double.
  table.add("Shrink", unary_kernel(numeric, [](const Node& node) {
              const double bias = node.attr_float("bias", 0.0);
              const double lambd = node.attr_float("lambd", 0.5);
              return [bias, lambd](auto x) {
                const double v = static_cast<double>(x);
                const double r = v < -lambd ? v + bias : (v > lambd ? v - bias : 0.0);
                return static_cast<decltype(x)>(r);
              };
            }));
  table.add("Gelu", float_unary_kernel_with_attributes([](const Node& node) {
              const bool tanh_form = node.attr_string("approximate", "none") == "tanh";
              return [tanh_form](auto x) {
                using C = decltype(x);
                if (tanh_form) {
                  const C k = static_cast<C>(0.7978845608028654);  // sqrt(2 / pi)
                  return C(0.5) * x * (C(1) + std::tanh(k * (x + C(0.044715) * x * x * x)));
                }
                return C(0.5) * x * (C(1) + std::erf(x * static_cast<C>(0.7071067811865476)));
              };
            }));
  table.add("Mish", float_unary_kernel([](auto x) { return x * std::tanh(softplus(x)); }));
}

}  // namespace kiln::cpu
