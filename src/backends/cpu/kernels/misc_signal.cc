// Window functions, DFT, STFT and MelWeightMatrix on the CPU. Transforms are
// direct O(n^2) sums in double with exact twiddle reduction (k*n mod N), which
// is accurate and fast enough for the signal lengths these ops see here.
#include <cmath>
#include <numbers>

#include "backends/cpu/kernels/misc_kernels.h"
#include "core/dispatch.h"
#include "ir/ops/misc_ops.h"

namespace kiln::cpu {
namespace {

Status write_doubles(const Node& node, Tensor& out, const std::vector<double>& values) {
  bool ok = dispatch_all_numeric(out.dtype(), [&]<typename T>() {
    T* dst = out.data<T>();
    for (size_t i = 0; i < values.size(); ++i) dst[i] = from_double<T>(values[i]);
  });
  if (!ok) return unsupported_dtype(node, out.dtype(), "output");
  return ok_status();
}

Status run_window(KernelArgs& args) {
  const Node& node = args.node;
  const int64_t size = args.input(0).scalar_as_int64();
  const bool periodic = node.attr_int("periodic", 1) != 0;
  const double denominator = static_cast<double>(periodic ? size : size - 1);
  std::vector<double> w(static_cast<size_t>(std::max<int64_t>(size, 0)));
  const double pi = std::numbers::pi;
  for (int64_t i = 0; i < size; ++i) {
    const double n = static_cast<double>(i);
    double v;
    if (node.op_type == "HannWindow") {
      double s = std::sin(n * pi / denominator);
      v = s * s;
    } else if (node.op_type == "HammingWindow") {
      const double alpha = 25.0 / 46.0;
      v = alpha - std::cos(n * pi * 2 / denominator) * (1 - alpha);
    } else {
      v = 0.42 - std::cos(n * pi * 2 / denominator) * 0.5 + std::cos(n * pi * 4 / denominator) * 0.08;
    }
    w[static_cast<size_t>(i)] = v;
  }
  return write_doubles(node, args.output(0), w);
}

// One 1-D transform: `in` holds `in_length` complex samples with stride
// `stride` (in complex elements); writes `bins` outputs with the same stride.
void transform_line(const double* in, int64_t in_length, int64_t n, int64_t bins, bool inverse, int64_t stride,
                    double* out) {
  const double sign = inverse ? 1.0 : -1.0;
  const double two_pi = 2 * std::numbers::pi;
  const int64_t used = std::min(in_length, n);
  for (int64_t k = 0; k < bins; ++k) {
    double re = 0, im = 0;
    for (int64_t j = 0; j < used; ++j) {
      const double angle = sign * two_pi * static_cast<double>((k * j) % n) / static_cast<double>(n);
      const double c = std::cos(angle), s = std::sin(angle);
      const double xr = in[2 * j * stride], xi = in[2 * j * stride + 1];
      re += xr * c - xi * s;
      im += xr * s + xi * c;
    }
    if (inverse) {
      re /= static_cast<double>(n);
      im /= static_cast<double>(n);
    }
    out[2 * k * stride] = re;
    out[2 * k * stride + 1] = im;
  }
}

// Input values as interleaved complex numbers (imaginary 0 for real input).
std::vector<double> as_complex(const Tensor& x) {
  std::vector<double> v = x.to_double_vector();
  if (x.dims().back() == 2) return v;
  std::vector<double> c(v.size() * 2, 0.0);
  for (size_t i = 0; i < v.size(); ++i) c[2 * i] = v[i];
  return c;
}

Status run_dft(KernelArgs& args) {
  const Node& node = args.node;
  const Tensor& x = args.input(0);
  const int64_t rank = static_cast<int64_t>(x.rank());
  KILN_ASSIGN_OR_RETURN(auto maybe_axis, dft_signal_axis(node, rank, args.has_input(2) ? args.inputs[2] : nullptr));
  const int64_t axis = *maybe_axis;
  const bool inverse = node.attr_int("inverse", 0) != 0;
  const bool onesided = node.attr_int("onesided", 0) != 0;
  const int64_t in_length = x.dim(static_cast<size_t>(axis));
  // The inverse of a one-sided spectrum is the real signal it came from
  // (numpy's irfft): rebuild the Hermitian half, transform, keep the real part.
  const bool real_inverse = inverse && onesided;
  const int64_t n =
      args.has_input(1) ? args.input(1).scalar_as_int64() : (real_inverse ? 2 * (in_length - 1) : in_length);
  if (n <= 0) return invalid_argument(node.describe() + ": dft_length must be positive, got " + std::to_string(n));
  const int64_t bins = real_inverse ? n : onesided ? n / 2 + 1 : n;
  Dims out_dims = x.dims();
  out_dims.back() = real_inverse ? 1 : 2;
  out_dims[static_cast<size_t>(axis)] = bins;
  Tensor& y = args.output(0);
  if (!y.defined() || y.dims() != out_dims) y = Tensor::empty(x.dtype(), out_dims);
  std::vector<double> in = as_complex(x);
  int64_t outer = 1, inner = 1;
  for (int64_t a = 0; a < axis; ++a) outer *= x.dim(static_cast<size_t>(a));
  for (int64_t a = axis + 1; a < rank - 1; ++a) inner *= x.dim(static_cast<size_t>(a));
  if (real_inverse) {
    std::vector<double> full(static_cast<size_t>(outer * n * inner * 2), 0.0);
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t k = 0; k < n; ++k) {
        const int64_t source = k <= n / 2 ? k : n - k;
        const double sign = k <= n / 2 ? 1.0 : -1.0;
        if (source >= in_length) continue;
        for (int64_t i = 0; i < inner; ++i) {
          const double* s = in.data() + 2 * ((o * in_length + source) * inner + i);
          double* d = full.data() + 2 * ((o * n + k) * inner + i);
          d[0] = s[0];
          d[1] = sign * s[1];
        }
      }
    }
    in.swap(full);
  }
  const int64_t line_length = real_inverse ? n : in_length;
  std::vector<double> out(static_cast<size_t>(outer * bins * inner * 2));
#pragma omp parallel for collapse(2) if (outer * inner * bins * n > 1000000)
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      transform_line(in.data() + 2 * (o * line_length * inner + i), line_length, n, bins, inverse, inner,
                     out.data() + 2 * (o * bins * inner + i));
    }
  }
  if (real_inverse) {
    std::vector<double> real(out.size() / 2);
    for (size_t i = 0; i < real.size(); ++i) real[i] = out[2 * i];
    return write_doubles(node, y, real);
  }
  return write_doubles(node, y, out);
}

Status run_stft(KernelArgs& args) {
  const Node& node = args.node;
  const Tensor& signal = args.input(0);
  const int64_t step = args.input(1).scalar_as_int64();
  const Tensor* window = args.has_input(2) ? args.inputs[2] : nullptr;
  int64_t frame_length = args.has_input(3) ? args.input(3).scalar_as_int64() : (window ? window->dim(0) : -1);
  if (frame_length <= 0) return invalid_argument(node.describe() + ": needs a window or a positive frame_length");
  if (window && window->dim(0) != frame_length) {
    return invalid_argument(node.describe() + ": window of " + std::to_string(window->dim(0)) +
                            " samples does not match frame_length " + std::to_string(frame_length));
  }
  if (step <= 0) return invalid_argument(node.describe() + ": frame_step must be positive");
  const int64_t batch = signal.dim(0), length = signal.dim(1);
  if (length < frame_length) return invalid_argument(node.describe() + ": signal is shorter than one frame");
  const int64_t frames = (length - frame_length) / step + 1;
  const int64_t bins = node.attr_int("onesided", 1) != 0 ? frame_length / 2 + 1 : frame_length;
  Dims out_dims{batch, frames, bins, 2};
  Tensor& y = args.output(0);
  if (!y.defined() || y.dims() != out_dims) y = Tensor::empty(signal.dtype(), out_dims);
  std::vector<double> in = as_complex(signal);
  std::vector<double> w =
      window ? window->to_double_vector() : std::vector<double>(static_cast<size_t>(frame_length), 1.0);
  std::vector<double> out(static_cast<size_t>(batch * frames * bins * 2));
  std::vector<double> frame(static_cast<size_t>(2 * frame_length));
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t f = 0; f < frames; ++f) {
      const double* src = in.data() + 2 * (b * length + f * step);
      for (int64_t j = 0; j < frame_length; ++j) {
        frame[2 * j] = src[2 * j] * w[j];
        frame[2 * j + 1] = src[2 * j + 1] * w[j];
      }
      transform_line(frame.data(), frame_length, frame_length, bins, false, 1,
                     out.data() + 2 * (b * frames + f) * bins);
    }
  }
  return write_doubles(node, y, out);
}

Status run_mel_weight_matrix(KernelArgs& args) {
  const Node& node = args.node;
  const int64_t num_mel_bins = args.input(0).scalar_as_int64();
  const int64_t dft_length = args.input(1).scalar_as_int64();
  const int64_t sample_rate = args.input(2).scalar_as_int64();
  const double lower = args.input(3).scalar_as_double();
  const double upper = args.input(4).scalar_as_double();
  if (num_mel_bins <= 0 || dft_length <= 0 || sample_rate <= 0) {
    return invalid_argument(node.describe() + ": num_mel_bins, dft_length and sample_rate must be positive");
  }
  const int64_t spectrogram_bins = dft_length / 2 + 1;
  const double low_mel = 2595 * std::log10(1 + lower / 700);
  const double high_mel = 2595 * std::log10(1 + upper / 700);
  const double mel_step = (high_mel - low_mel) / static_cast<double>(num_mel_bins + 2);
  std::vector<int64_t> points(static_cast<size_t>(num_mel_bins + 2));
  for (int64_t i = 0; i < num_mel_bins + 2; ++i) {
    double hz = 700 * (std::pow(10.0, (static_cast<double>(i) * mel_step + low_mel) / 2595) - 1);
    points[static_cast<size_t>(i)] =
        static_cast<int64_t>(std::floor(static_cast<double>(dft_length + 1) * hz / static_cast<double>(sample_rate)));
  }
  std::vector<double> out(static_cast<size_t>(spectrogram_bins * num_mel_bins), 0.0);
  // Frequencies past the spectrogram (upper_edge_hertz above Nyquist) are dropped.
  auto set = [&](int64_t row, int64_t col, double value) {
    if (row >= 0 && row < spectrogram_bins) out[static_cast<size_t>(row * num_mel_bins + col)] = value;
  };
  for (int64_t i = 0; i < num_mel_bins; ++i) {
    const int64_t left = points[i], center = points[i + 1], right = points[i + 2];
    const int64_t rise = center - left;
    if (rise == 0) {
      set(center, i, 1.0);
    } else {
      for (int64_t j = left; j <= center; ++j) set(j, i, static_cast<double>(j - left) / static_cast<double>(rise));
    }
    const int64_t fall = right - center;
    if (fall > 0) {
      for (int64_t j = center; j < right; ++j) set(j, i, static_cast<double>(right - j) / static_cast<double>(fall));
    }
  }
  Tensor& y = args.output(0);
  Dims out_dims{spectrogram_bins, num_mel_bins};
  if (!y.defined() || y.dims() != out_dims) {
    y = Tensor::empty(static_cast<DataType>(node.attr_int("output_datatype", 1)), out_dims);
  }
  return write_doubles(node, y, out);
}

}  // namespace

void register_signal_kernels(KernelTable& table) {
  for (const char* op : {"HannWindow", "HammingWindow", "BlackmanWindow"})
    table.add(op, CpuKernel{nullptr, run_window});
  table.add("DFT", CpuKernel{nullptr, run_dft});
  table.add("STFT", CpuKernel{nullptr, run_stft});
  table.add("MelWeightMatrix", CpuKernel{nullptr, run_mel_weight_matrix});
}

}  // namespace kiln::cpu
