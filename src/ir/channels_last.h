// Channels-last (NHWC) variants of the 2-D convolution and pooling ops.
//
// A variant computes exactly what its base op computes, but its activations
// are stored [N, H, W, C] instead of [N, C, H, W] and its filters [M, kH, kW,
// C/group] instead of [M, C/group, kH, kW]. Values in the IR always carry the
// shape of the data they hold, so a variant's input and output shapes are the
// permuted ones; its attributes (pads, strides, kernel_shape...) keep their
// ONNX meaning over the spatial axes.
//
// This table is the one place that says which ops have a variant and which of
// their inputs are permuted: the op registry, the CPU kernels and the layout
// pass all read it.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "kiln/graph.h"
#include "kiln/status.h"
#include "kiln/tensor.h"
#include "kiln/types.h"

namespace kiln {

// NCHW -> NHWC: output axis i takes input axis kToChannelsLast[i] (Transpose perm).
inline constexpr std::array<int64_t, 4> kToChannelsLast = {0, 2, 3, 1};
// NHWC -> NCHW.
inline constexpr std::array<int64_t, 4> kToChannelsFirst = {0, 3, 1, 2};

struct ChannelsLastOp {
  std::string base_op;                    // "FusedConv", "MaxPool", ...
  std::string base_domain;                // "" or "kiln"
  std::string op;                         // the variant's op type, always in domain "kiln"
  std::vector<size_t> activation_inputs;  // inputs stored NHWC
  std::vector<size_t> filter_inputs;      // inputs stored [M, kH, kW, C/group]
};

const std::vector<ChannelsLastOp>& channels_last_ops();
// The variant of a base op, or nullptr when it has none.
const ChannelsLastOp* channels_last_variant_of(const std::string& op_type, const std::string& domain);
// The table entry of a variant op (op_type in domain "kiln"), or nullptr.
const ChannelsLastOp* find_channels_last_op(const std::string& op_type, const std::string& domain);

// Rank-4 permutations of extents and of declared shapes (symbolic names move with their axes).
Dims permute_dims(const Dims& dims, const std::array<int64_t, 4>& perm);
Shape permute_shape(const Shape& shape, const std::array<int64_t, 4>& perm);
// A rank-4 tensor with its axes permuted (a new tensor; any fixed-size dtype).
Expected<Tensor> permute_tensor(const Tensor& tensor, const std::array<int64_t, 4>& perm);

}  // namespace kiln
