#include <cmath>

#include "passes/passes.h"

namespace kiln {
namespace {

bool constant_float(const Node& n, size_t i) {
  return n.has_input(i) && n.inputs[i]->constant && n.inputs[i]->constant->dtype() == DataType::kFloat32;
}

// Per-channel scale and shift of an inference BatchNormalization, or false.
bool batchnorm_affine(const Node& bn, std::vector<double>* scale, std::vector<double>* shift) {
  if (bn.op_type != "BatchNormalization" || !bn.domain.empty()) return false;
  if (bn.attr_int("spatial", 1) != 1 || bn.attr_int("training_mode", 0) != 0) return false;
  for (size_t i = 1; i < bn.outputs.size(); ++i) if (bn.outputs[i]) return false;
  for (size_t i = 1; i <= 4; ++i) if (!constant_float(bn, i)) return false;
  const double epsilon = bn.attr_float("epsilon", 1e-5);
  const Tensor& gamma = *bn.inputs[1]->constant;
  const Tensor& beta = *bn.inputs[2]->constant;
  const Tensor& mean = *bn.inputs[3]->constant;
  const Tensor& var = *bn.inputs[4]->constant;
  const int64_t c = gamma.element_count();
  if (beta.element_count() != c || mean.element_count() != c || var.element_count() != c) return false;
  scale->resize(c);
  shift->resize(c);
  for (int64_t i = 0; i < c; ++i) {
    double s = gamma.data<float>()[i] / std::sqrt(static_cast<double>(var.data<float>()[i]) + epsilon);
    (*scale)[i] = s;
    (*shift)[i] = beta.data<float>()[i] - mean.data<float>()[i] * s;
  }
  return true;
}

// Output-channel layout of the weight: W[o] blocks for Conv and Gemm(transB=1);
// for ConvTranspose W is [C_in, C_out/groups, k...]; for Gemm(transB=0) W is [K, N].
struct ChannelLayout {
  int64_t outer = 1;     // repetitions before the channel axis
  int64_t channels = 0;  // channels on the axis
  int64_t inner = 1;     // contiguous elements per channel
  int64_t groups = 1;    // ConvTranspose: channel index = g * channels + c
};

bool weight_layout(const Node& producer, const Tensor& w, int64_t out_channels, ChannelLayout* layout) {
  const Dims& d = w.dims();
  if (producer.op_type == "Conv") {
    if (d.empty() || d[0] != out_channels) return false;
    layout->channels = d[0];
    layout->inner = w.element_count() / d[0];
    return true;
  }
  if (producer.op_type == "ConvTranspose") {
    int64_t groups = producer.attr_int("group", 1);
    if (d.size() < 2 || d[1] * groups != out_channels) return false;
    layout->groups = groups;
    layout->outer = d[0];
    layout->channels = d[1];
    layout->inner = w.element_count() / (d[0] * d[1]);
    return true;
  }
  if (producer.op_type == "Gemm") {
    if (d.size() != 2) return false;
    if (producer.attr_int("transB", 0)) {
      if (d[0] != out_channels) return false;
      layout->channels = d[0];
      layout->inner = d[1];
    } else {
      if (d[1] != out_channels) return false;
      layout->outer = d[0];
      layout->channels = d[1];
    }
    return true;
  }
  return false;
}

}  // namespace

Expected<PassStats> fold_batchnorm(Graph& graph) {
  PassStats stats;
  auto bns = nodes_where(graph, [](const Node& n) { return n.op_type == "BatchNormalization" && n.domain.empty(); });
  for (Node* bn : bns) {
    if (!bn->has_input(0) || !bn->outputs[0]) continue;
    Value* y = bn->inputs[0];
    Node* producer = y->producer;
    if (!producer || !producer->domain.empty()) continue;
    if (producer->op_type != "Conv" && producer->op_type != "ConvTranspose" && producer->op_type != "Gemm") continue;
    if (graph.consumers(y).size() != 1 || is_graph_output(graph, y)) continue;
    if (!constant_float(*producer, 1)) continue;
    if (producer->op_type == "Gemm" && producer->attr_float("alpha", 1.0) != 1.0) continue;
    std::vector<double> scale, shift;
    if (!batchnorm_affine(*bn, &scale, &shift)) continue;
    const int64_t c = static_cast<int64_t>(scale.size());
    const Tensor& w = *producer->inputs[1]->constant;
    ChannelLayout layout;
    if (!weight_layout(*producer, w, c, &layout)) continue;
    // Existing bias must be a constant vector of C (Gemm: C broadcast to [N] only).
    std::vector<double> bias(c, 0.0);
    if (producer->has_input(2)) {
      if (!constant_float(*producer, 2)) continue;
      const Tensor& b = *producer->inputs[2]->constant;
      double beta_coef = producer->op_type == "Gemm" ? producer->attr_float("beta", 1.0) : 1.0;
      if (b.element_count() == c && (producer->op_type != "Gemm" || b.dims().back() == c)) {
        for (int64_t i = 0; i < c; ++i) bias[i] = beta_coef * b.data<float>()[i];
      } else if (b.element_count() == 1) {
        for (int64_t i = 0; i < c; ++i) bias[i] = beta_coef * b.data<float>()[0];
      } else {
        continue;
      }
    }
    Tensor new_w = w.clone();
    float* wd = new_w.data<float>();
    for (int64_t o = 0; o < layout.outer; ++o) {
      int64_t g = layout.groups > 1 ? o / (layout.outer / layout.groups) : 0;
      for (int64_t ch = 0; ch < layout.channels; ++ch) {
        double s = scale[g * layout.channels + ch];
        float* block = wd + (o * layout.channels + ch) * layout.inner;
        for (int64_t k = 0; k < layout.inner; ++k) block[k] = static_cast<float>(block[k] * s);
      }
    }
    Tensor new_b = Tensor::empty(DataType::kFloat32, {c});
    for (int64_t i = 0; i < c; ++i) new_b.data<float>()[i] = static_cast<float>(bias[i] * scale[i] + shift[i]);
    Value* wv = graph.new_value(producer->inputs[1]->name + "_bnfolded");
    wv->dtype = DataType::kFloat32;
    wv->shape = Shape::from_dims(new_w.dims());
    wv->constant = std::move(new_w);
    Value* bv = graph.new_value(producer->name + "_bias_bnfolded");
    bv->dtype = DataType::kFloat32;
    bv->shape = Shape::from_dims({c});
    bv->constant = std::move(new_b);
    producer->inputs[1] = wv;
    if (producer->inputs.size() < 3) producer->inputs.resize(3, nullptr);
    producer->inputs[2] = bv;
    if (producer->op_type == "Gemm") producer->attributes["beta"] = Attribute::of_float(1.0);
    // The producer now writes the BatchNormalization's output value directly.
    Value* out = bn->outputs[0];
    graph.remove_node(bn);
    producer->outputs[0] = out;
    out->producer = producer;
    y->producer = nullptr;
    ++stats.changed;
  }
  return stats;
}

}  // namespace kiln
