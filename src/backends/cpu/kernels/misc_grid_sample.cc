// GridSample on the CPU for any number of spatial axes: each output position
// reads a small tensor product of input taps (1, 2 or 4 per axis for nearest,
// linear, cubic), with zeros/border/reflection padding as the ONNX reference.
#include <algorithm>
#include <cmath>

#include "backends/cpu/kernels/misc_kernels.h"
#include "core/dispatch.h"

namespace kiln::cpu {
namespace {

enum class Sampling { kNearest, kLinear, kCubic };
enum class Padding { kZeros, kBorder, kReflection };

struct Tap {
  int64_t index = 0;  // -1: outside (zeros padding)
  double weight = 0;
};

double reflect(double x, double lo, double hi) {
  const double range = hi - lo;
  if (range <= 0) return lo;
  if (x < lo) {
    double dx = lo - x;
    int64_t n = static_cast<int64_t>(dx / range);
    double r = dx - static_cast<double>(n) * range;
    return n % 2 == 0 ? lo + r : hi - r;
  }
  if (x > hi) {
    double dx = x - hi;
    int64_t n = static_cast<int64_t>(dx / range);
    double r = dx - static_cast<double>(n) * range;
    return n % 2 == 0 ? hi - r : lo + r;
  }
  return x;
}

int64_t padded_index(int64_t i, int64_t extent, Padding padding, double lo, double hi) {
  if (padding == Padding::kZeros) return i >= 0 && i < extent ? i : -1;
  if (padding == Padding::kBorder) return std::clamp<int64_t>(i, 0, extent - 1);
  return std::clamp<int64_t>(static_cast<int64_t>(reflect(static_cast<double>(i), lo, hi)), 0, extent - 1);
}

void cubic_coefficients(double t, double* c) {
  const double a = -0.75;
  t = std::fabs(t);
  c[0] = ((a * (t + 1) - 5 * a) * (t + 1) + 8 * a) * (t + 1) - 4 * a;
  c[1] = ((a + 2) * t - (a + 3)) * t * t + 1;
  c[2] = ((a + 2) * (1 - t) - (a + 3)) * (1 - t) * (1 - t) + 1;
  c[3] = ((a * (2 - t) - 5 * a) * (2 - t) + 8 * a) * (2 - t) - 4 * a;
}

std::vector<Tap> axis_taps(double normalized, int64_t extent, bool align_corners, Sampling sampling, Padding padding) {
  double x = align_corners ? (normalized + 1) / 2.0 * static_cast<double>(extent - 1)
                           : ((normalized + 1) * static_cast<double>(extent) - 1) / 2.0;
  const double lo = align_corners ? 0.0 : -0.5;
  const double hi = align_corners ? static_cast<double>(extent - 1) : static_cast<double>(extent) - 0.5;
  if (sampling == Sampling::kNearest) x = std::nearbyint(x);
  if (x < lo || x > hi) {
    if (padding == Padding::kBorder)
      x = std::clamp(x, 0.0, static_cast<double>(extent - 1));
    else if (padding == Padding::kReflection)
      x = reflect(x, lo, hi);
  }
  std::vector<Tap> taps;
  if (sampling == Sampling::kNearest) {
    taps.push_back({padded_index(static_cast<int64_t>(x), extent, padding, lo, hi), 1.0});
    return taps;
  }
  const int64_t x0 = static_cast<int64_t>(std::floor(x));
  const double t = x - static_cast<double>(x0);
  if (sampling == Sampling::kLinear) {
    taps.push_back({padded_index(x0, extent, padding, lo, hi), 1 - t});
    taps.push_back({padded_index(x0 + 1, extent, padding, lo, hi), t});
    return taps;
  }
  double c[4];
  cubic_coefficients(t, c);
  for (int k = 0; k < 4; ++k) taps.push_back({padded_index(x0 - 1 + k, extent, padding, lo, hi), c[k]});
  return taps;
}

Status run_grid_sample(KernelArgs& args) {
  const Node& node = args.node;
  const Tensor& x = args.input(0);
  const Tensor& grid = args.input(1);
  Tensor& y = args.output(0);
  std::string mode = node.attr_string("mode", node.opset >= 20 ? "linear" : "bilinear");
  Sampling sampling;
  if (mode == "nearest")
    sampling = Sampling::kNearest;
  else if (mode == "bilinear" || mode == "linear")
    sampling = Sampling::kLinear;
  else if (mode == "bicubic" || mode == "cubic")
    sampling = Sampling::kCubic;
  else
    return invalid_argument(node.describe() + ": mode '" + mode + "' is not supported");
  std::string pad = node.attr_string("padding_mode", "zeros");
  Padding padding;
  if (pad == "zeros")
    padding = Padding::kZeros;
  else if (pad == "border")
    padding = Padding::kBorder;
  else if (pad == "reflection")
    padding = Padding::kReflection;
  else
    return invalid_argument(node.describe() + ": padding_mode '" + pad + "' is not supported");
  const bool align_corners = node.attr_int("align_corners", 0) != 0;

  const size_t spatial = x.rank() - 2;
  const int64_t N = x.dim(0), C = x.dim(1);
  Dims in_dims(x.dims().begin() + 2, x.dims().end());
  const int64_t in_size = element_count(in_dims);
  const int64_t out_size = element_count(Dims(grid.dims().begin() + 1, grid.dims().end() - 1));
  std::vector<double> xv = x.to_double_vector(), gv = grid.to_double_vector();
  std::vector<double> out(static_cast<size_t>(N * C * out_size));
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t o = 0; o < out_size; ++o) {
      const double* g = gv.data() + (n * out_size + o) * static_cast<int64_t>(spatial);
      // The grid lists coordinates innermost axis first (x, y, ...).
      std::vector<std::vector<Tap>> taps(spatial);
      for (size_t d = 0; d < spatial; ++d) {
        taps[d] = axis_taps(g[spatial - 1 - d], in_dims[d], align_corners, sampling, padding);
      }
      int64_t combinations = 1;
      for (const auto& t : taps) combinations *= static_cast<int64_t>(t.size());
      std::vector<double> sums(static_cast<size_t>(C), 0.0);
      for (int64_t combo = 0; combo < combinations; ++combo) {
        double weight = 1;
        int64_t index = 0, rem = combo;
        bool outside = false;
        for (size_t d = 0; d < spatial; ++d) {
          const int64_t count = static_cast<int64_t>(taps[d].size());
          const Tap& t = taps[d][static_cast<size_t>(rem % count)];
          rem /= count;
          weight *= t.weight;
          if (t.index < 0) outside = true;
          index = index * in_dims[d] + t.index;
        }
        if (outside || weight == 0) continue;
        for (int64_t ch = 0; ch < C; ++ch) sums[ch] += weight * xv[(n * C + ch) * in_size + index];
      }
      for (int64_t ch = 0; ch < C; ++ch) out[(n * C + ch) * out_size + o] = sums[ch];
    }
  }
  bool ok = dispatch_float(y.dtype(), [&]<typename T>() {
    T* dst = y.data<T>();
    for (size_t i = 0; i < out.size(); ++i) dst[i] = from_double<T>(out[i]);
  });
  if (!ok) return unsupported_dtype(node, y.dtype());
  return ok_status();
}

}  // namespace

void register_grid_sample_kernel(KernelTable& table) { table.add("GridSample", CpuKernel{nullptr, run_grid_sample}); }

}  // namespace kiln::cpu
