// Plain loop convolutions: the reference for tests, the path for float64 and
// integer types, and the fallback for shapes oneDNN rejects. Any spatial rank
// up to 3 is handled by treating missing leading axes as extent 1.
#pragma once

#include <array>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "ir/ops/nn_geometry.h"

namespace kiln::cpu {

// Everything a convolution needs besides the data. Weights are laid out as
// ONNX stores them: [M, C/group, k...] forward, [C, M/group, k...] transposed.
struct ConvProblem {
  int64_t batch = 0;
  int64_t in_channels = 0;
  int64_t out_channels = 0;
  int64_t group = 1;
  WindowGeometry geometry;
};

// A spatial geometry lifted to exactly three axes.
struct Geometry3d {
  std::array<int64_t, 3> in{1, 1, 1}, kernel{1, 1, 1}, stride{1, 1, 1}, dilation{1, 1, 1}, pad{0, 0, 0},
      pad_end{0, 0, 0}, out{1, 1, 1};
  int64_t in_size() const { return in[0] * in[1] * in[2]; }
  int64_t out_size() const { return out[0] * out[1] * out[2]; }
  int64_t kernel_size() const { return kernel[0] * kernel[1] * kernel[2]; }
};

inline Geometry3d to_3d(const WindowGeometry& g) {
  Geometry3d r;
  size_t offset = 3 - g.rank();
  for (size_t i = 0; i < g.rank(); ++i) {
    r.in[offset + i] = g.input[i];
    r.kernel[offset + i] = g.kernel[i];
    r.stride[offset + i] = g.strides[i];
    r.dilation[offset + i] = g.dilations[i];
    r.pad[offset + i] = g.pads_begin[i];
    r.pad_end[offset + i] = g.pads_end[i];
    r.out[offset + i] = g.output[i];
  }
  return r;
}

// Accumulate floats in double so the reference is tighter than what it checks.
template <typename T>
using ConvAccumulator = std::conditional_t<std::is_floating_point_v<T>, double, T>;

// y[N, M, out...] = conv(x[N, C, in...], w[M, C/group, k...]) + bias[M] (bias may be null).
template <typename T>
void reference_conv(const ConvProblem& p, const T* x, const T* w, const T* bias, T* y) {
  using Acc = ConvAccumulator<T>;
  const Geometry3d g = to_3d(p.geometry);
  const int64_t cg = p.in_channels / p.group, mg = p.out_channels / p.group;
  const int64_t in_size = g.in_size(), out_size = g.out_size(), k_size = g.kernel_size();
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < p.batch; ++n) {
    for (int64_t m = 0; m < p.out_channels; ++m) {
      const int64_t first_c = (m / mg) * cg;
      T* out = y + (n * p.out_channels + m) * out_size;
      for (int64_t od = 0; od < g.out[0]; ++od)
        for (int64_t oh = 0; oh < g.out[1]; ++oh)
          for (int64_t ow = 0; ow < g.out[2]; ++ow) {
            Acc acc = bias ? static_cast<Acc>(bias[m]) : Acc(0);
            for (int64_t c = 0; c < cg; ++c) {
              const T* xc = x + (n * p.in_channels + first_c + c) * in_size;
              const T* wc = w + (m * cg + c) * k_size;
              for (int64_t kd = 0; kd < g.kernel[0]; ++kd) {
                int64_t id = od * g.stride[0] - g.pad[0] + kd * g.dilation[0];
                if (id < 0 || id >= g.in[0]) continue;
                for (int64_t kh = 0; kh < g.kernel[1]; ++kh) {
                  int64_t ih = oh * g.stride[1] - g.pad[1] + kh * g.dilation[1];
                  if (ih < 0 || ih >= g.in[1]) continue;
                  for (int64_t kw = 0; kw < g.kernel[2]; ++kw) {
                    int64_t iw = ow * g.stride[2] - g.pad[2] + kw * g.dilation[2];
                    if (iw < 0 || iw >= g.in[2]) continue;
                    acc += static_cast<Acc>(xc[(id * g.in[1] + ih) * g.in[2] + iw]) *
                           static_cast<Acc>(wc[(kd * g.kernel[1] + kh) * g.kernel[2] + kw]);
                  }
                }
              }
            }
            out[(od * g.out[1] + oh) * g.out[2] + ow] = static_cast<T>(acc);
          }
    }
  }
}

// y[N, M, out...] = conv_transpose(x[N, C, in...], w[C, M/group, k...]) + bias[M].
// Each output channel is owned by one thread, so the scatter needs no atomics.
template <typename T>
void reference_conv_transpose(const ConvProblem& p, const T* x, const T* w, const T* bias, T* y) {
  using Acc = ConvAccumulator<T>;
  const Geometry3d g = to_3d(p.geometry);
  const int64_t cg = p.in_channels / p.group, mg = p.out_channels / p.group;
  const int64_t in_size = g.in_size(), out_size = g.out_size(), k_size = g.kernel_size();
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < p.batch; ++n) {
    for (int64_t m = 0; m < p.out_channels; ++m) {
      const int64_t group_index = m / mg, m_in_group = m % mg;
      std::vector<Acc> acc(out_size, bias ? static_cast<Acc>(bias[m]) : Acc(0));
      for (int64_t c = 0; c < cg; ++c) {
        const int64_t channel = group_index * cg + c;
        const T* xc = x + (n * p.in_channels + channel) * in_size;
        const T* wc = w + (channel * mg + m_in_group) * k_size;
        for (int64_t id = 0; id < g.in[0]; ++id)
          for (int64_t ih = 0; ih < g.in[1]; ++ih)
            for (int64_t iw = 0; iw < g.in[2]; ++iw) {
              Acc xv = static_cast<Acc>(xc[(id * g.in[1] + ih) * g.in[2] + iw]);
              for (int64_t kd = 0; kd < g.kernel[0]; ++kd) {
                int64_t od = id * g.stride[0] - g.pad[0] + kd * g.dilation[0];
                if (od < 0 || od >= g.out[0]) continue;
                for (int64_t kh = 0; kh < g.kernel[1]; ++kh) {
                  int64_t oh = ih * g.stride[1] - g.pad[1] + kh * g.dilation[1];
                  if (oh < 0 || oh >= g.out[1]) continue;
                  for (int64_t kw = 0; kw < g.kernel[2]; ++kw) {
                    int64_t ow = iw * g.stride[2] - g.pad[2] + kw * g.dilation[2];
                    if (ow < 0 || ow >= g.out[2]) continue;
                    acc[(od * g.out[1] + oh) * g.out[2] + ow] +=
                        xv * static_cast<Acc>(wc[(kd * g.kernel[1] + kh) * g.kernel[2] + kw]);
                  }
                }
              }
            }
      }
      T* out = y + (n * p.out_channels + m) * out_size;
      for (int64_t i = 0; i < out_size; ++i) out[i] = static_cast<T>(acc[i]);
    }
  }
}

}  // namespace kiln::cpu
