// Einsum equations ("bij,bjk->bik", "...ii->...i", "ij,jk"): parsing into
// label ids per operand axis, shared by shape inference and the kernel.
#pragma once

#include <string>
#include <vector>

#include "kiln/graph.h"
#include "kiln/status.h"
#include "kiln/types.h"

namespace kiln {

struct EinsumEquation {
  // Label id of every axis of every operand, with "..." expanded. Ellipsis
  // axes get ids 0..ellipsis_rank-1 (right-aligned across operands, as numpy
  // broadcasts them); letters get the ids after.
  std::vector<std::vector<int>> operand_labels;
  std::vector<int> output_labels;
  int label_count = 0;
};

// `ranks` gives each operand's rank. Implicit form (no "->"): the output is
// the ellipsis axes followed by the letters used exactly once, in ASCII order.
Expected<EinsumEquation> parse_einsum_equation(const std::string& equation, const std::vector<size_t>& ranks,
                                               const Node& node);

// Extent of every label (-1 where an operand's extent is unknown); an extent of
// 1 broadcasts against any other. Errors name the label's clashing extents.
Expected<std::vector<int64_t>> einsum_label_extents(const EinsumEquation& equation,
                                                    const std::vector<Dims>& operand_dims, const Node& node);

}  // namespace kiln
