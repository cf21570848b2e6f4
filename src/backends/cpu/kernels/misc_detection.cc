// RoiAlign and NonMaxSuppression on the CPU, following onnxruntime's
// reference behaviour (sample clamping, max pooling of weighted corners,
// IOU ties, candidate order).
#include <algorithm>
#include <cmath>
#include <numeric>

#include "backends/cpu/kernels/misc_kernels.h"
#include "core/dispatch.h"

namespace kiln::cpu {
namespace {

struct BilinearSample {
  int64_t pos[4] = {0, 0, 0, 0};
  double w[4] = {0, 0, 0, 0};
};

BilinearSample bilinear_sample(double y, double x, int64_t height, int64_t width) {
  BilinearSample s;
  if (y < -1.0 || y > static_cast<double>(height) || x < -1.0 || x > static_cast<double>(width)) return s;
  if (y <= 0) y = 0;
  if (x <= 0) x = 0;
  int64_t y_low = static_cast<int64_t>(y), x_low = static_cast<int64_t>(x), y_high, x_high;
  if (y_low >= height - 1) {
    y_high = y_low = height - 1;
    y = static_cast<double>(y_low);
  } else
    y_high = y_low + 1;
  if (x_low >= width - 1) {
    x_high = x_low = width - 1;
    x = static_cast<double>(x_low);
  } else
    x_high = x_low + 1;
  double ly = y - static_cast<double>(y_low), lx = x - static_cast<double>(x_low);
  double hy = 1 - ly, hx = 1 - lx;
  s.pos[0] = y_low * width + x_low;
  s.pos[1] = y_low * width + x_high;
  s.pos[2] = y_high * width + x_low;
  s.pos[3] = y_high * width + x_high;
  s.w[0] = hy * hx;
  s.w[1] = hy * lx;
  s.w[2] = ly * hx;
  s.w[3] = ly * lx;
  return s;
}

Status run_roi_align(KernelArgs& args) {
  const Node& node = args.node;
  const Tensor& x = args.input(0);
  const Tensor& rois_tensor = args.input(1);
  const Tensor& batch_tensor = args.input(2);
  Tensor& y = args.output(0);
  const std::string mode = node.attr_string("mode", "avg");
  if (mode != "avg" && mode != "max")
    return invalid_argument(node.describe() + ": mode '" + mode + "' is not avg or max");
  const std::string ctm =
      node.attr_string("coordinate_transformation_mode", node.opset >= 16 ? "half_pixel" : "output_half_pixel");
  if (ctm != "half_pixel" && ctm != "output_half_pixel") {
    return invalid_argument(node.describe() + ": coordinate_transformation_mode '" + ctm + "' is not supported");
  }
  const bool half_pixel = ctm == "half_pixel";
  const int64_t pooled_h = node.attr_int("output_height", 1), pooled_w = node.attr_int("output_width", 1);
  const int64_t sampling_ratio = node.attr_int("sampling_ratio", 0);
  const double spatial_scale = node.attr_float("spatial_scale", 1.0);
  const int64_t C = x.dim(1), H = x.dim(2), W = x.dim(3);
  if (rois_tensor.rank() != 2 || rois_tensor.dim(1) != 4) {
    return invalid_argument(node.describe() + ": rois must be [num_rois, 4], got " +
                            dims_to_string(rois_tensor.dims()));
  }
  const int64_t num_rois = rois_tensor.dim(0);
  std::vector<double> xv = x.to_double_vector(), rois = rois_tensor.to_double_vector();
  std::vector<int64_t> batch = batch_tensor.to_int64_vector();
  if (static_cast<int64_t>(batch.size()) != num_rois) {
    return invalid_argument(node.describe() + ": batch_indices has " + std::to_string(batch.size()) +
                            " values for " + std::to_string(num_rois) + " rois");
  }
  std::vector<double> out(static_cast<size_t>(num_rois * C * pooled_h * pooled_w));
  for (int64_t r = 0; r < num_rois; ++r) {
    const int64_t b = batch[static_cast<size_t>(r)];
    if (b < 0 || b >= x.dim(0)) {
      return out_of_range(node.describe() + ": batch index " + std::to_string(b) + " is outside X " +
                          dims_to_string(x.dims()));
    }
    const double offset = half_pixel ? 0.5 : 0.0;
    const double* roi = rois.data() + r * 4;
    double start_w = roi[0] * spatial_scale - offset, start_h = roi[1] * spatial_scale - offset;
    double end_w = roi[2] * spatial_scale - offset, end_h = roi[3] * spatial_scale - offset;
    double roi_w = end_w - start_w, roi_h = end_h - start_h;
    if (!half_pixel) {
      roi_w = std::max(roi_w, 1.0);
      roi_h = std::max(roi_h, 1.0);
    }
    const double bin_h = roi_h / static_cast<double>(pooled_h), bin_w = roi_w / static_cast<double>(pooled_w);
    const int64_t grid_h =
        sampling_ratio > 0 ? sampling_ratio : static_cast<int64_t>(std::ceil(roi_h / static_cast<double>(pooled_h)));
    const int64_t grid_w =
        sampling_ratio > 0 ? sampling_ratio : static_cast<int64_t>(std::ceil(roi_w / static_cast<double>(pooled_w)));
    const double count = static_cast<double>(std::max<int64_t>(grid_h * grid_w, 1));
    for (int64_t ph = 0; ph < pooled_h; ++ph) {
      for (int64_t pw = 0; pw < pooled_w; ++pw) {
        std::vector<BilinearSample> samples;
        for (int64_t iy = 0; iy < grid_h; ++iy) {
          double yy = start_h + static_cast<double>(ph) * bin_h +
                      (static_cast<double>(iy) + 0.5) * bin_h / static_cast<double>(grid_h);
          for (int64_t ix = 0; ix < grid_w; ++ix) {
            double xx = start_w + static_cast<double>(pw) * bin_w +
                        (static_cast<double>(ix) + 0.5) * bin_w / static_cast<double>(grid_w);
            samples.push_back(bilinear_sample(yy, xx, H, W));
          }
        }
        for (int64_t c = 0; c < C; ++c) {
          const double* plane = xv.data() + (b * C + c) * H * W;
          double value = 0;
          bool first = true;
          for (const BilinearSample& s : samples) {
            if (mode == "avg") {
              for (int k = 0; k < 4; ++k) value += s.w[k] * plane[s.pos[k]];
            } else {
              double m = s.w[0] * plane[s.pos[0]];
              for (int k = 1; k < 4; ++k) m = std::max(m, s.w[k] * plane[s.pos[k]]);
              value = first ? m : std::max(value, m);
              first = false;
            }
          }
          if (mode == "avg") value /= count;
          out[static_cast<size_t>(((r * C + c) * pooled_h + ph) * pooled_w + pw)] = value;
        }
      }
    }
  }
  if (!y.defined()) y = Tensor::empty(x.dtype(), {num_rois, C, pooled_h, pooled_w});
  bool ok = dispatch_float(y.dtype(), [&]<typename T>() {
    T* dst = y.data<T>();
    for (size_t i = 0; i < out.size(); ++i) dst[i] = from_double<T>(out[i]);
  });
  if (!ok) return unsupported_dtype(node, y.dtype());
  return ok_status();
}

struct Box {
  double y1, x1, y2, x2;
};

Box corners(const double* b, bool center_point) {
  if (center_point) {
    double xc = b[0], yc = b[1], w = b[2], h = b[3];
    return {yc - h / 2, xc - w / 2, yc + h / 2, xc + w / 2};
  }
  return {std::min(b[0], b[2]), std::min(b[1], b[3]), std::max(b[0], b[2]), std::max(b[1], b[3])};
}

bool suppresses(const Box& a, const Box& b, double iou_threshold) {
  double ix1 = std::max(a.x1, b.x1), iy1 = std::max(a.y1, b.y1);
  double ix2 = std::min(a.x2, b.x2), iy2 = std::min(a.y2, b.y2);
  double iw = ix2 - ix1, ih = iy2 - iy1;
  if (iw <= 0 || ih <= 0) return false;
  double inter = iw * ih;
  double area_a = (a.x2 - a.x1) * (a.y2 - a.y1), area_b = (b.x2 - b.x1) * (b.y2 - b.y1);
  double uni = area_a + area_b - inter;
  if (area_a <= 0 || area_b <= 0 || uni <= 0) return false;
  return inter / uni > iou_threshold;
}

Status run_nms(KernelArgs& args) {
  const Node& node = args.node;
  const Tensor& boxes_tensor = args.input(0);
  const Tensor& scores_tensor = args.input(1);
  if (boxes_tensor.rank() != 3 || boxes_tensor.dim(2) != 4 || scores_tensor.rank() != 3 ||
      scores_tensor.dim(0) != boxes_tensor.dim(0) || scores_tensor.dim(2) != boxes_tensor.dim(1)) {
    return invalid_argument(node.describe() + ": boxes " + dims_to_string(boxes_tensor.dims()) + " and scores " +
                            dims_to_string(scores_tensor.dims()) + " must be [B, N, 4] and [B, C, N]");
  }
  const int64_t max_per_class =
      args.has_input(2) && args.input(2).element_count() > 0 ? args.input(2).scalar_as_int64() : 0;
  const double iou_threshold =
      args.has_input(3) && args.input(3).element_count() > 0 ? args.input(3).scalar_as_double() : 0.0;
  const bool has_score_threshold = args.has_input(4) && args.input(4).element_count() > 0;
  const double score_threshold = has_score_threshold ? args.input(4).scalar_as_double() : 0.0;
  const bool center_point = node.attr_int("center_point_box", 0) != 0;
  const int64_t B = boxes_tensor.dim(0), N = boxes_tensor.dim(1), C = scores_tensor.dim(1);
  std::vector<double> boxes = boxes_tensor.to_double_vector(), scores = scores_tensor.to_double_vector();
  std::vector<int64_t> selected;
  for (int64_t b = 0; b < B && max_per_class > 0; ++b) {
    for (int64_t c = 0; c < C; ++c) {
      const double* s = scores.data() + (b * C + c) * N;
      std::vector<int64_t> candidates;
      for (int64_t i = 0; i < N; ++i) {
        if (!has_score_threshold || s[i] > score_threshold) candidates.push_back(i);
      }
      std::stable_sort(candidates.begin(), candidates.end(), [&](int64_t l, int64_t r) { return s[l] > s[r]; });
      std::vector<Box> kept;
      for (int64_t i : candidates) {
        if (static_cast<int64_t>(kept.size()) >= max_per_class) break;
        Box box = corners(boxes.data() + (b * N + i) * 4, center_point);
        bool drop = false;
        for (const Box& k : kept) {
          if (suppresses(k, box, iou_threshold)) {
            drop = true;
            break;
          }
        }
        if (drop) continue;
        kept.push_back(box);
        selected.insert(selected.end(), {b, c, i});
      }
    }
  }
  Tensor out = Tensor::empty(DataType::kInt64, {static_cast<int64_t>(selected.size() / 3), 3});
  std::copy(selected.begin(), selected.end(), out.data<int64_t>());
  args.output(0) = out;
  return ok_status();
}

}  // namespace

void register_detection_kernels(KernelTable& table) {
  table.add("RoiAlign", CpuKernel{nullptr, run_roi_align});
  table.add("NonMaxSuppression", CpuKernel{nullptr, run_nms});
  register_grid_sample_kernel(table);
}

}  // namespace kiln::cpu
