// NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (= log-softmax over
// the class axis, then NLL). Inputs are N x C x d1..dk scores with N x d1..dk
// integer targets; per-class weights and ignore_index are optional.
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "backends/cpu/kernels/reduction_iteration.h"
#include "backends/cpu/kernels/reduction_kernels.h"
#include "core/dispatch.h"

namespace kiln::cpu {
namespace {

// Scores viewed as N x C x D, D being the product of d1..dk (1 when k = 0).
struct LossLayout {
  int64_t batch = 0;
  int64_t classes = 0;
  int64_t positions = 1;
};

Expected<LossLayout> loss_layout(const Node& node, const Tensor& scores, const Tensor& target) {
  bool consistent = scores.rank() >= 2 && target.rank() + 1 == scores.rank();
  for (size_t i = 0; consistent && i < target.rank(); ++i) {
    consistent = target.dim(i) == scores.dim(i == 0 ? 0 : i + 1);
  }
  if (!consistent) {
    return invalid_argument(node.describe() + ": scores shape " + dims_to_string(scores.dims()) +
                            " does not match target shape " + dims_to_string(target.dims()) +
                            " (expected N x C x d1..dk and N x d1..dk)");
  }
  LossLayout layout;
  layout.batch = scores.dim(0);
  layout.classes = scores.dim(1);
  for (size_t i = 2; i < scores.rank(); ++i) layout.positions *= scores.dim(i);
  return layout;
}

std::vector<double> read_doubles(const Tensor& t) {
  std::vector<double> out(static_cast<size_t>(t.element_count()));
  dispatch_all_numeric(t.dtype(), [&]<typename T>() {
    const T* p = t.data<T>();
    for (size_t i = 0; i < out.size(); ++i) out[i] = to_double(p[i]);
  });
  return out;
}

// Log-softmax over the class axis of an N x C x D block.
std::vector<double> log_softmax_over_classes(const std::vector<double>& scores, const LossLayout& l) {
  std::vector<double> out(scores.size());
  for (int64_t n = 0; n < l.batch; ++n) {
    for (int64_t d = 0; d < l.positions; ++d) {
      const int64_t base = n * l.classes * l.positions + d;
      double max_value = -std::numeric_limits<double>::infinity();
      for (int64_t c = 0; c < l.classes; ++c) max_value = std::max(max_value, scores[base + c * l.positions]);
      double sum = 0;
      for (int64_t c = 0; c < l.classes; ++c) sum += std::exp(scores[base + c * l.positions] - max_value);
      const double offset = max_value + std::log(sum);
      for (int64_t c = 0; c < l.classes; ++c) out[base + c * l.positions] = scores[base + c * l.positions] - offset;
    }
  }
  return out;
}

// Weighted NLL of log-probabilities, reduced as the node asks; writes output 0.
Status negative_log_likelihood(KernelArgs& args, const std::vector<double>& log_prob, const LossLayout& l) {
  const Node& node = args.node;
  const Tensor& target_tensor = args.input(1);
  const std::vector<int64_t> target = target_tensor.to_int64_vector();
  std::vector<double> class_weight;
  if (args.has_input(2)) {
    if (args.input(2).element_count() != l.classes) {
      return invalid_argument(node.describe() + ": weight has shape " + dims_to_string(args.input(2).dims()) +
                              ", expected " + std::to_string(l.classes) + " elements (one per class)");
    }
    class_weight = read_doubles(args.input(2));
  }
  const bool has_ignore = node.has_attribute("ignore_index");
  const int64_t ignore_index = node.attr_int("ignore_index", 0);
  std::vector<double> loss(static_cast<size_t>(l.batch * l.positions), 0.0);
  double loss_sum = 0, weight_sum = 0;
  for (int64_t n = 0; n < l.batch; ++n) {
    for (int64_t d = 0; d < l.positions; ++d) {
      const int64_t i = n * l.positions + d;
      const int64_t t = target[i];
      if (has_ignore && t == ignore_index) continue;  // loss and weight stay 0
      if (t < 0 || t >= l.classes) {
        return out_of_range(node.describe() + ": target value " + std::to_string(t) + " at position " +
                            std::to_string(i) + " is outside [0, " + std::to_string(l.classes) + ")");
      }
      const double w = class_weight.empty() ? 1.0 : class_weight[t];
      loss[i] = -log_prob[(n * l.classes + t) * l.positions + d] * w;
      loss_sum += loss[i];
      weight_sum += w;
    }
  }
  const std::string reduction = node.attr_string("reduction", "mean");
  const DataType dtype = args.input(0).dtype();
  if (reduction == "none") {
    Tensor& out = ensure_output(args, 0, dtype, target_tensor.dims());
    write_doubles(out, loss);
  } else if (reduction == "sum" || reduction == "mean") {
    Tensor& out = ensure_output(args, 0, dtype, {});
    write_doubles(out, {reduction == "sum" ? loss_sum : loss_sum / weight_sum});
  } else {
    return invalid_argument(node.describe() + ": reduction '" + reduction + "' is not one of none, sum, mean");
  }
  return ok_status();
}

Status float_scores(const Node& node, const std::vector<TensorInfo>& inputs) {
  if (!dtype_is_float(inputs[0].dtype)) return unsupported_dtype(node, inputs[0].dtype);
  return ok_status();
}

Status run_nll(KernelArgs& args) {
  KILN_ASSIGN_OR_RETURN(LossLayout layout, loss_layout(args.node, args.input(0), args.input(1)));
  return negative_log_likelihood(args, read_doubles(args.input(0)), layout);
}

Status run_softmax_cross_entropy(KernelArgs& args) {
  const Tensor& scores = args.input(0);
  KILN_ASSIGN_OR_RETURN(LossLayout layout, loss_layout(args.node, scores, args.input(1)));
  const std::vector<double> log_prob = log_softmax_over_classes(read_doubles(scores), layout);
  KILN_RETURN_IF_ERROR(negative_log_likelihood(args, log_prob, layout));
  if (args.node.has_output(1)) write_doubles(ensure_output(args, 1, scores.dtype(), scores.dims()), log_prob);
  return ok_status();
}

}  // namespace

void register_loss_kernels(KernelTable& table) {
  table.add("NegativeLogLikelihoodLoss", {float_scores, run_nll});
  table.add("SoftmaxCrossEntropyLoss", {float_scores, run_softmax_cross_entropy});
}

}  // namespace kiln::cpu
