// Resize (opsets 10-19) and the deprecated Upsample: schemas and output shapes.
#include <cmath>

#include "ir/ops/misc_ops.h"
#include "ir/ops/misc_resize_plan.h"

namespace kiln {
namespace {

bool present(const Tensor* t) { return t != nullptr && t->element_count() > 0; }

// Where scales/sizes/roi live depends on the op and its opset.
struct ResizeInputIndex {
  int roi = -1;
  int scales = -1;
  int sizes = -1;
};

ResizeInputIndex input_index(const Node& node) {
  if (node.op_type == "Upsample") return {-1, node.opset >= 9 ? 1 : -1, -1};
  if (node.opset < 11) return {-1, 1, -1};
  return {1, 2, 3};
}

const Tensor* input_at(const std::vector<const Tensor*>& inputs, int index) {
  if (index < 0 || index >= static_cast<int>(inputs.size())) return nullptr;
  return inputs[static_cast<size_t>(index)];
}

}  // namespace

Expected<std::optional<ResizePlan>> plan_resize(const Node& node, const Dims& input_dims,
                                                const std::vector<const Tensor*>& inputs) {
  const int64_t rank = static_cast<int64_t>(input_dims.size());
  ResizeInputIndex index = input_index(node);
  auto is_given = [&](int i) { return i >= 0 && node.has_input(static_cast<size_t>(i)); };

  // Axes the scales/sizes/roi refer to (opset 18+), all axes otherwise.
  std::vector<int64_t> axes;
  if (node.has_attribute("axes")) {
    for (int64_t a : node.attr_ints("axes")) {
      KILN_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(a, rank, node));
      axes.push_back(axis);
    }
  } else {
    for (int64_t a = 0; a < rank; ++a) axes.push_back(a);
  }
  const size_t naxes = axes.size();

  ResizePlan plan;
  plan.scales.assign(static_cast<size_t>(rank), 1.0);
  plan.roi_start.assign(static_cast<size_t>(rank), 0.0);
  plan.roi_end.assign(static_cast<size_t>(rank), 1.0);
  plan.output_dims = input_dims;

  const Tensor* roi = input_at(inputs, index.roi);
  if (is_given(index.roi) && !roi) return std::optional<ResizePlan>();
  if (present(roi)) {
    std::vector<double> r = roi->to_double_vector();
    if (r.size() != 2 * naxes) {
      return infer_error(node, "roi has " + std::to_string(r.size()) + " values, expected " +
                                   std::to_string(2 * naxes) + " (2 per resized axis)");
    }
    for (size_t i = 0; i < naxes; ++i) {
      plan.roi_start[static_cast<size_t>(axes[i])] = r[i];
      plan.roi_end[static_cast<size_t>(axes[i])] = r[naxes + i];
    }
  }

  const Tensor* scales = input_at(inputs, index.scales);
  const Tensor* sizes = input_at(inputs, index.sizes);
  if (is_given(index.sizes) && !sizes) return std::optional<ResizePlan>();
  if (is_given(index.scales) && !scales) return std::optional<ResizePlan>();

  if (present(sizes)) {
    std::vector<int64_t> s = sizes->to_int64_vector();
    if (s.size() != naxes) {
      return infer_error(node, "sizes has " + std::to_string(s.size()) + " values, expected " + std::to_string(naxes));
    }
    for (size_t i = 0; i < naxes; ++i) {
      size_t a = static_cast<size_t>(axes[i]);
      if (s[i] < 0) return infer_error(node, "sizes must not be negative, got " + std::to_string(s[i]));
      plan.output_dims[a] = s[i];
      // An unknown input extent (shape inference only) leaves the scale unknown (-1).
      plan.scales[a] = input_dims[a] > 0   ? static_cast<double>(s[i]) / static_cast<double>(input_dims[a])
                       : input_dims[a] < 0 ? -1.0
                                           : 1.0;
    }
    std::string policy = node.attr_string("keep_aspect_ratio_policy", "stretch");
    if (policy != "stretch") {
      double scale = plan.scales[static_cast<size_t>(axes[0])];
      for (int64_t a : axes) {
        double s_a = plan.scales[static_cast<size_t>(a)];
        if (s_a < 0 || scale < 0) {
          scale = -1;
          continue;
        }
        if (policy == "not_larger")
          scale = std::min(scale, s_a);
        else if (policy == "not_smaller")
          scale = std::max(scale, s_a);
        else
          return infer_error(
              node, "keep_aspect_ratio_policy '" + policy + "' is not one of stretch, not_larger, not_smaller");
      }
      for (int64_t a : axes) {
        size_t i = static_cast<size_t>(a);
        plan.scales[i] = scale;
        plan.output_dims[i] = scale < 0 || input_dims[i] < 0
                                  ? -1
                                  : static_cast<int64_t>(scale * static_cast<double>(input_dims[i]) + 0.5);
      }
    }
    return std::optional<ResizePlan>(plan);
  }

  std::vector<double> scale_values;
  if (present(scales)) {
    scale_values = scales->to_double_vector();
  } else if (node.op_type == "Upsample" && node.has_attribute("scales")) {
    scale_values = node.attr_floats("scales");
  } else {
    return infer_error(node, "needs either scales or sizes");
  }
  if (scale_values.size() != naxes) {
    return infer_error(
        node, "scales has " + std::to_string(scale_values.size()) + " values, expected " + std::to_string(naxes));
  }
  for (size_t i = 0; i < naxes; ++i) {
    size_t a = static_cast<size_t>(axes[i]);
    if (!(scale_values[i] > 0)) return infer_error(node, "scales must be positive");
    plan.scales[a] = scale_values[i];
    plan.output_dims[a] =
        input_dims[a] < 0 ? -1 : static_cast<int64_t>(std::floor(scale_values[i] * static_cast<double>(input_dims[a])));
  }
  return std::optional<ResizePlan>(plan);
}

namespace {

Expected<std::vector<TensorInfo>> infer_resize(const InferContext& c) {
  const TensorInfo& x = c.input(0);
  if (!x.dims_known) return std::vector<TensorInfo>{unknown_dims(x.dtype, -1)};
  const int64_t rank = static_cast<int64_t>(x.dims.size());
  KILN_ASSIGN_OR_RETURN(auto plan, plan_resize(c.node, x.dims, c.values));
  if (!plan) return std::vector<TensorInfo>{unknown_dims(x.dtype, rank)};
  return std::vector<TensorInfo>{TensorInfo{x.dtype, plan->output_dims, true}};
}

}  // namespace

void register_resize_ops(OpRegistry& registry) {
  using K = Attribute::Kind;
  registry.add(OpSchema{"Resize",
                        "",
                        1,
                        4,
                        1,
                        1,
                        {{"mode", K::kString},
                         {"coordinate_transformation_mode", K::kString},
                         {"cubic_coeff_a", K::kFloat},
                         {"exclude_outside", K::kInt},
                         {"extrapolation_value", K::kFloat},
                         {"nearest_mode", K::kString},
                         {"antialias", K::kInt},
                         {"axes", K::kInts},
                         {"keep_aspect_ratio_policy", K::kString}},
                        infer_resize});
  registry.add(OpSchema{"Upsample", "", 1, 2, 1, 1, {{"mode", K::kString}, {"scales", K::kFloats}}, infer_resize});
}

}  // namespace kiln
