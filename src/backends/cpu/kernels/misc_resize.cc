// Resize and Upsample on the CPU. The interpolation is separable: each resized
// axis is a small weighted sum over neighbouring input positions, applied one
// axis at a time from the innermost outwards (the order the ONNX reference
// nests its 1-D interpolations in), in double precision.
#include <algorithm>
#include <cmath>

#include "backends/cpu/kernels/misc_kernels.h"
#include "core/dispatch.h"
#include "ir/ops/misc_resize_plan.h"

namespace kiln::cpu {
namespace {

enum class Mode { kNearest, kLinear, kCubic };

struct ResizeOptions {
  Mode mode = Mode::kNearest;
  std::string coordinate_mode = "half_pixel";
  std::string nearest_mode = "round_prefer_floor";
  double cubic_a = -0.75;
  bool exclude_outside = false;
  bool antialias = false;
  double extrapolation_value = 0.0;
};

Expected<ResizeOptions> read_options(const Node& node) {
  ResizeOptions o;
  std::string mode = node.attr_string("mode", "nearest");
  if (mode == "nearest")
    o.mode = Mode::kNearest;
  else if (mode == "linear" || mode == "bilinear" || mode == "trilinear")
    o.mode = Mode::kLinear;
  else if (mode == "cubic" || mode == "bicubic")
    o.mode = Mode::kCubic;
  else
    return invalid_argument(node.describe() + ": mode '" + mode + "' is not nearest, linear or cubic");
  const bool legacy = node.op_type == "Upsample" || node.opset < 11;
  if (legacy) {
    // Upsample and Resize-10 sample asymmetrically; nearest floors when
    // upsampling and ceils when downsampling ("simple" in onnxruntime).
    o.coordinate_mode = "asymmetric";
    o.nearest_mode = "simple";
  } else {
    o.coordinate_mode = node.attr_string("coordinate_transformation_mode", "half_pixel");
    o.nearest_mode = node.attr_string("nearest_mode", "round_prefer_floor");
    o.cubic_a = node.attr_float("cubic_coeff_a", -0.75);
    o.exclude_outside = node.attr_int("exclude_outside", 0) != 0;
    o.extrapolation_value = node.attr_float("extrapolation_value", 0.0);
    o.antialias = node.attr_int("antialias", 0) != 0;
  }
  static const char* kCoordinateModes[] = {"half_pixel",          "pytorch_half_pixel", "align_corners",
                                           "asymmetric",          "tf_crop_and_resize", "half_pixel_symmetric",
                                           "tf_half_pixel_for_nn"};
  if (std::find(std::begin(kCoordinateModes), std::end(kCoordinateModes), o.coordinate_mode) ==
      std::end(kCoordinateModes)) {
    return invalid_argument(node.describe() + ": coordinate_transformation_mode '" + o.coordinate_mode +
                            "' is not supported");
  }
  static const char* kNearestModes[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil", "simple"};
  if (std::find(std::begin(kNearestModes), std::end(kNearestModes), o.nearest_mode) == std::end(kNearestModes)) {
    return invalid_argument(node.describe() + ": nearest_mode '" + o.nearest_mode + "' is not supported");
  }
  return o;
}

// One output position along one axis: either the extrapolation value or a
// weighted sum of input positions.
struct Sample {
  bool extrapolate = false;
  std::vector<std::pair<int64_t, double>> taps;
};

double original_coordinate(const ResizeOptions& o, double x, double scale, int64_t in, int64_t out, double roi_start,
                           double roi_end) {
  const double out_width = scale * static_cast<double>(in);
  const std::string& m = o.coordinate_mode;
  if (m == "align_corners") return out_width == 1 ? 0.0 : x * static_cast<double>(in - 1) / (out_width - 1);
  if (m == "asymmetric") return x / scale;
  if (m == "tf_crop_and_resize") {
    double span = (roi_end - roi_start) * static_cast<double>(in - 1);
    double v = out_width == 1 ? span / 2 : x * span / (out_width - 1);
    return v + roi_start * static_cast<double>(in - 1);
  }
  if (m == "pytorch_half_pixel") return out_width == 1 ? -0.5 : (x + 0.5) / scale - 0.5;
  if (m == "tf_half_pixel_for_nn") return (x + 0.5) / scale;
  if (m == "half_pixel_symmetric") {
    double adjustment = static_cast<double>(out) / out_width;
    double center = static_cast<double>(in) / 2;
    return center * (1 - adjustment) + (x + 0.5) / scale - 0.5;
  }
  return (x + 0.5) / scale - 0.5;  // half_pixel
}

int64_t nearest_index(const ResizeOptions& o, double x, bool downsampling) {
  double f = std::floor(x);
  if (x == f) return static_cast<int64_t>(f);
  double ratio = x - f;
  const std::string& m = o.nearest_mode;
  bool up;
  if (m == "round_prefer_floor")
    up = ratio > 0.5;
  else if (m == "round_prefer_ceil")
    up = ratio >= 0.5;
  else if (m == "floor")
    up = false;
  else if (m == "ceil")
    up = true;
  else
    up = downsampling;  // simple
  return static_cast<int64_t>(f) + (up ? 1 : 0);
}

std::vector<double> interpolation_coefficients(const ResizeOptions& o, double ratio, double scale) {
  std::vector<double> c;
  if (o.mode == Mode::kLinear) {
    if (!o.antialias) return {1 - ratio, ratio};
    double s = std::min(scale, 1.0);
    int64_t start = static_cast<int64_t>(std::floor(-1 / s) + 1);
    int64_t footprint = 2 - 2 * start;
    double sum = 0;
    for (int64_t i = 0; i < footprint; ++i) {
      double arg = (static_cast<double>(start + i) - ratio) * s;
      double v = std::clamp(1 - std::fabs(arg), 0.0, 1.0);
      c.push_back(v);
      sum += v;
    }
    for (double& v : c) v /= sum;
    return c;
  }
  const double a = o.cubic_a;
  if (!o.antialias) {
    double r = ratio, q = 1 - ratio;
    return {((a * (r + 1) - 5 * a) * (r + 1) + 8 * a) * (r + 1) - 4 * a, ((a + 2) * r - (a + 3)) * r * r + 1,
            ((a + 2) * q - (a + 3)) * q * q + 1, ((a * (q + 1) - 5 * a) * (q + 1) + 8 * a) * (q + 1) - 4 * a};
  }
  double s = std::min(scale, 1.0);
  auto kernel = [a](double x) {
    x = std::fabs(x);
    double x2 = x * x, x3 = x2 * x;
    if (x <= 1) return (a + 2) * x3 - (a + 3) * x2 + 1;
    if (x < 2) return a * x3 - 5 * a * x2 + 8 * a * x - 4 * a;
    return 0.0;
  };
  int64_t i_start = static_cast<int64_t>(std::floor(-2 / s) + 1);
  int64_t i_end = 2 - i_start;
  double sum = 0;
  for (int64_t i = i_start; i < i_end; ++i) {
    double v = kernel(s * (static_cast<double>(i) - ratio));
    c.push_back(v);
    sum += v;
  }
  for (double& v : c) v /= sum;
  return c;
}

// The ONNX reference pads the input by ceil(n/2) with edge values and takes the
// n positions nearest to x (ties go left); reproduce that choice exactly.
Sample interpolation_sample(const ResizeOptions& o, double x, double scale, int64_t in) {
  Sample s;
  double f = std::floor(x);
  double ratio = x == f ? 1.0 : x - f;
  std::vector<double> coeffs = interpolation_coefficients(o, ratio, scale);
  const int64_t n = static_cast<int64_t>(coeffs.size());
  const int64_t pad = (n + 1) / 2;
  const int64_t limit = in + 2 * pad;
  const double xp = x + static_cast<double>(pad);
  int64_t left = static_cast<int64_t>(std::floor(xp));
  int64_t right = left + 1;
  if (left >= limit) {
    left = limit - 1;
    right = limit;
  }
  if (left < 0) {
    left = -1;
    right = 0;
  }
  int64_t lo = left + 1, hi = left;  // chosen range is [lo, hi]
  for (int64_t k = 0; k < n; ++k) {
    bool left_ok = left >= 0;
    bool right_ok = right < limit;
    if (left_ok &&
        (!right_ok || std::fabs(xp - static_cast<double>(left)) <= std::fabs(xp - static_cast<double>(right)))) {
      lo = left--;
    } else if (right_ok) {
      hi = right++;
    }
  }
  if (hi < lo) hi = lo + n - 1;
  if (o.exclude_outside) {
    double sum = 0;
    for (int64_t k = 0; k < n; ++k) {
      int64_t idx = lo + k - pad;
      if (idx < 0 || idx >= in) coeffs[static_cast<size_t>(k)] = 0;
      sum += coeffs[static_cast<size_t>(k)];
    }
    if (sum != 0)
      for (double& c : coeffs) c /= sum;
  }
  for (int64_t k = 0; k < n; ++k) {
    double w = coeffs[static_cast<size_t>(k)];
    if (w == 0) continue;
    int64_t idx = std::clamp<int64_t>(lo + k - pad, 0, in - 1);
    s.taps.emplace_back(idx, w);
  }
  return s;
}

std::vector<Sample> axis_samples(const ResizeOptions& o, const ResizePlan& plan, size_t axis, int64_t in, int64_t out) {
  std::vector<Sample> samples(static_cast<size_t>(out));
  const double scale = plan.scales[axis];
  for (int64_t x = 0; x < out; ++x) {
    Sample& s = samples[static_cast<size_t>(x)];
    double xo =
        original_coordinate(o, static_cast<double>(x), scale, in, out, plan.roi_start[axis], plan.roi_end[axis]);
    if (o.coordinate_mode == "tf_crop_and_resize" && (xo < 0 || xo > static_cast<double>(in - 1))) {
      s.extrapolate = true;
      continue;
    }
    if (o.mode == Mode::kNearest) {
      int64_t idx = nearest_index(o, xo, scale < 1);
      s.taps.emplace_back(std::clamp<int64_t>(idx, 0, in - 1), 1.0);
    } else {
      s = interpolation_sample(o, xo, scale, in);
    }
  }
  return samples;
}

bool is_identity(const ResizeOptions& o, const ResizePlan& plan, size_t axis, int64_t in, int64_t out) {
  return in == out && plan.scales[axis] == 1.0 && o.coordinate_mode != "tf_crop_and_resize" &&
         o.coordinate_mode != "tf_half_pixel_for_nn";
}

Status run_resize(KernelArgs& args) {
  const Node& node = args.node;
  const Tensor& x = args.input(0);
  KILN_ASSIGN_OR_RETURN(ResizeOptions options, read_options(node));
  KILN_ASSIGN_OR_RETURN(auto maybe_plan, plan_resize(node, x.dims(), args.inputs));
  if (!maybe_plan) return internal_error(node.describe() + ": resize inputs are unknown at execution");
  const ResizePlan& plan = *maybe_plan;
  Tensor& y = args.output(0);
  if (!y.defined() || y.dims() != plan.output_dims) y = Tensor::empty(x.dtype(), plan.output_dims);

  std::vector<double> current(static_cast<size_t>(x.element_count()));
  bool ok = dispatch_all_numeric(x.dtype(), [&]<typename T>() {
    const T* src = x.data<T>();
    for (size_t i = 0; i < current.size(); ++i) current[i] = to_double(src[i]);
  });
  if (!ok) return unsupported_dtype(node, x.dtype());

  Dims dims = x.dims();
  for (size_t axis = dims.size(); axis-- > 0;) {
    const int64_t in = dims[axis];
    const int64_t out = plan.output_dims[axis];
    if (is_identity(options, plan, axis, in, out)) continue;
    std::vector<Sample> samples = axis_samples(options, plan, axis, in, out);
    int64_t outer = 1, inner = 1;
    for (size_t a = 0; a < axis; ++a) outer *= dims[a];
    for (size_t a = axis + 1; a < dims.size(); ++a) inner *= dims[a];
    std::vector<double> next(static_cast<size_t>(outer * out * inner));
#pragma omp parallel for if (outer * out * inner > 65536)
    for (int64_t o = 0; o < outer; ++o) {
      const double* src = current.data() + o * in * inner;
      double* dst = next.data() + o * out * inner;
      for (int64_t j = 0; j < out; ++j) {
        const Sample& s = samples[static_cast<size_t>(j)];
        double* d = dst + j * inner;
        if (s.extrapolate) {
          std::fill(d, d + inner, options.extrapolation_value);
          continue;
        }
        std::fill(d, d + inner, 0.0);
        for (const auto& [idx, w] : s.taps) {
          const double* srow = src + idx * inner;
          for (int64_t k = 0; k < inner; ++k) d[k] += w * srow[k];
        }
      }
    }
    current.swap(next);
    dims[axis] = out;
  }
  dispatch_all_numeric(y.dtype(), [&]<typename T>() {
    T* dst = y.data<T>();
    for (size_t i = 0; i < current.size(); ++i) dst[i] = from_double<T>(current[i]);
  });
  return ok_status();
}

}  // namespace

void register_resize_kernels(KernelTable& table) {
  CpuKernel kernel;
  kernel.supports = [](const Node& node, const std::vector<TensorInfo>&) -> Status {
    return read_options(node).status();
  };
  kernel.run = run_resize;
  table.add("Resize", kernel);
  table.add("Upsample", kernel);
}

}  // namespace kiln::cpu
