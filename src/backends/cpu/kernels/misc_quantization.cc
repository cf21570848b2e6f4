// Linear quantization kernels on the CPU: (de)quantize per tensor, per axis or
// per block; dynamic uint8 quantization; reference QLinearMatMul/QLinearConv
// that accumulate in integers and requantize like the ONNX reference.
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "backends/cpu/kernels/misc_kernels.h"
#include "core/dispatch.h"
#include "ir/ops/misc_conv_geometry.h"

namespace kiln::cpu {
namespace {

// Maps a flat index of x to the index of its scale/zero point.
struct ParamIndex {
  int64_t axis_len = 1, inner = 1, block = 0, param_axis_len = 1;
  bool per_tensor = true;
  int64_t operator()(int64_t i) const {
    if (per_tensor) return 0;
    int64_t a = (i / inner) % axis_len;
    if (block == 0) return a;
    int64_t o = i / (inner * axis_len);
    return (o * param_axis_len + a / block) * inner + i % inner;
  }
};

Expected<ParamIndex> param_index(const Node& node, const Dims& x, const Tensor& scale) {
  ParamIndex p;
  const int64_t block = node.attr_int("block_size", 0);
  if (block <= 0 && scale.element_count() == 1 && scale.rank() <= 1) return p;
  const int64_t rank = static_cast<int64_t>(x.size());
  KILN_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(node.attr_int("axis", 1), rank, node));
  p.per_tensor = false;
  p.axis_len = x[static_cast<size_t>(axis)];
  for (int64_t a = axis + 1; a < rank; ++a) p.inner *= x[static_cast<size_t>(a)];
  if (block > 0) {
    p.block = block;
    if (scale.rank() != x.size()) {
      return invalid_argument(node.describe() + ": blocked scale " + dims_to_string(scale.dims()) +
                              " must have the rank of x " + dims_to_string(x));
    }
    p.param_axis_len = scale.dim(static_cast<size_t>(axis));
    Dims expected = x;
    expected[static_cast<size_t>(axis)] = (p.axis_len + block - 1) / block;
    if (scale.dims() != expected) {
      return invalid_argument(node.describe() + ": blocked scale " + dims_to_string(scale.dims()) + " should be " +
                              dims_to_string(expected) + " for x " + dims_to_string(x) + " and block_size " +
                              std::to_string(block));
    }
  } else if (scale.rank() != 1 || scale.dim(0) != p.axis_len) {
    return invalid_argument(node.describe() + ": per-axis scale " + dims_to_string(scale.dims()) +
                            " must be 1-D of extent " + std::to_string(p.axis_len) + " (axis " + std::to_string(axis) +
                            " of " + dims_to_string(x) + ")");
  }
  return p;
}

template <typename Q>
Q saturate(double v) {
  if constexpr (std::is_integral_v<Q>) {
    v = std::clamp(v, static_cast<double>(std::numeric_limits<Q>::lowest()),
                   static_cast<double>(std::numeric_limits<Q>::max()));
  }
  return from_double<Q>(v);
}

// Integer element types a quantized tensor may have.
template <typename Fn>
bool dispatch_quantized(DataType type, Fn&& fn) {
  switch (type) {
    case DataType::kUint8:
      fn.template operator()<uint8_t>();
      return true;
    case DataType::kInt8:
      fn.template operator()<int8_t>();
      return true;
    case DataType::kUint16:
      fn.template operator()<uint16_t>();
      return true;
    case DataType::kInt16:
      fn.template operator()<int16_t>();
      return true;
    case DataType::kInt32:
      fn.template operator()<int32_t>();
      return true;
    default:
      return false;
  }
}

// x / scale rounded half to even, in the precision the reference uses (float
// for float inputs, double for double).
template <typename F>
double scaled_round(F x, double scale) {
  if constexpr (std::is_same_v<F, double>)
    return std::nearbyint(x / scale);
  else
    return std::nearbyint(static_cast<double>(static_cast<float>(x) / static_cast<float>(scale)));
}

Status run_quantize(KernelArgs& args) {
  const Tensor& x = args.input(0);
  const Tensor& scale = args.input(1);
  const Tensor* zero = args.has_input(2) ? args.inputs[2] : nullptr;
  Tensor& y = args.output(0);
  KILN_ASSIGN_OR_RETURN(ParamIndex index, param_index(args.node, x.dims(), scale));
  std::vector<double> scales = scale.to_double_vector();
  std::vector<double> zeros = zero ? zero->to_double_vector() : std::vector<double>(scales.size(), 0.0);
  if (zeros.size() != scales.size()) {
    return invalid_argument(args.node.describe() + ": zero point " + dims_to_string(zero->dims()) +
                            " does not match scale " + dims_to_string(scale.dims()));
  }
  bool inner_ok = false;
  bool ok = dispatch_float(x.dtype(), [&]<typename F>() {
    inner_ok = dispatch_quantized(y.dtype(), [&]<typename Q>() {
      const F* src = x.data<F>();
      Q* dst = y.data<Q>();
      for (int64_t i = 0, n = x.element_count(); i < n; ++i) {
        int64_t p = index(i);
        dst[i] = saturate<Q>(scaled_round(src[i], scales[p]) + zeros[p]);
      }
    });
  });
  if (!ok) return unsupported_dtype(args.node, x.dtype());
  if (!inner_ok) return unsupported_dtype(args.node, y.dtype(), "output");
  return ok_status();
}

Status run_dequantize(KernelArgs& args) {
  const Tensor& x = args.input(0);
  const Tensor& scale = args.input(1);
  const Tensor* zero = args.has_input(2) ? args.inputs[2] : nullptr;
  Tensor& y = args.output(0);
  KILN_ASSIGN_OR_RETURN(ParamIndex index, param_index(args.node, x.dims(), scale));
  std::vector<double> scales = scale.to_double_vector();
  std::vector<double> zeros = zero ? zero->to_double_vector() : std::vector<double>(scales.size(), 0.0);
  if (zeros.size() != scales.size()) {
    return invalid_argument(args.node.describe() + ": zero point " + dims_to_string(zero->dims()) +
                            " does not match scale " + dims_to_string(scale.dims()));
  }
  bool inner_ok = false;
  bool ok = dispatch_quantized(x.dtype(), [&]<typename Q>() {
    inner_ok = dispatch_float(y.dtype(), [&]<typename F>() {
      const Q* src = x.data<Q>();
      F* dst = y.data<F>();
      for (int64_t i = 0, n = x.element_count(); i < n; ++i) {
        int64_t p = index(i);
        double diff = static_cast<double>(src[i]) - zeros[p];
        if constexpr (std::is_same_v<F, double>)
          dst[i] = diff * scales[p];
        else
          dst[i] = from_double<F>(static_cast<float>(diff) * static_cast<float>(scales[p]));
      }
    });
  });
  if (!ok) return unsupported_dtype(args.node, x.dtype());
  if (!inner_ok) return unsupported_dtype(args.node, y.dtype(), "output");
  return ok_status();
}

Status run_dynamic_quantize(KernelArgs& args) {
  const Tensor& x = args.input(0);
  if (x.dtype() != DataType::kFloat32) return unsupported_dtype(args.node, x.dtype());
  const float* src = x.data<float>();
  const int64_t n = x.element_count();
  float lo = 0, hi = 0;
  for (int64_t i = 0; i < n; ++i) {
    lo = std::min(lo, src[i]);
    hi = std::max(hi, src[i]);
  }
  const float scale = (hi - lo) / 255.0f;
  float zero = 0;
  if (scale != 0) zero = std::clamp(std::nearbyint(0.0f - lo / scale), 0.0f, 255.0f);
  Tensor& y = args.output(0);
  if (!y.defined()) y = Tensor::empty(DataType::kUint8, x.dims());
  uint8_t* dst = y.data<uint8_t>();
  for (int64_t i = 0; i < n; ++i) {
    float q = scale == 0 ? 0.0f : std::nearbyint(src[i] / scale);
    dst[i] = static_cast<uint8_t>(std::clamp(q + zero, 0.0f, 255.0f));
  }
  if (args.node.has_output(1)) {
    if (!args.output(1).defined()) args.output(1) = Tensor::empty(DataType::kFloat32, {});
    args.output(1).data<float>()[0] = scale;
  }
  if (args.node.has_output(2)) {
    if (!args.output(2).defined()) args.output(2) = Tensor::empty(DataType::kUint8, {});
    args.output(2).data<uint8_t>()[0] = static_cast<uint8_t>(zero);
  }
  return ok_status();
}

// A quantization parameter that is either one value or one per row/channel.
struct PerIndex {
  std::vector<double> values;
  double at(int64_t i) const { return values.size() == 1 ? values[0] : values[static_cast<size_t>(i)]; }
};

PerIndex per_index(const Tensor* t) {
  if (!t) return PerIndex{{0.0}};
  return PerIndex{t->to_double_vector()};
}

// A parameter must hold one value or `extent` values (one per row/channel).
Status check_extent(const Node& node, const PerIndex& p, int64_t extent, const char* what) {
  const int64_t n = static_cast<int64_t>(p.values.size());
  if (n == 1 || n == extent) return ok_status();
  return invalid_argument(node.describe() + ": " + what + " has " + std::to_string(n) + " values, expected 1" +
                          (extent != 1 ? " or " + std::to_string(extent) : std::string()));
}

// (acc * a_scale * b_scale / y_scale) + y_zero, rounded and saturated, in float
// like the reference.
template <typename Q>
Q requantize(int64_t acc, double a_scale, double b_scale, double y_scale, double y_zero) {
  float multiplier = static_cast<float>(a_scale) * static_cast<float>(b_scale) / static_cast<float>(y_scale);
  float v = static_cast<float>(acc) * multiplier;
  return saturate<Q>(std::nearbyint(static_cast<double>(v)) + y_zero);
}

Status run_qlinear_matmul(KernelArgs& args) {
  const Tensor& a = args.input(0);
  const Tensor& b = args.input(3);
  Tensor& y = args.output(0);
  PerIndex a_scale = per_index(args.inputs[1]), a_zero = per_index(args.inputs[2]);
  PerIndex b_scale = per_index(args.inputs[4]), b_zero = per_index(args.inputs[5]);
  PerIndex y_scale = per_index(args.inputs[6]), y_zero = per_index(args.inputs[7]);
  std::vector<double> av = a.to_double_vector(), bv = b.to_double_vector();
  Dims ad = a.dims(), bd = b.dims();
  if (ad.size() == 1) ad.insert(ad.begin(), 1);
  if (bd.size() == 1) bd.push_back(1);
  const int64_t M = ad[ad.size() - 2], K = ad.back(), N = bd.back();
  KILN_RETURN_IF_ERROR(check_extent(args.node, a_scale, M, "a_scale"));
  KILN_RETURN_IF_ERROR(check_extent(args.node, a_zero, M, "a_zero_point"));
  KILN_RETURN_IF_ERROR(check_extent(args.node, b_scale, N, "b_scale"));
  KILN_RETURN_IF_ERROR(check_extent(args.node, b_zero, N, "b_zero_point"));
  KILN_RETURN_IF_ERROR(check_extent(args.node, y_scale, 1, "y_scale"));
  KILN_RETURN_IF_ERROR(check_extent(args.node, y_zero, 1, "y_zero_point"));
  Dims batch_a(ad.begin(), ad.end() - 2), batch_b(bd.begin(), bd.end() - 2);
  KILN_ASSIGN_OR_RETURN(Dims batch, broadcast_dims({batch_a, batch_b}));
  const size_t rank = batch.size();
  batch_a.insert(batch_a.begin(), rank - batch_a.size(), 1);
  batch_b.insert(batch_b.begin(), rank - batch_b.size(), 1);
  const int64_t batches = element_count(batch);
  bool ok = dispatch_quantized(y.dtype(), [&]<typename Q>() {
    Q* dst = y.data<Q>();
    for (int64_t bi = 0; bi < batches; ++bi) {
      int64_t offset_a = 0, offset_b = 0, rem = bi, stride_a = 1, stride_b = 1;
      for (size_t d = rank; d-- > 0;) {
        int64_t idx = rem % batch[d];
        rem /= batch[d];
        offset_a += (batch_a[d] == 1 ? 0 : idx) * stride_a;
        offset_b += (batch_b[d] == 1 ? 0 : idx) * stride_b;
        stride_a *= batch_a[d];
        stride_b *= batch_b[d];
      }
      const double* ap = av.data() + offset_a * M * K;
      const double* bp = bv.data() + offset_b * K * N;
      for (int64_t m = 0; m < M; ++m) {
        for (int64_t n = 0; n < N; ++n) {
          int64_t acc = 0;
          for (int64_t k = 0; k < K; ++k) {
            acc +=
                static_cast<int64_t>(ap[m * K + k] - a_zero.at(m)) * static_cast<int64_t>(bp[k * N + n] - b_zero.at(n));
          }
          dst[(bi * M + m) * N + n] = requantize<Q>(acc, a_scale.at(m), b_scale.at(n), y_scale.at(0), y_zero.at(0));
        }
      }
    }
  });
  if (!ok) return unsupported_dtype(args.node, y.dtype(), "output");
  return ok_status();
}

Status run_qlinear_conv(KernelArgs& args) {
  const Node& node = args.node;
  const Tensor& x = args.input(0);
  const Tensor& w = args.input(3);
  Tensor& y = args.output(0);
  const size_t spatial = x.rank() - 2;
  Dims xs(x.dims().begin() + 2, x.dims().end()), ws(w.dims().begin() + 2, w.dims().end());
  KILN_ASSIGN_OR_RETURN(ConvGeometry g, conv_geometry(node, xs, ws));
  const int64_t group = node.attr_int("group", 1);
  const int64_t N = x.dim(0), C = x.dim(1), M = w.dim(0);
  if (group <= 0 || C % group != 0 || M % group != 0 || w.dim(1) != C / group) {
    return invalid_argument(node.describe() + ": x " + dims_to_string(x.dims()) + " and w " + dims_to_string(w.dims()) +
                            " do not fit group " + std::to_string(group));
  }
  const int64_t c_per_group = C / group, m_per_group = M / group;
  PerIndex x_scale = per_index(args.inputs[1]), x_zero = per_index(args.inputs[2]);
  PerIndex w_scale = per_index(args.inputs[4]), w_zero = per_index(args.inputs[5]);
  PerIndex y_scale = per_index(args.inputs[6]), y_zero = per_index(args.inputs[7]);
  KILN_RETURN_IF_ERROR(check_extent(node, x_scale, 1, "x_scale"));
  KILN_RETURN_IF_ERROR(check_extent(node, x_zero, 1, "x_zero_point"));
  KILN_RETURN_IF_ERROR(check_extent(node, w_scale, M, "w_scale"));
  KILN_RETURN_IF_ERROR(check_extent(node, w_zero, M, "w_zero_point"));
  KILN_RETURN_IF_ERROR(check_extent(node, y_scale, 1, "y_scale"));
  KILN_RETURN_IF_ERROR(check_extent(node, y_zero, 1, "y_zero_point"));
  std::vector<int64_t> bias = args.has_input(8) ? args.input(8).to_int64_vector() : std::vector<int64_t>{};
  std::vector<double> xv = x.to_double_vector(), wv = w.to_double_vector();
  if (!bias.empty() && static_cast<int64_t>(bias.size()) != M) {
    return invalid_argument(node.describe() + ": B has " + std::to_string(bias.size()) + " values, expected " +
                            std::to_string(M));
  }
  const int64_t in_size = element_count(xs), out_size = element_count(g.output_spatial);
  const int64_t k_size = element_count(g.kernel);
  bool ok = dispatch_quantized(y.dtype(), [&]<typename Q>() {
    Q* dst = y.data<Q>();
    Dims out_pos(spatial), k_pos(spatial);
    for (int64_t n = 0; n < N; ++n) {
      for (int64_t m = 0; m < M; ++m) {
        const int64_t grp = m / m_per_group;
        for (int64_t o = 0; o < out_size; ++o) {
          int64_t rem = o;
          for (size_t d = spatial; d-- > 0;) {
            out_pos[d] = rem % g.output_spatial[d];
            rem /= g.output_spatial[d];
          }
          int64_t acc = bias.empty() ? 0 : bias[static_cast<size_t>(m)];
          for (int64_t c = 0; c < c_per_group; ++c) {
            const int64_t ci = grp * c_per_group + c;
            const double* xp = xv.data() + (n * C + ci) * in_size;
            const double* wp = wv.data() + (m * c_per_group + c) * k_size;
            for (int64_t k = 0; k < k_size; ++k) {
              int64_t krem = k, x_index = 0;
              bool inside = true;
              for (size_t d = spatial; d-- > 0;) {
                k_pos[d] = krem % g.kernel[d];
                krem /= g.kernel[d];
              }
              for (size_t d = 0; d < spatial; ++d) {
                int64_t p = out_pos[d] * g.strides[d] - g.pads_begin[d] + k_pos[d] * g.dilations[d];
                if (p < 0 || p >= xs[d]) {
                  inside = false;
                  break;
                }
                x_index = x_index * xs[d] + p;
              }
              if (!inside) continue;
              acc += static_cast<int64_t>(xp[x_index] - x_zero.at(0)) * static_cast<int64_t>(wp[k] - w_zero.at(m));
            }
          }
          dst[(n * M + m) * out_size + o] =
              requantize<Q>(acc, x_scale.at(0), w_scale.at(m), y_scale.at(0), y_zero.at(0));
        }
      }
    }
  });
  if (!ok) return unsupported_dtype(node, y.dtype(), "output");
  return ok_status();
}

}  // namespace

void register_quantization_kernels(KernelTable& table) {
  table.add("QuantizeLinear", CpuKernel{nullptr, run_quantize});
  table.add("DequantizeLinear", CpuKernel{nullptr, run_dequantize});
  table.add("DynamicQuantizeLinear", CpuKernel{nullptr, run_dynamic_quantize});
  table.add("QLinearMatMul", CpuKernel{nullptr, run_qlinear_matmul});
  table.add("QLinearConv", CpuKernel{nullptr, run_qlinear_conv});
}

}  // namespace kiln::cpu
