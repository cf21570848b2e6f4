#include "ir/ops/nn_geometry.h"

#include <algorithm>

namespace kiln {
namespace {

// Python-style floor division: ConvTranspose's total padding may be negative.
int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

int64_t ceil_div(int64_t a, int64_t b) { return -floor_div(-a, b); }

Status check_length(const Node& node, const char* name, const Dims& values, size_t expected) {
  if (values.size() != expected) {
    return invalid_argument(node.describe() + ": attribute '" + name + "' has " + std::to_string(values.size()) +
                            " values, expected " + std::to_string(expected));
  }
  return ok_status();
}

// Strides, dilations and explicit pads with their defaults, checked against the rank.
Status fill_common(const Node& node, WindowGeometry& g) {
  size_t rank = g.input.size();
  g.strides = node.attr_ints("strides", Dims(rank, 1));
  g.dilations = node.attr_ints("dilations", Dims(rank, 1));
  Dims pads = node.attr_ints("pads", Dims(2 * rank, 0));
  KILN_RETURN_IF_ERROR(check_length(node, "strides", g.strides, rank));
  KILN_RETURN_IF_ERROR(check_length(node, "dilations", g.dilations, rank));
  KILN_RETURN_IF_ERROR(check_length(node, "pads", pads, 2 * rank));
  KILN_RETURN_IF_ERROR(check_length(node, "kernel_shape", g.kernel, rank));
  for (size_t i = 0; i < rank; ++i) {
    if (g.strides[i] <= 0 || g.dilations[i] <= 0) {
      return invalid_argument(node.describe() + ": strides and dilations must be positive, got strides " +
                              dims_to_string(g.strides) + " dilations " + dims_to_string(g.dilations));
    }
  }
  g.pads_begin.assign(pads.begin(), pads.begin() + rank);
  g.pads_end.assign(pads.begin() + rank, pads.end());
  g.output.assign(rank, -1);
  g.output_padding.assign(rank, 0);
  return ok_status();
}

Expected<Dims> broadcast_batch(const Dims& a, const Dims& b) {
  size_t rank = std::max(a.size(), b.size());
  Dims out(rank, 1);
  for (size_t i = 0; i < rank; ++i) {
    int64_t x = i + a.size() >= rank ? a[i + a.size() - rank] : 1;
    int64_t y = i + b.size() >= rank ? b[i + b.size() - rank] : 1;
    if (x == 1)
      out[i] = y;
    else if (y == 1)
      out[i] = x;
    else if (x < 0 || y < 0)
      out[i] = x < 0 ? y : x;
    else if (x != y)
      return invalid_argument("batch axes do not broadcast");
    else
      out[i] = x;
  }
  return out;
}

}  // namespace

Expected<AutoPad> parse_auto_pad(const Node& node) {
  std::string text = node.attr_string("auto_pad", "NOTSET");
  if (text == "NOTSET" || text.empty()) return AutoPad::kNotSet;
  if (text == "SAME_UPPER") return AutoPad::kSameUpper;
  if (text == "SAME_LOWER") return AutoPad::kSameLower;
  if (text == "VALID") return AutoPad::kValid;
  return invalid_argument(node.describe() + ": auto_pad '" + text +
                          "' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID");
}

Expected<WindowGeometry> forward_window_geometry(const Node& node, const Dims& input_spatial, const Dims& kernel,
                                                 bool ceil_mode) {
  WindowGeometry g;
  g.input = input_spatial;
  g.kernel = kernel;
  KILN_RETURN_IF_ERROR(fill_common(node, g));
  KILN_ASSIGN_OR_RETURN(AutoPad auto_pad, parse_auto_pad(node));
  for (size_t i = 0; i < g.rank(); ++i) {
    int64_t in = g.input[i];
    if (in < 0 || g.kernel[i] < 0) continue;
    int64_t window = (g.kernel[i] - 1) * g.dilations[i] + 1;
    int64_t stride = g.strides[i];
    if (auto_pad == AutoPad::kSameUpper || auto_pad == AutoPad::kSameLower) {
      int64_t out = ceil_div(in, stride);
      int64_t total = std::max<int64_t>(0, (out - 1) * stride + window - in);
      int64_t small = total / 2;
      g.pads_begin[i] = auto_pad == AutoPad::kSameUpper ? small : total - small;
      g.pads_end[i] = total - g.pads_begin[i];
      g.output[i] = out;
      continue;
    }
    if (auto_pad == AutoPad::kValid) g.pads_begin[i] = g.pads_end[i] = 0;
    int64_t span = in + g.pads_begin[i] + g.pads_end[i] - window;
    if (span < 0) {
      return invalid_argument(
          node.describe() + ": window " + std::to_string(window) + " (kernel " + dims_to_string(g.kernel) +
          ", dilations " + dims_to_string(g.dilations) + ") is larger than the padded input extent " +
          std::to_string(in + g.pads_begin[i] + g.pads_end[i]) + " on spatial axis " + std::to_string(i));
    }
    int64_t out = (ceil_mode ? ceil_div(span, stride) : floor_div(span, stride)) + 1;
    // The last window must start inside the input or its leading padding.
    if (ceil_mode && (out - 1) * stride >= in + g.pads_begin[i]) --out;
    g.output[i] = out;
  }
  return g;
}

Expected<WindowGeometry> transposed_window_geometry(const Node& node, const Dims& input_spatial, const Dims& kernel) {
  WindowGeometry g;
  g.input = input_spatial;
  g.kernel = kernel;
  KILN_RETURN_IF_ERROR(fill_common(node, g));
  KILN_ASSIGN_OR_RETURN(AutoPad auto_pad, parse_auto_pad(node));
  size_t rank = g.rank();
  g.output_padding = node.attr_ints("output_padding", Dims(rank, 0));
  KILN_RETURN_IF_ERROR(check_length(node, "output_padding", g.output_padding, rank));
  Dims requested = node.attr_ints("output_shape", {});
  if (requested.size() == rank + 2) requested.erase(requested.begin(), requested.begin() + 2);
  if (!requested.empty()) KILN_RETURN_IF_ERROR(check_length(node, "output_shape", requested, rank));
  bool same = auto_pad == AutoPad::kSameUpper || auto_pad == AutoPad::kSameLower;
  for (size_t i = 0; i < rank; ++i) {
    int64_t in = g.input[i];
    if (auto_pad == AutoPad::kValid) g.pads_begin[i] = g.pads_end[i] = 0;
    if (in < 0 || g.kernel[i] < 0) {
      if (!requested.empty()) g.output[i] = requested[i];
      continue;
    }
    int64_t window = (g.kernel[i] - 1) * g.dilations[i] + 1;
    int64_t natural = g.strides[i] * (in - 1) + g.output_padding[i] + window;
    if (!requested.empty() || same) {
      int64_t out = requested.empty() ? in * g.strides[i] : requested[i];
      int64_t total = natural - out;
      int64_t half = floor_div(total, 2);
      if (auto_pad == AutoPad::kSameUpper) {
        g.pads_begin[i] = half;
        g.pads_end[i] = total - half;
      } else {
        g.pads_begin[i] = total - half;
        g.pads_end[i] = half;
      }
      g.output[i] = out;
    } else {
      g.output[i] = natural - g.pads_begin[i] - g.pads_end[i];
    }
    if (g.output[i] <= 0) {
      return invalid_argument(node.describe() + ": output extent " + std::to_string(g.output[i]) + " on spatial axis " +
                              std::to_string(i) + " is not positive (input " + dims_to_string(g.input) + ", pads end " +
                              dims_to_string(g.pads_end) + ")");
    }
  }
  return g;
}

Expected<MatMulShape> matmul_shape(const Node& node, const Dims& a, const Dims& b) {
  if (a.empty() || b.empty()) {
    return invalid_argument(node.describe() + ": MatMul operands must not be scalars, got " + dims_to_string(a) +
                            " and " + dims_to_string(b));
  }
  Dims a2 = a.size() == 1 ? Dims{1, a[0]} : a;
  Dims b2 = b.size() == 1 ? Dims{b[0], 1} : b;
  MatMulShape s;
  s.m = a2[a2.size() - 2];
  s.k = a2[a2.size() - 1];
  s.n = b2[b2.size() - 1];
  int64_t kb = b2[b2.size() - 2];
  if (s.k >= 0 && kb >= 0 && s.k != kb) {
    return invalid_argument(node.describe() + ": inner dimensions differ: A has shape " + dims_to_string(a) +
                            ", B has shape " + dims_to_string(b));
  }
  if (s.k < 0) s.k = kb;
  Dims a_batch(a2.begin(), a2.end() - 2);
  Dims b_batch(b2.begin(), b2.end() - 2);
  auto batch = broadcast_batch(a_batch, b_batch);
  if (!batch.ok()) {
    return invalid_argument(node.describe() + ": batch axes of A " + dims_to_string(a) + " and B " + dims_to_string(b) +
                            " do not broadcast");
  }
  s.batch = *batch;
  s.a_batch = Dims(s.batch.size() - a_batch.size(), 1);
  s.a_batch.insert(s.a_batch.end(), a_batch.begin(), a_batch.end());
  s.b_batch = Dims(s.batch.size() - b_batch.size(), 1);
  s.b_batch.insert(s.b_batch.end(), b_batch.begin(), b_batch.end());
  s.output = s.batch;
  if (a.size() != 1) s.output.push_back(s.m);
  if (b.size() != 1) s.output.push_back(s.n);
  return s;
}

}  // namespace kiln
