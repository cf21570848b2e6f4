// Window functions, DFT, STFT and MelWeightMatrix: schemas and output shapes.
// Their extents come from scalar inputs, so they are known only when those are.
#include <optional>

#include "ir/ops/misc_ops.h"

namespace kiln {
namespace {

using K = Attribute::Kind;

Expected<DataType> output_datatype(const Node& node, int64_t fallback) {
  int64_t raw = node.attr_int("output_datatype", fallback);
  if (!dtype_is_valid(static_cast<int32_t>(raw)) || raw == 0) {
    return infer_error(node, "output_datatype " + std::to_string(raw) + " is not a known type");
  }
  return static_cast<DataType>(raw);
}

Expected<std::vector<TensorInfo>> infer_window(const InferContext& c) {
  KILN_ASSIGN_OR_RETURN(DataType dtype, output_datatype(c.node, 1));
  const Tensor* size = c.value(0);
  if (!size) return std::vector<TensorInfo>{unknown_dims(dtype, 1)};
  int64_t n = size->scalar_as_int64();
  if (n < 0) return infer_error(c.node, "window size " + std::to_string(n) + " is negative");
  return std::vector<TensorInfo>{TensorInfo{dtype, {n}, true}};
}

}  // namespace

Expected<std::optional<int64_t>> dft_signal_axis(const Node& node, int64_t rank, const Tensor* axis_value) {
  int64_t axis;
  if (node.opset >= 20) {
    if (node.has_input(2)) {
      if (!axis_value) return std::optional<int64_t>();
      axis = axis_value->scalar_as_int64();
    } else {
      axis = -2;
    }
  } else {
    axis = node.attr_int("axis", 1);
  }
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank - 1) {
    return infer_error(
        node, "axis " + std::to_string(axis) + " is not a signal axis of a rank-" + std::to_string(rank) + " input");
  }
  return std::optional<int64_t>(axis);
}

namespace {

Expected<std::vector<TensorInfo>> infer_dft(const InferContext& c) {
  const TensorInfo& x = c.input(0);
  if (!x.dims_known) return std::vector<TensorInfo>{unknown_dims(x.dtype, -1)};
  const int64_t rank = static_cast<int64_t>(x.dims.size());
  if (rank < 2) return infer_error(c.node, "input " + dims_to_string(x.dims) + " must have rank >= 2");
  if (x.dims.back() >= 0 && x.dims.back() != 1 && x.dims.back() != 2) {
    return infer_error(c.node, "last axis of " + dims_to_string(x.dims) + " must be 1 (real) or 2 (complex)");
  }
  KILN_ASSIGN_OR_RETURN(auto axis, dft_signal_axis(c.node, rank, c.value(2)));
  Dims out = x.dims;
  out.back() = 2;
  if (!axis) {
    for (size_t i = 0; i + 1 < out.size(); ++i) out[i] = -1;
    return std::vector<TensorInfo>{TensorInfo{x.dtype, out, true}};
  }
  const bool onesided = c.node.attr_int("onesided", 0) != 0;
  const bool inverse = c.node.attr_int("inverse", 0) != 0;
  int64_t length = x.dims[static_cast<size_t>(*axis)];
  if (c.node.has_input(1)) {
    const Tensor* dft_length = c.value(1);
    length = dft_length ? dft_length->scalar_as_int64() : -1;
  } else if (onesided && inverse && length >= 0) {
    length = 2 * (length - 1);  // a one-sided spectrum of a real signal
  }
  if (onesided && inverse) {
    out.back() = 1;  // the inverse of a one-sided spectrum is real
  } else if (length >= 0 && onesided) {
    length = length / 2 + 1;
  }
  out[static_cast<size_t>(*axis)] = length;
  return std::vector<TensorInfo>{TensorInfo{x.dtype, out, true}};
}

Expected<std::vector<TensorInfo>> infer_stft(const InferContext& c) {
  const TensorInfo& signal = c.input(0);
  const DataType dtype = signal.dtype;
  if (!signal.dims_known) return std::vector<TensorInfo>{unknown_dims(dtype, 4)};
  if (signal.dims.size() != 3)
    return infer_error(c.node, "signal must be [batch, length, 1 or 2], got " + dims_to_string(signal.dims));
  int64_t frame_length = -1;
  if (c.node.has_input(3)) {
    if (c.value(3)) frame_length = c.value(3)->scalar_as_int64();
  } else if (c.node.has_input(2) && c.input(2).dims_known && c.input(2).dims.size() == 1) {
    frame_length = c.input(2).dims[0];
  }
  const Tensor* step = c.value(1);
  int64_t frames = -1, bins = -1;
  if (frame_length > 0) {
    bins = c.node.attr_int("onesided", 1) != 0 ? frame_length / 2 + 1 : frame_length;
    if (step && signal.dims[1] >= 0) {
      int64_t s = step->scalar_as_int64();
      if (s <= 0) return infer_error(c.node, "frame_step must be positive, got " + std::to_string(s));
      if (signal.dims[1] < frame_length) {
        return infer_error(c.node, "frame_length " + std::to_string(frame_length) + " exceeds the signal " +
                                       dims_to_string(signal.dims));
      }
      frames = (signal.dims[1] - frame_length) / s + 1;
    }
  }
  return std::vector<TensorInfo>{TensorInfo{dtype, {signal.dims[0], frames, bins, 2}, true}};
}

Expected<std::vector<TensorInfo>> infer_mel(const InferContext& c) {
  KILN_ASSIGN_OR_RETURN(DataType dtype, output_datatype(c.node, 1));
  const Tensor* bins = c.value(0);
  const Tensor* length = c.value(1);
  Dims out{length ? length->scalar_as_int64() / 2 + 1 : -1, bins ? bins->scalar_as_int64() : -1};
  return std::vector<TensorInfo>{TensorInfo{dtype, out, true}};
}

}  // namespace

void register_signal_ops(OpRegistry& registry) {
  for (const char* op : {"HannWindow", "HammingWindow", "BlackmanWindow"}) {
    registry.add(OpSchema{op, "", 1, 1, 1, 1, {{"output_datatype", K::kInt}, {"periodic", K::kInt}}, infer_window});
  }
  registry.add(
      OpSchema{"DFT", "", 1, 3, 1, 1, {{"axis", K::kInt}, {"inverse", K::kInt}, {"onesided", K::kInt}}, infer_dft});
  registry.add(OpSchema{"STFT", "", 2, 4, 1, 1, {{"onesided", K::kInt}}, infer_stft});
  registry.add(OpSchema{"MelWeightMatrix", "", 5, 5, 1, 1, {{"output_datatype", K::kInt}}, infer_mel});
}

}  // namespace kiln
