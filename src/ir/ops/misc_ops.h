// The miscellaneous op group, split by theme; register_misc_ops (misc.cc)
// calls each of these.
#pragma once

#include <optional>

#include "ir/op_registry.h"

namespace kiln {

void register_resize_ops(OpRegistry& registry);        // Resize, Upsample
void register_recurrent_ops(OpRegistry& registry);     // RNN, LSTM, GRU
void register_quantization_ops(OpRegistry& registry);  // QuantizeLinear, DequantizeLinear, QLinear*
void register_detection_ops(OpRegistry& registry);     // GridSample, RoiAlign, NonMaxSuppression
void register_signal_ops(OpRegistry& registry);        // windows, DFT, STFT, MelWeightMatrix
void register_text_ops(OpRegistry& registry);          // StringNormalizer, TfIdfVectorizer

// Output TensorInfo with `rank` unknown extents (rank < 0: unknown rank).
TensorInfo unknown_dims(DataType dtype, int64_t rank);

// DFT's signal axis, normalised: an attribute before opset 20, an input
// (default -2) from 20 on. nullopt when that input's value is unknown.
Expected<std::optional<int64_t>> dft_signal_axis(const Node& node, int64_t rank, const Tensor* axis_value);

}  // namespace kiln
