// CPU kernels that make values from a shape or a pattern: ConstantOfShape,
// Range, EyeLike, Trilu, CumSum.
#include <algorithm>

#include "backends/cpu/kernels/tensor_storage.h"

namespace kiln::cpu::tensor_kernels {
namespace {

Status run_constant_of_shape(KernelArgs& args) {
  Tensor& out = args.output(0);
  Tensor value = Tensor::zeros(DataType::kFloat32, {1});
  if (const Attribute* a = args.node.attr("value")) value = a->t;
  bool ok = dispatch_storage(value.dtype(), [&]<typename E>() {
    E* dst = storage<E>(out);
    std::fill(dst, dst + out.element_count(), storage<E>(value)[0]);
  });
  return ok ? ok_status() : unsupported_dtype(args.node, value.dtype());
}

Status run_range(KernelArgs& args) {
  Tensor& out = args.output(0);
  const Tensor& start = args.input(0);
  const Tensor& delta = args.input(2);
  const int64_t n = out.element_count();
  bool ok = dispatch_all_numeric(out.dtype(), [&]<typename T>() {
    T* dst = out.data<T>();
    if constexpr (std::is_integral_v<T>) {
      const int64_t s = start.scalar_as_int64(0);
      const int64_t d = delta.scalar_as_int64(0);
      for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<T>(s + i * d);
    } else {
      const double s = start.scalar_as_double(0);
      const double d = delta.scalar_as_double(0);
      for (int64_t i = 0; i < n; ++i) dst[i] = from_double<T>(s + static_cast<double>(i) * d);
    }
  });
  return ok ? ok_status() : unsupported_dtype(args.node, out.dtype());
}

Status run_eye_like(KernelArgs& args) {
  Tensor& out = args.output(0);
  const int64_t rows = out.dim(0);
  const int64_t cols = out.dim(1);
  const int64_t k = args.node.attr_int("k", 0);
  bool ok = dispatch_all_numeric(out.dtype(), [&]<typename T>() {
    T* dst = out.data<T>();
    std::fill(dst, dst + out.element_count(), from_double<T>(0.0));
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t c = r + k;
      if (c >= 0 && c < cols) dst[r * cols + c] = from_double<T>(1.0);
    }
  });
  return ok ? ok_status() : unsupported_dtype(args.node, out.dtype());
}

Status run_trilu(KernelArgs& args) {
  const Tensor& in = args.input(0);
  Tensor& out = args.output(0);
  const int64_t k = args.has_input(1) ? args.input(1).scalar_as_int64(0) : 0;
  const bool upper = args.node.attr_int("upper", 1) != 0;
  const int64_t rank = static_cast<int64_t>(in.rank());
  const int64_t rows = in.dim(rank - 2);
  const int64_t cols = in.dim(rank - 1);
  const int64_t matrices = element_count(in.dims(), 0, rank - 2);
  bool ok = dispatch_storage(in.dtype(), [&]<typename E>() {
    const E* src = storage<E>(in);
    E* dst = storage<E>(out);
    for (int64_t m = 0; m < matrices; ++m) {
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t c = 0; c < cols; ++c) {
          const int64_t i = (m * rows + r) * cols + c;
          const bool keep = upper ? c - r >= k : c - r <= k;
          dst[i] = keep ? src[i] : E{};  // E{} is zero (all bits clear) or the empty string
        }
      }
    }
  });
  return ok ? ok_status() : unsupported_dtype(args.node, in.dtype());
}

Status run_cumsum(KernelArgs& args) {
  const Tensor& in = args.input(0);
  Tensor& out = args.output(0);
  KILN_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(args.input(1).scalar_as_int64(0), in.rank(), args.node));
  const bool exclusive = args.node.attr_int("exclusive", 0) != 0;
  const bool reverse = args.node.attr_int("reverse", 0) != 0;
  const int64_t outer = element_count(in.dims(), 0, axis);
  const int64_t extent = in.dim(axis);
  const int64_t inner = element_count(in.dims(), axis + 1, in.rank());
  bool ok = false;
  if (in.dtype() != DataType::kBool) {
    ok = dispatch_all_numeric(in.dtype(), [&]<typename T>() {
      // Half types accumulate in float; the rest in their own type.
      using Acc = std::conditional_t<kIsHalf<T>, float, T>;
      const T* src = in.data<T>();
      T* dst = out.data<T>();
      for (int64_t o = 0; o < outer; ++o) {
        for (int64_t i = 0; i < inner; ++i) {
          Acc sum = Acc(0);
          for (int64_t step = 0; step < extent; ++step) {
            const int64_t j = reverse ? extent - 1 - step : step;
            const int64_t at = (o * extent + j) * inner + i;
            Acc value;
            if constexpr (kIsHalf<T>)
              value = static_cast<float>(src[at]);
            else
              value = src[at];
            if (exclusive) {
              dst[at] = T(sum);
              sum = static_cast<Acc>(sum + value);
            } else {
              sum = static_cast<Acc>(sum + value);
              dst[at] = T(sum);
            }
          }
        }
      }
    });
  }
  return ok ? ok_status() : unsupported_dtype(args.node, in.dtype());
}

}  // namespace

void register_generator_kernels(KernelTable& table) {
  table.add("ConstantOfShape", {nullptr, run_constant_of_shape});
  table.add("Range", {nullptr, run_range});
  table.add("EyeLike", {nullptr, run_eye_like});
  table.add("Trilu", {nullptr, run_trilu});
  table.add("CumSum", {nullptr, run_cumsum});
}

}  // namespace kiln::cpu::tensor_kernels
