// MaxPool (with Indices), AveragePool, LpPool, the global pools and MaxUnpool.
// Memory-bound loops parallel over (batch, channel) planes.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "backends/cpu/kernels/nn_conv_reference.h"
#include "backends/cpu/kernels/nn_kernels.h"
#include "backends/cpu/kernels/nn_onednn.h"
#include "core/dispatch.h"

namespace kiln::cpu {
namespace {

enum class PoolKind { kMax, kAverage, kLp };

struct PoolProblem {
  int64_t planes = 0;  // batch * channels
  int64_t batch = 0, channels = 0;
  WindowGeometry geometry;
  Geometry3d g;
  bool count_include_pad = false;
  double p = 2;
  bool column_major_indices = false;
};

Tensor& prepare_output(KernelArgs& args, size_t index, DataType dtype, const Dims& dims) {
  Tensor& out = args.output(index);
  if (!out.defined() || out.dims() != dims || out.dtype() != dtype) out = Tensor::empty(dtype, dims);
  return out;
}

Expected<PoolProblem> pool_problem(const Node& node, const Tensor& x, Dims* out_dims) {
  if (x.rank() < 3 || x.rank() > 5) {
    return unimplemented(node.describe() + ": input X has shape " + dims_to_string(x.dims()) +
                         "; only 1-D, 2-D and 3-D pooling is supported");
  }
  Dims spatial(x.dims().begin() + 2, x.dims().end());
  Dims kernel = node.attr_ints("kernel_shape", {});
  if (kernel.size() != spatial.size()) {
    return invalid_argument(node.describe() + ": kernel_shape " + dims_to_string(kernel) + " does not match input X " +
                            x.describe());
  }
  KILN_ASSIGN_OR_RETURN(WindowGeometry geometry,
                        forward_window_geometry(node, spatial, kernel, node.attr_int("ceil_mode", 0) != 0));
  PoolProblem p;
  p.planes = x.dim(0) * x.dim(1);
  p.batch = x.dim(0);
  p.channels = x.dim(1);
  p.geometry = geometry;
  p.g = to_3d(geometry);
  p.count_include_pad = node.attr_int("count_include_pad", 0) != 0;
  p.p = node.attr_float("p", 2.0);
  p.column_major_indices = node.attr_int("storage_order", 0) != 0;
  *out_dims = {x.dim(0), x.dim(1)};
  out_dims->insert(out_dims->end(), geometry.output.begin(), geometry.output.end());
  return p;
}

// Calls fn(flat input offset within the plane, d, h, w) for every window cell
// that lies inside the input; returns how many cells lie inside the padded
// extent [-pad, in + pad_end) (what count_include_pad divides by).
template <typename Fn>
int64_t for_each_window_cell(const Geometry3d& g, int64_t od, int64_t oh, int64_t ow, Fn&& fn) {
  int64_t padded_cells = 1;
  int64_t start[3] = {od * g.stride[0] - g.pad[0], oh * g.stride[1] - g.pad[1], ow * g.stride[2] - g.pad[2]};
  for (int axis = 0; axis < 3; ++axis) {
    int64_t cells = 0;
    for (int64_t k = 0; k < g.kernel[axis]; ++k) {
      int64_t pos = start[axis] + k * g.dilation[axis];
      if (pos >= -g.pad[axis] && pos < g.in[axis] + g.pad_end[axis]) ++cells;
    }
    padded_cells *= cells;
  }
  for (int64_t kd = 0; kd < g.kernel[0]; ++kd) {
    int64_t d = start[0] + kd * g.dilation[0];
    if (d < 0 || d >= g.in[0]) continue;
    for (int64_t kh = 0; kh < g.kernel[1]; ++kh) {
      int64_t h = start[1] + kh * g.dilation[1];
      if (h < 0 || h >= g.in[1]) continue;
      for (int64_t kw = 0; kw < g.kernel[2]; ++kw) {
        int64_t w = start[2] + kw * g.dilation[2];
        if (w < 0 || w >= g.in[2]) continue;
        fn((d * g.in[1] + h) * g.in[2] + w, d, h, w);
      }
    }
  }
  return padded_cells;
}

template <typename T>
void max_pool(const PoolProblem& p, const T* x, T* y, int64_t* indices) {
  const Geometry3d& g = p.g;
  const int64_t in_size = g.in_size(), out_size = g.out_size();
#pragma omp parallel for schedule(static)
  for (int64_t plane = 0; plane < p.planes; ++plane) {
    const T* xp = x + plane * in_size;
    int64_t o = plane * out_size;
    for (int64_t od = 0; od < g.out[0]; ++od)
      for (int64_t oh = 0; oh < g.out[1]; ++oh)
        for (int64_t ow = 0; ow < g.out[2]; ++ow, ++o) {
          double best = -std::numeric_limits<double>::infinity();
          int64_t best_index = -1, best_d = 0, best_h = 0, best_w = 0;
          for_each_window_cell(g, od, oh, ow, [&](int64_t i, int64_t d, int64_t h, int64_t w) {
            double v = to_double(xp[i]);
            if (best_index < 0 || v > best) best = v, best_index = i, best_d = d, best_h = h, best_w = w;
          });
          y[o] = best_index < 0 ? T{} : xp[best_index];
          if (indices) {
            int64_t within =
                p.column_major_indices ? best_d + best_h * g.in[0] + best_w * g.in[0] * g.in[1] : best_index;
            indices[o] = plane * in_size + within;
          }
        }
  }
}

template <typename T>
void average_or_lp_pool(const PoolProblem& p, PoolKind kind, const T* x, T* y) {
  const Geometry3d& g = p.g;
  const int64_t in_size = g.in_size(), out_size = g.out_size();
#pragma omp parallel for schedule(static)
  for (int64_t plane = 0; plane < p.planes; ++plane) {
    const T* xp = x + plane * in_size;
    int64_t o = plane * out_size;
    for (int64_t od = 0; od < g.out[0]; ++od)
      for (int64_t oh = 0; oh < g.out[1]; ++oh)
        for (int64_t ow = 0; ow < g.out[2]; ++ow, ++o) {
          double sum = 0;
          int64_t real_cells = 0;
          int64_t padded_cells = for_each_window_cell(g, od, oh, ow, [&](int64_t i, int64_t, int64_t, int64_t) {
            double v = to_double(xp[i]);
            sum += kind == PoolKind::kLp ? std::pow(std::fabs(v), p.p) : v;
            ++real_cells;
          });
          double result;
          if (kind == PoolKind::kLp) {
            result = std::pow(sum, 1.0 / p.p);
          } else {
            int64_t divisor = p.count_include_pad ? padded_cells : real_cells;
            result = divisor > 0 ? sum / static_cast<double>(divisor) : 0.0;
          }
          y[o] = from_double<T>(result);
        }
  }
}

// oneDNN for max and average pooling where its semantics match ONNX's.
Status run_onednn_pool(const PoolProblem& p, PoolKind kind, const float* x, float* y) {
  if (kind == PoolKind::kLp) return unimplemented("LpPool");
  OnednnPoolKind onednn_kind = OnednnPoolKind::kMax;
  if (kind == PoolKind::kAverage) {
    onednn_kind = p.count_include_pad ? OnednnPoolKind::kAverageIncludePad : OnednnPoolKind::kAverageExcludePad;
    if (p.count_include_pad) {
      const WindowGeometry& g = p.geometry;
      for (size_t i = 0; i < g.rank(); ++i) {
        int64_t last_end = (g.output[i] - 1) * g.strides[i] + (g.kernel[i] - 1) * g.dilations[i] + 1;
        if (last_end > g.input[i] + g.pads_begin[i] + g.pads_end[i]) return unimplemented("window past the padding");
      }
    }
  }
  return onednn_pool(onednn_kind, p.batch, p.channels, p.geometry, x, y);
}

Status run_pool(KernelArgs& args, PoolKind kind) {
  const Node& node = args.node;
  const Tensor& x = args.input(0);
  Dims out_dims;
  KILN_ASSIGN_OR_RETURN(PoolProblem p, pool_problem(node, x, &out_dims));
  Tensor& y = prepare_output(args, 0, x.dtype(), out_dims);
  int64_t* indices = nullptr;
  if (kind == PoolKind::kMax && node.has_output(1)) {
    indices = prepare_output(args, 1, DataType::kInt64, out_dims).data<int64_t>();
  }
  if (x.dtype() == DataType::kFloat32 && !indices && y.element_count() > 0) {
    Status status = run_onednn_pool(p, kind, x.data<float>(), y.data<float>());
    if (status.code() != StatusCode::kUnimplemented) return status;
  }
  bool handled = false;
  if (kind == PoolKind::kMax) {
    dispatch_all_numeric(x.dtype(), [&]<typename T>() {
      if constexpr (!std::is_same_v<T, bool>) {
        max_pool<T>(p, x.data<T>(), y.data<T>(), indices);
        handled = true;
      }
    });
  } else {
    handled =
        dispatch_float(x.dtype(), [&]<typename T>() { average_or_lp_pool<T>(p, kind, x.data<T>(), y.data<T>()); });
  }
  return handled ? ok_status() : unsupported_dtype(node, x.dtype());
}

template <typename T>
void global_pool(PoolKind kind, double p, int64_t planes, int64_t size, const T* x, T* y) {
#pragma omp parallel for schedule(static)
  for (int64_t plane = 0; plane < planes; ++plane) {
    const T* xp = x + plane * size;
    double acc = kind == PoolKind::kMax ? -std::numeric_limits<double>::infinity() : 0.0;
    for (int64_t i = 0; i < size; ++i) {
      double v = to_double(xp[i]);
      if (kind == PoolKind::kMax)
        acc = std::max(acc, v);
      else if (kind == PoolKind::kLp)
        acc += std::pow(std::fabs(v), p);
      else
        acc += v;
    }
    if (kind == PoolKind::kAverage) acc /= static_cast<double>(size);
    if (kind == PoolKind::kLp) acc = std::pow(acc, 1.0 / p);
    y[plane] = from_double<T>(acc);
  }
}

Status run_global_pool(KernelArgs& args, PoolKind kind) {
  const Node& node = args.node;
  const Tensor& x = args.input(0);
  if (x.rank() < 3) {
    return invalid_argument(node.describe() + ": input X " + x.describe() + " must have rank >= 3");
  }
  Dims out_dims = x.dims();
  int64_t size = 1;
  for (size_t i = 2; i < out_dims.size(); ++i) size *= out_dims[i], out_dims[i] = 1;
  Tensor& y = prepare_output(args, 0, x.dtype(), out_dims);
  double p = node.attr_float("p", 2.0);
  int64_t planes = x.dim(0) * x.dim(1);
  bool handled =
      dispatch_float(x.dtype(), [&]<typename T>() { global_pool<T>(kind, p, planes, size, x.data<T>(), y.data<T>()); });
  return handled ? ok_status() : unsupported_dtype(node, x.dtype());
}

// The extents MaxPool's input had: where the indices point.
Expected<Dims> unpooled_dims(const Node& node, const Tensor& x) {
  if (x.rank() < 3) return invalid_argument(node.describe() + ": input X " + x.describe() + " must have rank >= 3");
  size_t rank = x.rank() - 2;
  Dims kernel = node.attr_ints("kernel_shape", {});
  Dims strides = node.attr_ints("strides", Dims(rank, 1));
  Dims pads = node.attr_ints("pads", Dims(2 * rank, 0));
  if (kernel.size() != rank || strides.size() != rank || pads.size() != 2 * rank) {
    return invalid_argument(node.describe() + ": kernel_shape, strides or pads do not match input X " + x.describe());
  }
  Dims dims = {x.dim(0), x.dim(1)};
  for (size_t i = 0; i < rank; ++i) {
    dims.push_back((x.dim(i + 2) - 1) * strides[i] + kernel[i] - pads[i] - pads[i + rank]);
  }
  return dims;
}

// Copies the leading corner of `from` that fits into `to` (both dense, same rank).
void copy_corner(const char* from, const Dims& from_dims, char* to, const Dims& to_dims, size_t element) {
  size_t rank = from_dims.size();
  Dims extent(rank);
  for (size_t i = 0; i < rank; ++i) extent[i] = std::min(from_dims[i], to_dims[i]);
  if (element_count(extent) == 0) return;
  Dims index(rank, 0);
  while (true) {
    int64_t src = 0, dst = 0;
    for (size_t i = 0; i < rank; ++i) src = src * from_dims[i] + index[i], dst = dst * to_dims[i] + index[i];
    std::memcpy(to + dst * element, from + src * element, element);
    size_t axis = rank;
    while (axis > 0 && ++index[axis - 1] == extent[axis - 1]) index[--axis] = 0;
    if (axis == 0) return;
  }
}

// Scatters X into the unpooled shape at the indices; a larger output_shape
// keeps that block in its leading corner and zeros elsewhere.
Status run_max_unpool(KernelArgs& args) {
  const Node& node = args.node;
  const Tensor& x = args.input(0);
  const Tensor& indices = args.input(1);
  if (indices.dims() != x.dims()) {
    return invalid_argument(node.describe() + ": indices " + indices.describe() + " must have the shape of X " +
                            x.describe());
  }
  KILN_ASSIGN_OR_RETURN(Dims inferred, unpooled_dims(node, x));
  Dims out_dims = args.has_input(2) ? args.input(2).to_int64_vector() : inferred;
  if (out_dims.size() != inferred.size()) {
    return invalid_argument(node.describe() + ": output_shape " + dims_to_string(out_dims) + " must have rank " +
                            std::to_string(inferred.size()));
  }
  Tensor scattered = Tensor::zeros(x.dtype(), inferred);
  std::vector<int64_t> where = indices.to_int64_vector();
  int64_t limit = scattered.element_count();
  size_t element = dtype_size(x.dtype());
  const char* src = static_cast<const char*>(x.raw_data());
  char* dst = static_cast<char*>(scattered.raw_data());
  for (size_t i = 0; i < where.size(); ++i) {
    if (where[i] < 0 || where[i] >= limit) {
      return out_of_range(node.describe() + ": index " + std::to_string(where[i]) + " is outside the unpooled shape " +
                          dims_to_string(inferred));
    }
    std::memcpy(dst + where[i] * element, src + i * element, element);
  }
  if (out_dims == inferred) {
    args.output(0) = scattered;
    return ok_status();
  }
  Tensor& y = prepare_output(args, 0, x.dtype(), out_dims);
  std::memset(y.raw_data(), 0, y.byte_size());
  copy_corner(static_cast<const char*>(scattered.raw_data()), inferred, static_cast<char*>(y.raw_data()), out_dims,
              element);
  return ok_status();
}

}  // namespace

void register_pool_kernels(KernelTable& table) {
  std::vector<DataType> max_types = float_types();
  for (DataType t : {DataType::kInt8, DataType::kUint8, DataType::kInt16, DataType::kUint16, DataType::kInt32,
                     DataType::kInt64, DataType::kUint32, DataType::kUint64}) {
    max_types.push_back(t);
  }
  table.add("MaxPool", CpuKernel{input_type_in(max_types), [](KernelArgs& a) { return run_pool(a, PoolKind::kMax); }});
  table.add("AveragePool",
            CpuKernel{input_type_in(float_types()), [](KernelArgs& a) { return run_pool(a, PoolKind::kAverage); }});
  table.add("LpPool",
            CpuKernel{input_type_in(float_types()), [](KernelArgs& a) { return run_pool(a, PoolKind::kLp); }});
  table.add("GlobalMaxPool",
            CpuKernel{input_type_in(float_types()), [](KernelArgs& a) { return run_global_pool(a, PoolKind::kMax); }});
  table.add("GlobalAveragePool", CpuKernel{input_type_in(float_types()),
                                           [](KernelArgs& a) { return run_global_pool(a, PoolKind::kAverage); }});
  table.add("GlobalLpPool",
            CpuKernel{input_type_in(float_types()), [](KernelArgs& a) { return run_global_pool(a, PoolKind::kLp); }});
  table.add("MaxUnpool", CpuKernel{nullptr, run_max_unpool});
}

}  // namespace kiln::cpu
