// int32 accumulators -> uint8/int8 outputs for QLinearConv and QLinearMatMul:
// y = saturate(round_half_even(acc * input_scale * weight_scale / y_scale) + y_zero_point),
// computed in float as the reference implementations do.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "kiln/tensor.h"

namespace kiln::cpu {

// `scale_of(i)` gives the combined input*weight scale of element i.
template <typename Out, typename ScaleOf>
void requantize(const int32_t* acc, int64_t count, ScaleOf&& scale_of, float y_scale, int32_t y_zero_point, Out* y) {
  constexpr float kLow = static_cast<float>(std::numeric_limits<Out>::min());
  constexpr float kHigh = static_cast<float>(std::numeric_limits<Out>::max());
  for (int64_t i = 0; i < count; ++i) {
    float value = static_cast<float>(acc[i]) * (scale_of(i) / y_scale);
    float shifted = std::nearbyint(value) + static_cast<float>(y_zero_point);
    y[i] = static_cast<Out>(std::clamp(shifted, kLow, kHigh));
  }
}

// Writes requantized accumulators into `y` (uint8 or int8); false for other types.
template <typename ScaleOf>
bool requantize_into(const Tensor& accumulators, ScaleOf&& scale_of, float y_scale, int32_t y_zero_point, Tensor& y) {
  const int32_t* acc = accumulators.data<int32_t>();
  int64_t count = accumulators.element_count();
  if (y.dtype() == DataType::kUint8) {
    requantize<uint8_t>(acc, count, scale_of, y_scale, y_zero_point, y.data<uint8_t>());
    return true;
  }
  if (y.dtype() == DataType::kInt8) {
    requantize<int8_t>(acc, count, scale_of, y_scale, y_zero_point, y.data<int8_t>());
    return true;
  }
  return false;
}

}  // namespace kiln::cpu
