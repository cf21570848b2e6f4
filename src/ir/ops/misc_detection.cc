// GridSample, RoiAlign and NonMaxSuppression: schemas and output shapes.
#include "ir/ops/misc_ops.h"

namespace kiln {
namespace {

using K = Attribute::Kind;

Expected<std::vector<TensorInfo>> infer_grid_sample(const InferContext& c) {
  const TensorInfo& x = c.input(0);
  const TensorInfo& grid = c.input(1);
  if (!x.dims_known || !grid.dims_known) return std::vector<TensorInfo>{unknown_dims(x.dtype, -1)};
  if (x.dims.size() < 3 || grid.dims.size() != x.dims.size()) {
    return infer_error(c.node, "X " + dims_to_string(x.dims) + " and grid " + dims_to_string(grid.dims) +
                                   " must have the same rank, at least 3");
  }
  if (x.dims[0] >= 0 && grid.dims[0] >= 0 && x.dims[0] != grid.dims[0]) {
    return infer_error(c.node, "X " + dims_to_string(x.dims) + " and grid " + dims_to_string(grid.dims) +
                                   " differ in batch size");
  }
  const int64_t spatial = static_cast<int64_t>(x.dims.size()) - 2;
  if (grid.dims.back() >= 0 && grid.dims.back() != spatial) {
    return infer_error(c.node, "grid " + dims_to_string(grid.dims) + " must end in " + std::to_string(spatial));
  }
  Dims out{x.dims[0], x.dims[1]};
  out.insert(out.end(), grid.dims.begin() + 1, grid.dims.end() - 1);
  return std::vector<TensorInfo>{TensorInfo{x.dtype, out, true}};
}

Expected<std::vector<TensorInfo>> infer_roi_align(const InferContext& c) {
  const TensorInfo& x = c.input(0);
  const TensorInfo& rois = c.input(1);
  int64_t channels = x.dims_known && x.dims.size() == 4 ? x.dims[1] : -1;
  if (x.dims_known && x.dims.size() != 4) return infer_error(c.node, "X must be 4-D, got " + dims_to_string(x.dims));
  int64_t count = rois.dims_known && rois.dims.size() == 2 ? rois.dims[0] : -1;
  Dims out{count, channels, c.node.attr_int("output_height", 1), c.node.attr_int("output_width", 1)};
  return std::vector<TensorInfo>{TensorInfo{x.dtype, out, true}};
}

Expected<std::vector<TensorInfo>> infer_nms(const InferContext& c) {
  // The number of selected boxes depends on the data.
  return std::vector<TensorInfo>{TensorInfo{DataType::kInt64, {-1, 3}, true}};
}

}  // namespace

void register_detection_ops(OpRegistry& registry) {
  registry.add(OpSchema{"GridSample",
                        "",
                        2,
                        2,
                        1,
                        1,
                        {{"align_corners", K::kInt}, {"mode", K::kString}, {"padding_mode", K::kString}},
                        infer_grid_sample});
  registry.add(OpSchema{"RoiAlign",
                        "",
                        3,
                        3,
                        1,
                        1,
                        {{"coordinate_transformation_mode", K::kString},
                         {"mode", K::kString},
                         {"output_height", K::kInt},
                         {"output_width", K::kInt},
                         {"sampling_ratio", K::kInt},
                         {"spatial_scale", K::kFloat}},
                        infer_roi_align});
  registry.add(OpSchema{"NonMaxSuppression", "", 2, 5, 1, 1, {{"center_point_box", K::kInt}}, infer_nms});
}

}  // namespace kiln
