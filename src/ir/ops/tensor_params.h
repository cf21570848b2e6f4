// Parameter resolution shared by the tensor ops' shape inference and their
// kernels: both see a node plus the input values known so far (InferContext
// values at build time, every input while a kernel runs), so the rules for
// Slice starts, Split sizes, Pad pads, ... are written exactly once.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ir/op_registry.h"

namespace kiln::tensor_params {

// Aligned with node.inputs; nullptr when the value is not known (or omitted).
using InputValues = std::vector<const Tensor*>;

inline const Tensor* value_at(const InputValues& values, size_t i) { return i < values.size() ? values[i] : nullptr; }

// An integer list an op takes either as an attribute (older opsets) or as an
// input (newer ones).
struct IntList {
  enum class State { kAbsent, kUnknown, kKnown };
  State state = State::kAbsent;
  std::vector<int64_t> values;
  bool known() const { return state == State::kKnown; }
  bool absent() const { return state == State::kAbsent; }
};

// The attribute `attribute` when the node has it, else input `input` (its value
// when known). An empty attribute name means the list is only ever an input.
IntList int_list(const Node& node, const std::string& attribute, size_t input, const InputValues& values);

// Reshape target: 0 copies the input extent (unless allow_zero), -1 is inferred.
// Unknown input extents give -1 where the result depends on them.
Expected<Dims> reshape_dims(const Node& node, const Dims& input, const std::vector<int64_t>& shape, bool allow_zero);

// One input axis of a Slice: first element, stride and element count.
struct SliceAxis {
  int64_t start = 0;
  int64_t step = 1;
  int64_t count = 0;  // -1 when the axis extent is unknown
};
// Resolves starts/ends/axes/steps (axes and steps may be empty = defaults) against
// the input dims, with ONNX clamping rules.
Expected<std::vector<SliceAxis>> resolve_slice(const Node& node, const Dims& input, const std::vector<int64_t>& starts,
                                               const std::vector<int64_t>& ends, const std::vector<int64_t>& axes,
                                               const std::vector<int64_t>& steps);
// Slice parameters from attributes (opset < 10) or inputs; nullopt when a needed
// input value is not known.
Expected<std::optional<std::vector<SliceAxis>>> slice_from_node(const Node& node, const Dims& input,
                                                                const InputValues& values);

// Split sizes along one axis of extent `extent` (-1 = unknown) for `outputs`
// outputs; nullopt when the split input is given but its value is unknown.
Expected<std::optional<std::vector<int64_t>>> split_sizes(const Node& node, int64_t extent, size_t outputs,
                                                          const InputValues& values);

// Pads for every axis: [begin_0..begin_{r-1}, end_0..end_{r-1}]; nullopt when
// the pads (or axes) input is not known.
Expected<std::optional<std::vector<int64_t>>> pads_from_node(const Node& node, size_t rank, const InputValues& values);

// Normalises possibly negative axes against `rank` and sorts them; errors for
// out-of-range or repeated axes.
Expected<std::vector<int64_t>> normalize_axes(const Node& node, const std::vector<int64_t>& axes, int64_t rank);

// Unsqueeze output dims for the given normalised axes.
Dims unsqueeze_dims(const Dims& input, const std::vector<int64_t>& axes);

// Number of elements of Range(start, limit, delta); error for delta 0.
Expected<int64_t> range_count(const Node& node, double start, double limit, double delta);

}  // namespace kiln::tensor_params
