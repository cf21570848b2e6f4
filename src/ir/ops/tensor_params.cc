#include "ir/ops/tensor_params.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace kiln::tensor_params {
namespace {

std::string list_to_string(const std::vector<int64_t>& values) {
  std::string out = "[";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    out += std::to_string(values[i]);
  }
  return out + "]";
}

}  // namespace

IntList int_list(const Node& node, const std::string& attribute, size_t input, const InputValues& values) {
  IntList list;
  if (!attribute.empty() && node.has_attribute(attribute)) {
    list.state = IntList::State::kKnown;
    list.values = node.attr_ints(attribute);
    return list;
  }
  if (!node.has_input(input)) return list;
  const Tensor* value = value_at(values, input);
  if (!value) {
    list.state = IntList::State::kUnknown;
    return list;
  }
  list.state = IntList::State::kKnown;
  list.values = value->to_int64_vector();
  return list;
}

Expected<Dims> reshape_dims(const Node& node, const Dims& input, const std::vector<int64_t>& shape, bool allow_zero) {
  Dims out(shape.size());
  int inferred_axis = -1;
  bool has_zero = false;
  for (size_t i = 0; i < shape.size(); ++i) {
    int64_t s = shape[i];
    if (s == -1) {
      if (inferred_axis >= 0) return infer_error(node, "shape " + list_to_string(shape) + " has more than one -1");
      inferred_axis = static_cast<int>(i);
      out[i] = -1;
    } else if (s == 0 && !allow_zero) {
      if (i >= input.size()) {
        return infer_error(node, "shape " + list_to_string(shape) + " copies axis " + std::to_string(i) +
                                     " (0) but the input " + dims_to_string(input) + " has rank " +
                                     std::to_string(input.size()));
      }
      out[i] = input[i];
    } else if (s < 0) {
      return infer_error(node, "shape " + list_to_string(shape) + " has a negative extent");
    } else {
      out[i] = s;
      has_zero |= s == 0;
    }
  }
  if (has_zero && inferred_axis >= 0) {
    return infer_error(node, "shape " + list_to_string(shape) + " has both 0 (with allowzero) and -1");
  }
  bool input_known = std::none_of(input.begin(), input.end(), [](int64_t d) { return d < 0; });
  int64_t total = input_known ? element_count(input) : -1;
  int64_t known_product = 1;
  bool others_known = true;
  for (size_t i = 0; i < out.size(); ++i) {
    if (static_cast<int>(i) == inferred_axis) continue;
    if (out[i] < 0)
      others_known = false;
    else
      known_product *= out[i];
  }
  if (inferred_axis >= 0) {
    if (input_known && others_known) {
      if (known_product == 0 || total % known_product != 0) {
        return infer_error(node, "cannot reshape " + dims_to_string(input) + " to " + list_to_string(shape));
      }
      out[inferred_axis] = total / known_product;
      return out;
    }
    // Unknown extents that 0 copies to the same place cancel out: Reshape(x[N,C,H,W], [0,-1])
    // still gives C*H*W for the -1.
    int64_t remaining_input = 1;
    int64_t remaining_output = 1;
    for (size_t i = 0; i < input.size(); ++i) {
      const bool copied = i < shape.size() && shape[i] == 0 && !allow_zero;
      if (copied) continue;
      if (input[i] < 0) return out;
      remaining_input *= input[i];
    }
    for (size_t i = 0; i < out.size(); ++i) {
      const bool copied = shape[i] == 0 && !allow_zero;
      if (copied || static_cast<int>(i) == inferred_axis) continue;
      if (out[i] < 0) return out;
      remaining_output *= out[i];
    }
    if (remaining_output > 0 && remaining_input % remaining_output == 0) {
      out[inferred_axis] = remaining_input / remaining_output;
    }
    return out;
  }
  if (input_known && others_known && known_product != total) {
    return infer_error(node, "cannot reshape " + dims_to_string(input) + " (" + std::to_string(total) +
                                 " elements) to " + list_to_string(shape));
  }
  return out;
}

Expected<std::vector<SliceAxis>> resolve_slice(const Node& node, const Dims& input, const std::vector<int64_t>& starts,
                                               const std::vector<int64_t>& ends, const std::vector<int64_t>& axes_in,
                                               const std::vector<int64_t>& steps) {
  const int64_t rank = static_cast<int64_t>(input.size());
  std::vector<SliceAxis> result(input.size());
  for (size_t a = 0; a < input.size(); ++a) result[a] = SliceAxis{0, 1, input[a]};
  if (starts.size() != ends.size()) {
    return infer_error(node,
                       "starts " + list_to_string(starts) + " and ends " + list_to_string(ends) + " differ in length");
  }
  std::vector<int64_t> axes = axes_in;
  if (axes.empty()) {
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  }
  if (axes.size() != starts.size() || (!steps.empty() && steps.size() != starts.size())) {
    return infer_error(node, "starts " + list_to_string(starts) + ", axes " + list_to_string(axes) + " and steps " +
                                 list_to_string(steps) + " differ in length");
  }
  std::vector<bool> seen(input.size(), false);
  for (size_t i = 0; i < axes.size(); ++i) {
    KILN_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(axes[i], rank, node));
    if (seen[axis]) return infer_error(node, "axes " + list_to_string(axes) + " repeat an axis");
    seen[axis] = true;
    const int64_t step = steps.empty() ? 1 : steps[i];
    if (step == 0) return infer_error(node, "steps " + list_to_string(steps) + " contain 0");
    const int64_t dim = input[axis];
    SliceAxis& s = result[axis];
    s.step = step;
    if (dim < 0) {
      s.count = -1;
      continue;
    }
    int64_t start = starts[i];
    int64_t end = ends[i];
    if (start < 0) start += dim;
    if (end < 0) end += dim;
    if (step > 0) {
      start = std::clamp<int64_t>(start, 0, dim);
      end = std::clamp<int64_t>(end, 0, dim);
      s.count = end > start ? (end - start + step - 1) / step : 0;
    } else {
      start = std::clamp<int64_t>(start, 0, std::max<int64_t>(dim - 1, 0));
      end = std::clamp<int64_t>(end, -1, dim - 1);
      s.count = (dim > 0 && start > end) ? (start - end + (-step) - 1) / (-step) : 0;
    }
    s.start = start;
  }
  return result;
}

Expected<std::optional<std::vector<SliceAxis>>> slice_from_node(const Node& node, const Dims& input,
                                                                const InputValues& values) {
  IntList starts = int_list(node, "starts", 1, values);
  IntList ends = int_list(node, "ends", 2, values);
  IntList axes = int_list(node, "axes", 3, values);
  IntList steps = node.has_attribute("starts") ? IntList{} : int_list(node, "", 4, values);
  if (starts.absent() || ends.absent()) return infer_error(node, "starts and ends are required");
  for (const IntList* l : {&starts, &ends, &axes, &steps}) {
    if (l->state == IntList::State::kUnknown) return std::optional<std::vector<SliceAxis>>();
  }
  KILN_ASSIGN_OR_RETURN(auto resolved,
                        resolve_slice(node, input, starts.values, ends.values, axes.values, steps.values));
  return std::optional<std::vector<SliceAxis>>(std::move(resolved));
}

Expected<std::optional<std::vector<int64_t>>> split_sizes(const Node& node, int64_t extent, size_t outputs,
                                                          const InputValues& values) {
  using Result = std::optional<std::vector<int64_t>>;
  IntList split = int_list(node, "split", 1, values);
  if (split.state == IntList::State::kUnknown) return Result();
  if (split.known()) {
    if (split.values.size() != outputs) {
      return infer_error(node, "split " + list_to_string(split.values) + " has " + std::to_string(split.values.size()) +
                                   " entries for " + std::to_string(outputs) + " outputs");
    }
    int64_t sum = 0;
    for (int64_t s : split.values) {
      if (s < 0) return infer_error(node, "split " + list_to_string(split.values) + " has a negative size");
      sum += s;
    }
    if (extent >= 0 && sum != extent) {
      return infer_error(node, "split " + list_to_string(split.values) + " sums to " + std::to_string(sum) +
                                   " but the axis has extent " + std::to_string(extent));
    }
    return Result(split.values);
  }
  int64_t parts = node.attr_int("num_outputs", static_cast<int64_t>(outputs));
  if (parts <= 0 || static_cast<size_t>(parts) != outputs) {
    return infer_error(
        node, "num_outputs " + std::to_string(parts) + " does not match the " + std::to_string(outputs) + " outputs");
  }
  if (extent < 0) return Result(std::vector<int64_t>(outputs, -1));
  // Equal chunks rounded up; the last one takes what is left (opset 18 rule,
  // identical to the older even split when the extent divides).
  const int64_t chunk = (extent + parts - 1) / parts;
  std::vector<int64_t> sizes(outputs);
  int64_t left = extent;
  for (size_t i = 0; i < outputs; ++i) {
    sizes[i] = std::min(chunk, left);
    left -= sizes[i];
  }
  return Result(sizes);
}

Expected<std::optional<std::vector<int64_t>>> pads_from_node(const Node& node, size_t rank, const InputValues& values) {
  using Result = std::optional<std::vector<int64_t>>;
  IntList pads =
      node.has_attribute("paddings") ? int_list(node, "paddings", 1, values) : int_list(node, "pads", 1, values);
  if (pads.state == IntList::State::kUnknown) return Result();
  if (pads.absent()) return infer_error(node, "pads are required");
  IntList axes =
      node.has_attribute("pads") || node.has_attribute("paddings") ? IntList{} : int_list(node, "", 3, values);
  if (axes.state == IntList::State::kUnknown) return Result();
  std::vector<int64_t> full(2 * rank, 0);
  if (axes.known()) {
    if (pads.values.size() != 2 * axes.values.size()) {
      return infer_error(
          node, "pads " + list_to_string(pads.values) + " need 2 entries per axis of " + list_to_string(axes.values));
    }
    const size_t n = axes.values.size();
    for (size_t i = 0; i < n; ++i) {
      KILN_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(axes.values[i], static_cast<int64_t>(rank), node));
      full[axis] = pads.values[i];
      full[rank + axis] = pads.values[n + i];
    }
    return Result(full);
  }
  if (pads.values.size() != 2 * rank) {
    return infer_error(node, "pads " + list_to_string(pads.values) + " need " + std::to_string(2 * rank) +
                                 " entries for rank " + std::to_string(rank));
  }
  return Result(pads.values);
}

Expected<std::vector<int64_t>> normalize_axes(const Node& node, const std::vector<int64_t>& axes, int64_t rank) {
  std::vector<int64_t> out;
  for (int64_t a : axes) {
    KILN_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(a, rank, node));
    out.push_back(axis);
  }
  std::sort(out.begin(), out.end());
  if (std::adjacent_find(out.begin(), out.end()) != out.end()) {
    return infer_error(node, "axes " + list_to_string(axes) + " repeat an axis");
  }
  return out;
}

Dims unsqueeze_dims(const Dims& input, const std::vector<int64_t>& axes) {
  Dims out;
  size_t next_input = 0;
  size_t next_axis = 0;
  const size_t rank = input.size() + axes.size();
  for (size_t i = 0; i < rank; ++i) {
    if (next_axis < axes.size() && axes[next_axis] == static_cast<int64_t>(i)) {
      out.push_back(1);
      ++next_axis;
    } else {
      out.push_back(input[next_input++]);
    }
  }
  return out;
}

Expected<int64_t> range_count(const Node& node, double start, double limit, double delta) {
  if (delta == 0) return infer_error(node, "delta is 0");
  double n = std::ceil((limit - start) / delta);
  if (!(n > 0)) return int64_t{0};
  if (n > static_cast<double>(std::numeric_limits<int32_t>::max()) * 16) {
    return infer_error(node, "range of " + std::to_string(n) + " elements is too large");
  }
  return static_cast<int64_t>(n);
}

}  // namespace kiln::tensor_params
