// BatchNormalization, InstanceNormalization, LayerNormalization and
// GroupNormalization. Statistics are computed in double whatever the input
// type: these ops are memory-bound, and double keeps the variance stable.
#include <cmath>
#include <vector>

#include "backends/cpu/kernels/reduction_iteration.h"
#include "backends/cpu/kernels/reduction_kernels.h"
#include "core/dispatch.h"
#include "ir/ops/reduction_normalization.h"

namespace kiln::cpu {
namespace {

Status float_input(const Node& node, const std::vector<TensorInfo>& inputs) {
  if (!dtype_is_float(inputs[0].dtype)) return unsupported_dtype(node, inputs[0].dtype);
  return ok_status();
}

// Mean and population variance of `count` elements starting at `x` with `stride`.
template <typename T>
void mean_and_variance(const T* x, int64_t count, double* mean, double* variance) {
  double sum = 0;
  for (int64_t i = 0; i < count; ++i) sum += to_double(x[i]);
  const double m = count > 0 ? sum / static_cast<double>(count) : 0.0;
  double squares = 0;
  for (int64_t i = 0; i < count; ++i) {
    const double d = to_double(x[i]) - m;
    squares += d * d;
  }
  *mean = m;
  *variance = count > 0 ? squares / static_cast<double>(count) : 0.0;
}

Status require_channels(const Node& node, const Tensor& x) {
  if (x.rank() < 2) {
    return invalid_argument(node.describe() + ": input must be N x C x ..., got shape " + dims_to_string(x.dims()));
  }
  return ok_status();
}

Status check_parameter(const Node& node, const Tensor& p, const char* name, int64_t expected) {
  if (p.element_count() != expected) {
    return invalid_argument(node.describe() + ": " + name + " has shape " + dims_to_string(p.dims()) + ", expected " +
                            std::to_string(expected) + " elements");
  }
  return ok_status();
}

Status run_batch_norm(KernelArgs& args) {
  const Node& node = args.node;
  const Tensor& x = args.input(0);
  KILN_RETURN_IF_ERROR(require_channels(node, x));
  const int64_t batch = x.dim(0), channels = x.dim(1);
  const int64_t spatial = batch * channels == 0 ? 0 : x.element_count() / (batch * channels);
  std::vector<double> scale = input_as_doubles(args, 1), bias = input_as_doubles(args, 2);
  std::vector<double> mean = input_as_doubles(args, 3), var = input_as_doubles(args, 4);
  const double epsilon = node.attr_float("epsilon", 1e-5);
  const double momentum = node.attr_float("momentum", 0.9);
  const bool training = node.opset >= 14 ? node.attr_int("training_mode", 0) != 0 : node.outputs.size() > 1;
  // spatial = 0 (before opset 9) gives one parameter per channel and position.
  const int64_t per_channel = static_cast<int64_t>(scale.size()) == channels ? 1 : spatial;
  const char* names[] = {"scale", "B", "input_mean", "input_var"};
  for (size_t i = 1; i <= 4; ++i) {
    KILN_RETURN_IF_ERROR(check_parameter(node, args.input(i), names[i - 1], channels * per_channel));
  }
  if (training && per_channel != 1) {
    return unimplemented(node.describe() + ": training mode with per-position parameters (spatial = 0)");
  }
  std::vector<double> batch_mean(channels), batch_var(channels);
  if (training) {
    // Statistics of this batch per channel, over N and the spatial axes.
    dispatch_float(x.dtype(), [&]<typename T>() {
      const T* data = x.data<T>();
      for (int64_t c = 0; c < channels; ++c) {
        double sum = 0, squares = 0;
        for (int64_t n = 0; n < batch; ++n) {
          const T* p = data + (n * channels + c) * spatial;
          for (int64_t i = 0; i < spatial; ++i) sum += to_double(p[i]);
        }
        const double count = static_cast<double>(batch * spatial);
        batch_mean[c] = sum / count;
        for (int64_t n = 0; n < batch; ++n) {
          const T* p = data + (n * channels + c) * spatial;
          for (int64_t i = 0; i < spatial; ++i) {
            const double d = to_double(p[i]) - batch_mean[c];
            squares += d * d;
          }
        }
        batch_var[c] = squares / count;
      }
    });
  }
  const std::vector<double>& use_mean = training ? batch_mean : mean;
  const std::vector<double>& use_var = training ? batch_var : var;
  // y = x * a + b with a = scale / sqrt(var + eps), b = B - mean * a.
  std::vector<double> a(scale.size()), b(scale.size());
  for (size_t i = 0; i < scale.size(); ++i) {
    a[i] = scale[i] / std::sqrt(use_var[i] + epsilon);
    b[i] = bias[i] - use_mean[i] * a[i];
  }
  Tensor& y = ensure_output(args, 0, x.dtype(), x.dims());
  const bool handled = dispatch_float(x.dtype(), [&]<typename T>() {
    const T* in = x.data<T>();
    T* out = y.data<T>();
#pragma omp parallel for collapse(2) if (x.element_count() >= kParallelThreshold)
    for (int64_t n = 0; n < batch; ++n) {
      for (int64_t c = 0; c < channels; ++c) {
        const int64_t offset = (n * channels + c) * spatial;
        for (int64_t i = 0; i < spatial; ++i) {
          const size_t p = static_cast<size_t>(per_channel == 1 ? c : c * spatial + i);
          out[offset + i] = from_double<T>(to_double(in[offset + i]) * a[p] + b[p]);
        }
      }
    }
  });
  if (!handled) return unsupported_dtype(node, x.dtype());
  if (!training) return ok_status();
  std::vector<double> running_mean(channels), running_var(channels);
  for (int64_t c = 0; c < channels; ++c) {
    running_mean[c] = mean[c] * momentum + batch_mean[c] * (1 - momentum);
    running_var[c] = var[c] * momentum + batch_var[c] * (1 - momentum);
  }
  const std::vector<double>* results[] = {&running_mean, &running_var, &batch_mean, &batch_var};
  for (size_t i = 1; i < node.outputs.size() && i <= 4; ++i) {
    if (!node.has_output(i)) continue;
    const Tensor& like = args.input(i == 2 || i == 4 ? 4 : 3);
    Tensor& out = ensure_output(args, i, like.dtype(), like.dims());
    if (!write_doubles(out, *results[i - 1])) return unsupported_dtype(node, like.dtype(), "input_mean");
  }
  return ok_status();
}

Status run_instance_norm(KernelArgs& args) {
  const Node& node = args.node;
  const Tensor& x = args.input(0);
  KILN_RETURN_IF_ERROR(require_channels(node, x));
  const int64_t batch = x.dim(0), channels = x.dim(1);
  const int64_t spatial = batch * channels == 0 ? 0 : x.element_count() / (batch * channels);
  KILN_RETURN_IF_ERROR(check_parameter(node, args.input(1), "scale", channels));
  KILN_RETURN_IF_ERROR(check_parameter(node, args.input(2), "B", channels));
  const std::vector<double> scale = input_as_doubles(args, 1), bias = input_as_doubles(args, 2);
  const double epsilon = node.attr_float("epsilon", 1e-5);
  Tensor& y = ensure_output(args, 0, x.dtype(), x.dims());
  const bool handled = dispatch_float(x.dtype(), [&]<typename T>() {
    const T* in = x.data<T>();
    T* out = y.data<T>();
#pragma omp parallel for collapse(2) if (x.element_count() >= kParallelThreshold)
    for (int64_t n = 0; n < batch; ++n) {
      for (int64_t c = 0; c < channels; ++c) {
        const int64_t offset = (n * channels + c) * spatial;
        double mean = 0, variance = 0;
        mean_and_variance(in + offset, spatial, &mean, &variance);
        const double a = scale[c] / std::sqrt(variance + epsilon);
        for (int64_t i = 0; i < spatial; ++i) {
          out[offset + i] = from_double<T>((to_double(in[offset + i]) - mean) * a + bias[c]);
        }
      }
    }
  });
  return handled ? ok_status() : unsupported_dtype(node, x.dtype());
}

// Scale or bias of LayerNormalization expanded to one value per element of
// the normalised shape (it may broadcast, right-aligned, to that shape).
Expected<std::vector<double>> expand_to_normalized(const Node& node, const Tensor& p, const Dims& norm_dims) {
  const Dims& pd = p.dims();
  size_t leading = 0;
  while (pd.size() - leading > norm_dims.size()) {
    if (pd[leading] != 1) {
      return unimplemented(node.describe() + ": parameter of shape " + dims_to_string(pd) +
                           " varies outside the normalised shape " + dims_to_string(norm_dims));
    }
    ++leading;
  }
  const Dims own(pd.begin() + leading, pd.end());
  const size_t offset = norm_dims.size() - own.size();
  std::vector<int64_t> strides(norm_dims.size(), 0);
  int64_t stride = 1;
  for (size_t i = own.size(); i-- > 0;) {
    if (own[i] != 1 && own[i] != norm_dims[offset + i]) {
      return invalid_argument(node.describe() + ": parameter of shape " + dims_to_string(pd) +
                              " does not broadcast to the normalised shape " + dims_to_string(norm_dims));
    }
    strides[offset + i] = own[i] == 1 ? 0 : stride;
    stride *= own[i];
  }
  const std::vector<double> values = p.to_double_vector();
  std::vector<double> out(static_cast<size_t>(element_count(norm_dims)));
  std::vector<int64_t> index(norm_dims.size(), 0);
  for (size_t flat = 0; flat < out.size(); ++flat) {
    int64_t source = 0;
    for (size_t d = 0; d < norm_dims.size(); ++d) source += index[d] * strides[d];
    out[flat] = values[static_cast<size_t>(source)];
    for (size_t d = norm_dims.size(); d-- > 0;) {
      if (++index[d] < norm_dims[d]) break;
      index[d] = 0;
    }
  }
  return out;
}

Status run_layer_norm(KernelArgs& args) {
  const Node& node = args.node;
  const Tensor& x = args.input(0);
  const int64_t rank = static_cast<int64_t>(x.rank());
  KILN_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(node.attr_int("axis", -1), rank, node));
  const Dims norm_dims(x.dims().begin() + axis, x.dims().end());
  const int64_t norm = element_count(norm_dims);
  const int64_t rows = norm == 0 ? 0 : x.element_count() / norm;
  KILN_ASSIGN_OR_RETURN(std::vector<double> scale, expand_to_normalized(node, args.input(1), norm_dims));
  std::vector<double> bias(static_cast<size_t>(norm), 0.0);
  if (args.has_input(2)) {
    KILN_ASSIGN_OR_RETURN(bias, expand_to_normalized(node, args.input(2), norm_dims));
  }
  const double epsilon = node.attr_float("epsilon", 1e-5);
  std::vector<double> means(rows), inv_std(rows);
  Tensor& y = ensure_output(args, 0, x.dtype(), x.dims());
  const bool handled = dispatch_float(x.dtype(), [&]<typename T>() {
    const T* in = x.data<T>();
    T* out = y.data<T>();
#pragma omp parallel for if (x.element_count() >= kParallelThreshold)
    for (int64_t r = 0; r < rows; ++r) {
      double variance = 0;
      mean_and_variance(in + r * norm, norm, &means[r], &variance);
      inv_std[r] = 1.0 / std::sqrt(variance + epsilon);
      for (int64_t j = 0; j < norm; ++j) {
        const int64_t i = r * norm + j;
        out[i] = from_double<T>((to_double(in[i]) - means[r]) * inv_std[r] * scale[j] + bias[j]);
      }
    }
  });
  if (!handled) return unsupported_dtype(node, x.dtype());
  Dims stats_dims = x.dims();
  for (int64_t i = axis; i < rank; ++i) stats_dims[i] = 1;
  const DataType stats_type = layer_norm_stash_type(node, x.dtype());
  if (node.has_output(1)) write_doubles(ensure_output(args, 1, stats_type, stats_dims), means);
  if (node.has_output(2)) write_doubles(ensure_output(args, 2, stats_type, stats_dims), inv_std);
  return ok_status();
}

Status run_group_norm(KernelArgs& args) {
  const Node& node = args.node;
  const Tensor& x = args.input(0);
  KILN_RETURN_IF_ERROR(require_channels(node, x));
  const int64_t groups = node.attr_int("num_groups", 0);
  const int64_t batch = x.dim(0), channels = x.dim(1);
  if (groups <= 0 || channels % groups != 0) {
    return invalid_argument(node.describe() + ": num_groups = " + std::to_string(groups) +
                            " does not divide the " + std::to_string(channels) + " channels");
  }
  const int64_t spatial = batch * channels == 0 ? 0 : x.element_count() / (batch * channels);
  const int64_t channels_per_group = channels / groups;
  const std::vector<double> scale = input_as_doubles(args, 1), bias = input_as_doubles(args, 2);
  // Opset 18 has one scale/bias per group, opset 21 one per channel.
  const bool per_channel = static_cast<int64_t>(scale.size()) == channels;
  const int64_t expected = per_channel ? channels : groups;
  KILN_RETURN_IF_ERROR(check_parameter(node, args.input(1), "scale", expected));
  KILN_RETURN_IF_ERROR(check_parameter(node, args.input(2), "bias", expected));
  const double epsilon = node.attr_float("epsilon", 1e-5);
  Tensor& y = ensure_output(args, 0, x.dtype(), x.dims());
  const int64_t group_size = channels_per_group * spatial;
  const bool handled = dispatch_float(x.dtype(), [&]<typename T>() {
    const T* in = x.data<T>();
    T* out = y.data<T>();
#pragma omp parallel for collapse(2) if (x.element_count() >= kParallelThreshold)
    for (int64_t n = 0; n < batch; ++n) {
      for (int64_t g = 0; g < groups; ++g) {
        const int64_t offset = (n * groups + g) * group_size;
        double mean = 0, variance = 0;
        mean_and_variance(in + offset, group_size, &mean, &variance);
        const double inv = 1.0 / std::sqrt(variance + epsilon);
        for (int64_t c = 0; c < channels_per_group; ++c) {
          const size_t p = static_cast<size_t>(per_channel ? g * channels_per_group + c : g);
          for (int64_t i = 0; i < spatial; ++i) {
            const int64_t e = offset + c * spatial + i;
            out[e] = from_double<T>((to_double(in[e]) - mean) * inv * scale[p] + bias[p]);
          }
        }
      }
    }
  });
  return handled ? ok_status() : unsupported_dtype(node, x.dtype());
}

}  // namespace

void register_normalization_kernels(KernelTable& table) {
  table.add("BatchNormalization", {float_input, run_batch_norm});
  table.add("InstanceNormalization", {float_input, run_instance_norm});
  table.add("LayerNormalization", {float_input, run_layer_norm});
  table.add("GroupNormalization", {float_input, run_group_norm});
}

}  // namespace kiln::cpu
