// MatMul, Gemm, MatMulInteger and QLinearMatMul. float32 runs on oneDNN's sgemm; other types
// on plain loops (integers wrap like the element type does).
#include <oneapi/dnnl/dnnl.h>

#include <cstring>
#include <optional>
#include <type_traits>
#include <vector>

#include "backends/cpu/kernels/nn_kernels.h"
#include "backends/cpu/kernels/nn_requantize.h"
#include "core/dispatch.h"
#include "ir/ops/nn_geometry.h"

namespace kiln::cpu {
namespace {

Tensor& prepare_output(KernelArgs& args, DataType dtype, const Dims& dims) {
  Tensor& out = args.output(0);
  if (!out.defined() || out.dims() != dims || out.dtype() != dtype) out = Tensor::empty(dtype, dims);
  return out;
}

// For each output matrix (flat batch index), the index of the A and B
// matrices it reads, following numpy broadcasting of the batch axes.
std::vector<std::pair<int64_t, int64_t>> batch_operands(const MatMulShape& s) {
  int64_t count = element_count(s.batch);
  std::vector<std::pair<int64_t, int64_t>> result(count);
  size_t rank = s.batch.size();
  for (int64_t flat = 0; flat < count; ++flat) {
    int64_t rest = flat, a = 0, b = 0, a_stride = 1, b_stride = 1;
    for (size_t i = rank; i-- > 0;) {
      int64_t index = rest % s.batch[i];
      rest /= s.batch[i];
      if (s.a_batch[i] != 1) a += index * a_stride;
      if (s.b_batch[i] != 1) b += index * b_stride;
      a_stride *= s.a_batch[i];
      b_stride *= s.b_batch[i];
    }
    result[flat] = {a, b};
  }
  return result;
}

Status sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, const float* b,
             float beta, float* c) {
  if (m == 0 || n == 0) return ok_status();
  dnnl_status_t status = dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a, trans_a ? m : k, b,
                                    trans_b ? k : n, beta, c, n);
  if (status != dnnl_success) {
    return internal_error("oneDNN sgemm failed for m=" + std::to_string(m) + " n=" + std::to_string(n) +
                          " k=" + std::to_string(k) + " (status " + std::to_string(status) + ")");
  }
  return ok_status();
}

Status matmul_float(const MatMulShape& s, const float* a, const float* b, float* y) {
  auto operands = batch_operands(s);
  const int64_t a_size = s.m * s.k, b_size = s.k * s.n, y_size = s.m * s.n;
  bool b_shared = true;
  for (size_t i = 0; i < operands.size(); ++i) {
    if (operands[i].second != operands[0].second || operands[i].first != static_cast<int64_t>(i)) b_shared = false;
  }
  // One B for every batch and A's matrices consecutive: a single tall product.
  if (b_shared) {
    return sgemm(false, false, s.m * static_cast<int64_t>(operands.size()), s.n, s.k, 1.0f, a,
                 b + operands[0].second * b_size, 0.0f, y);
  }
  // Many small products: spread the batch over threads (sgemm then runs single-threaded).
  const bool small = s.m * s.n * s.k < 64 * 64 * 64;
  Status failure;
#pragma omp parallel for schedule(static) if (small)
  for (int64_t i = 0; i < static_cast<int64_t>(operands.size()); ++i) {
    Status status = sgemm(false, false, s.m, s.n, s.k, 1.0f, a + operands[i].first * a_size,
                          b + operands[i].second * b_size, 0.0f, y + i * y_size);
    if (!status.ok()) {
#pragma omp critical
      failure = status;
    }
  }
  return failure;
}

template <typename T>
void matmul_reference(const MatMulShape& s, const T* a, const T* b, T* y) {
  using Acc = std::conditional_t<std::is_floating_point_v<T>, double, T>;
  auto operands = batch_operands(s);
  const int64_t a_size = s.m * s.k, b_size = s.k * s.n, y_size = s.m * s.n;
  const int64_t rows = static_cast<int64_t>(operands.size()) * s.m;
#pragma omp parallel for schedule(static)
  for (int64_t row = 0; row < rows; ++row) {
    const int64_t batch = row / s.m, i = row % s.m;
    const T* ar = a + operands[batch].first * a_size + i * s.k;
    const T* bm = b + operands[batch].second * b_size;
    std::vector<Acc> acc(s.n, Acc(0));
    for (int64_t kk = 0; kk < s.k; ++kk) {
      Acc av = static_cast<Acc>(ar[kk]);
      const T* br = bm + kk * s.n;
      for (int64_t j = 0; j < s.n; ++j) acc[j] += av * static_cast<Acc>(br[j]);
    }
    T* yr = y + batch * y_size + i * s.n;
    for (int64_t j = 0; j < s.n; ++j) yr[j] = static_cast<T>(acc[j]);
  }
}

Status run_matmul(KernelArgs& args) {
  const Node& node = args.node;
  const Tensor& a = args.input(0);
  const Tensor& b = args.input(1);
  if (a.dtype() != b.dtype()) {
    return invalid_argument(node.describe() + ": A " + a.describe() + " and B " + b.describe() +
                            " must share one element type");
  }
  KILN_ASSIGN_OR_RETURN(MatMulShape s, matmul_shape(node, a.dims(), b.dims()));
  Tensor& y = prepare_output(args, a.dtype(), s.output);
  if (y.element_count() == 0) return ok_status();
  if (s.k == 0) {
    std::memset(y.raw_data(), 0, y.byte_size());
    return ok_status();
  }
  switch (a.dtype()) {
    case DataType::kFloat32:
      return matmul_float(s, a.data<float>(), b.data<float>(), y.data<float>());
    case DataType::kFloat16:
    case DataType::kBFloat16: {
      KILN_ASSIGN_OR_RETURN(Tensor a32, cast_tensor(a, DataType::kFloat32));
      KILN_ASSIGN_OR_RETURN(Tensor b32, cast_tensor(b, DataType::kFloat32));
      Tensor y32 = Tensor::empty(DataType::kFloat32, s.output);
      KILN_RETURN_IF_ERROR(matmul_float(s, a32.data<float>(), b32.data<float>(), y32.data<float>()));
      KILN_ASSIGN_OR_RETURN(y, cast_tensor(y32, a.dtype()));
      return ok_status();
    }
    default: {
      bool handled = dispatch_arithmetic(
          a.dtype(), [&]<typename T>() { matmul_reference<T>(s, a.data<T>(), b.data<T>(), y.data<T>()); });
      return handled ? ok_status() : unsupported_dtype(node, a.dtype());
    }
  }
}

// Fills y [m, n] with C broadcast to it (C may be a scalar, [n], [m, 1], [m, n]...).
template <typename T>
Status broadcast_into(const Node& node, const Tensor& c, int64_t m, int64_t n, T* y) {
  Dims cd = c.dims();
  while (cd.size() < 2) cd.insert(cd.begin(), 1);
  if (cd.size() != 2 || (cd[0] != 1 && cd[0] != m) || (cd[1] != 1 && cd[1] != n)) {
    return invalid_argument(node.describe() + ": C " + c.describe() + " does not broadcast to [" + std::to_string(m) +
                            "x" + std::to_string(n) + "]");
  }
  const T* src = c.data<T>();
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) y[i * n + j] = src[(cd[0] == 1 ? 0 : i) * cd[1] + (cd[1] == 1 ? 0 : j)];
  return ok_status();
}

template <typename T>
void gemm_reference(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha, const T* a, const T* b,
                    double beta, T* y) {
  using Acc = std::conditional_t<std::is_floating_point_v<T>, double, T>;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      Acc acc = 0;
      for (int64_t kk = 0; kk < k; ++kk) {
        acc += static_cast<Acc>(trans_a ? a[kk * m + i] : a[i * k + kk]) *
               static_cast<Acc>(trans_b ? b[j * k + kk] : b[kk * n + j]);
      }
      double prior = beta == 0.0 ? 0.0 : beta * static_cast<double>(y[i * n + j]);
      y[i * n + j] = static_cast<T>(alpha * static_cast<double>(acc) + prior);
    }
  }
}

// y = alpha * op(A) op(B) + beta * C for tensors of one arithmetic type; y is [m, n].
Status gemm_tensors(const Node& node, const Tensor& a, const Tensor& b, const Tensor* c, Tensor& y) {
  const bool trans_a = node.attr_int("transA", 0) != 0, trans_b = node.attr_int("transB", 0) != 0;
  const int64_t m = trans_a ? a.dim(1) : a.dim(0), k = trans_a ? a.dim(0) : a.dim(1);
  const int64_t n = trans_b ? b.dim(0) : b.dim(1);
  const double alpha = node.attr_float("alpha", 1.0);
  const double beta = c ? node.attr_float("beta", 1.0) : 0.0;
  Status status = ok_status();
  bool handled = dispatch_arithmetic(a.dtype(), [&]<typename T>() {
    if (beta != 0.0) status = broadcast_into<T>(node, *c, m, n, y.data<T>());
    if (!status.ok()) return;
    if constexpr (std::is_same_v<T, float>) {
      if (beta != 0.0 && beta != 1.0) {
        for (int64_t i = 0; i < m * n; ++i) y.data<float>()[i] *= static_cast<float>(beta);
      }
      if (k == 0) {
        if (beta == 0.0) std::memset(y.raw_data(), 0, y.byte_size());
        return;
      }
      status = sgemm(trans_a, trans_b, m, n, k, static_cast<float>(alpha), a.data<float>(), b.data<float>(),
                     beta != 0.0 ? 1.0f : 0.0f, y.data<float>());
    } else {
      gemm_reference<T>(trans_a, trans_b, m, n, k, alpha, a.data<T>(), b.data<T>(), beta, y.data<T>());
    }
  });
  if (!handled) return unsupported_dtype(node, a.dtype());
  return status;
}

Status run_gemm(KernelArgs& args) {
  const Node& node = args.node;
  const Tensor& a = args.input(0);
  const Tensor& b = args.input(1);
  const Tensor* c = args.has_input(2) ? args.inputs[2] : nullptr;
  if (a.rank() != 2 || b.rank() != 2 || a.dtype() != b.dtype() || (c && c->dtype() != a.dtype())) {
    return invalid_argument(node.describe() + ": A " + a.describe() + " and B " + b.describe() +
                            " must be matrices of one element type (C too)");
  }
  const bool trans_a = node.attr_int("transA", 0) != 0, trans_b = node.attr_int("transB", 0) != 0;
  const int64_t m = trans_a ? a.dim(1) : a.dim(0), k = trans_a ? a.dim(0) : a.dim(1);
  const int64_t n = trans_b ? b.dim(0) : b.dim(1), kb = trans_b ? b.dim(1) : b.dim(0);
  if (k != kb) {
    return invalid_argument(node.describe() + ": inner dimensions differ: A " + a.describe() + ", B " + b.describe());
  }
  Tensor& y = prepare_output(args, a.dtype(), {m, n});
  if (a.dtype() != DataType::kFloat16 && a.dtype() != DataType::kBFloat16) return gemm_tensors(node, a, b, c, y);
  // Half types: compute in float32.
  KILN_ASSIGN_OR_RETURN(Tensor a32, cast_tensor(a, DataType::kFloat32));
  KILN_ASSIGN_OR_RETURN(Tensor b32, cast_tensor(b, DataType::kFloat32));
  std::optional<Tensor> c32;
  if (c) {
    KILN_ASSIGN_OR_RETURN(c32, cast_tensor(*c, DataType::kFloat32));
  }
  Tensor y32 = Tensor::empty(DataType::kFloat32, {m, n});
  KILN_RETURN_IF_ERROR(gemm_tensors(node, a32, b32, c32 ? &*c32 : nullptr, y32));
  KILN_ASSIGN_OR_RETURN(y, cast_tensor(y32, a.dtype()));
  return ok_status();
}

// (value - zero point) as int32. A's zero point is per tensor or per row (axis
// -2), B's per tensor or per column (axis -1).
Expected<Tensor> widen_with_zero_point(const Node& node, const Tensor& values, const Tensor* zero_point, bool per_row,
                                       const char* name) {
  if (values.dtype() != DataType::kUint8 && values.dtype() != DataType::kInt8) {
    return unsupported_dtype(node, values.dtype(), name);
  }
  Dims dims = values.dims();
  if (dims.size() == 1) dims = per_row ? Dims{1, dims[0]} : Dims{dims[0], 1};
  const int64_t rows = dims[dims.size() - 2], cols = dims[dims.size() - 1];
  std::vector<int64_t> zeros = {0};
  if (zero_point) {
    zeros = zero_point->to_int64_vector();
    int64_t expected = per_row ? rows : cols;
    if (zero_point->dtype() != values.dtype() ||
        (zeros.size() != 1 && static_cast<int64_t>(zeros.size()) != expected)) {
      return invalid_argument(node.describe() + ": zero point " + zero_point->describe() + " does not fit " + name +
                              " " + values.describe());
    }
  }
  Tensor out = Tensor::empty(DataType::kInt32, values.dims());
  int32_t* dst = out.data<int32_t>();
  for (int64_t i = 0; i < values.element_count(); ++i) {
    int64_t zero = zeros.size() == 1 ? zeros[0] : zeros[per_row ? (i / cols) % rows : i % cols];
    int64_t v = values.dtype() == DataType::kUint8 ? values.data<uint8_t>()[i] : values.data<int8_t>()[i];
    dst[i] = static_cast<int32_t>(v - zero);
  }
  return out;
}

Status run_matmul_integer(KernelArgs& args) {
  const Node& node = args.node;
  KILN_ASSIGN_OR_RETURN(
      Tensor a, widen_with_zero_point(node, args.input(0), args.has_input(2) ? args.inputs[2] : nullptr, true, "A"));
  KILN_ASSIGN_OR_RETURN(
      Tensor b, widen_with_zero_point(node, args.input(1), args.has_input(3) ? args.inputs[3] : nullptr, false, "B"));
  KILN_ASSIGN_OR_RETURN(MatMulShape s, matmul_shape(node, a.dims(), b.dims()));
  Tensor& y = prepare_output(args, DataType::kInt32, s.output);
  matmul_reference<int32_t>(s, a.data<int32_t>(), b.data<int32_t>(), y.data<int32_t>());
  return ok_status();
}

Expected<std::vector<float>> scales_of(const Node& node, const Tensor& t, int64_t count, const char* name) {
  if (t.dtype() != DataType::kFloat32 || (t.element_count() != 1 && t.element_count() != count)) {
    return invalid_argument(node.describe() + ": " + name + " " + t.describe() + " must be a float32 scalar or have " +
                            std::to_string(count) + " values");
  }
  return std::vector<float>(t.data<float>(), t.data<float>() + t.element_count());
}

// Inputs: a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point.
// A's scale and zero point are per tensor or per row, B's per tensor or per column.
Status run_qlinear_matmul(KernelArgs& args) {
  const Node& node = args.node;
  KILN_ASSIGN_OR_RETURN(Tensor a, widen_with_zero_point(node, args.input(0), args.inputs[2], true, "A"));
  KILN_ASSIGN_OR_RETURN(Tensor b, widen_with_zero_point(node, args.input(3), args.inputs[5], false, "B"));
  KILN_ASSIGN_OR_RETURN(MatMulShape s, matmul_shape(node, a.dims(), b.dims()));
  KILN_ASSIGN_OR_RETURN(std::vector<float> a_scale, scales_of(node, args.input(1), s.m, "a_scale"));
  KILN_ASSIGN_OR_RETURN(std::vector<float> b_scale, scales_of(node, args.input(4), s.n, "b_scale"));
  KILN_ASSIGN_OR_RETURN(std::vector<float> y_scale, scales_of(node, args.input(6), 1, "y_scale"));
  Tensor acc = Tensor::empty(DataType::kInt32, s.output);
  matmul_reference<int32_t>(s, a.data<int32_t>(), b.data<int32_t>(), acc.data<int32_t>());
  const Tensor& y_zero = args.input(7);
  Tensor& y = prepare_output(args, y_zero.dtype(), s.output);
  auto scale_of = [&](int64_t i) {
    return a_scale[a_scale.size() == 1 ? 0 : (i / s.n) % s.m] * b_scale[b_scale.size() == 1 ? 0 : i % s.n];
  };
  if (!requantize_into(acc, scale_of, y_scale[0], static_cast<int32_t>(y_zero.scalar_as_int64()), y)) {
    return unsupported_dtype(node, y_zero.dtype(), "y_zero_point");
  }
  return ok_status();
}

}  // namespace

void register_matmul_kernels(KernelTable& table) {
  // Every numeric type but bool.
  std::vector<DataType> numeric = float_types();
  for (DataType t : {DataType::kInt8, DataType::kInt16, DataType::kInt32, DataType::kInt64, DataType::kUint8,
                     DataType::kUint16, DataType::kUint32, DataType::kUint64}) {
    numeric.push_back(t);
  }
  const std::vector<DataType> eight_bit = {DataType::kUint8, DataType::kInt8};
  table.add("MatMul", CpuKernel{input_type_in(numeric), run_matmul});
  table.add("Gemm", CpuKernel{input_type_in(numeric), run_gemm});
  table.add("MatMulInteger", CpuKernel{input_type_in(eight_bit), run_matmul_integer});
  table.add("QLinearMatMul", CpuKernel{input_type_in(eight_bit), run_qlinear_matmul});
}

}  // namespace kiln::cpu
