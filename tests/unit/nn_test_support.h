// Shared by the nn op tests: a one-node graph runner, random tensors, a
// tolerance check and naive loop references for convolutions and MatMul,
// written independently of the kernels they check.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "ir/op_registry.h"
#include "kiln/builder.h"
#include "kiln/engine.h"

namespace kiln::nn_test {

// ---------------------------------------------------------------- helpers

struct InputSpec {
  std::string name;
  Tensor value;
  bool constant = false;  // weight (initializer) rather than graph input
};

// Builds a one-node graph, runs it on the CPU backend and returns its outputs.
inline Expected<std::vector<Tensor>> run_node(const std::string& op_type, const std::vector<InputSpec>& inputs,
                                              std::map<std::string, Attribute> attributes, int outputs = 1,
                                              int opset = 19) {
  auto graph = std::make_unique<Graph>();
  graph->opsets[""] = opset;
  auto node = std::make_unique<Node>();
  node->name = "n";
  node->op_type = op_type;
  node->opset = opset;
  node->attributes = std::move(attributes);
  TensorMap feeds;
  for (const InputSpec& in : inputs) {
    if (in.name.empty()) {
      node->inputs.push_back(nullptr);
      continue;
    }
    Value* v = graph->value(in.name);
    v->dtype = in.value.dtype();
    v->shape = Shape::from_dims(in.value.dims());
    if (in.constant) {
      v->constant = in.value;
    } else {
      graph->inputs().push_back(v);
      feeds[in.name] = in.value;
    }
    node->inputs.push_back(v);
  }
  for (int i = 0; i < outputs; ++i) {
    Value* v = graph->value("out" + std::to_string(i));
    node->outputs.push_back(v);
    graph->outputs().push_back(v);
  }
  graph->add_node(std::move(node));
  KILN_ASSIGN_OR_RETURN(auto engine, Builder::build(std::move(graph)));
  KILN_ASSIGN_OR_RETURN(auto context, engine->create_context());
  return context->execute(feeds);
}

inline Tensor random_tensor(DataType dtype, const Dims& dims, uint32_t seed, double low = -1.0, double high = 1.0) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> dist(low, high);
  Tensor t = Tensor::empty(dtype, dims);
  for (int64_t i = 0; i < t.element_count(); ++i) {
    double v = dist(rng);
    switch (dtype) {
      case DataType::kFloat32:
        t.data<float>()[i] = static_cast<float>(v);
        break;
      case DataType::kFloat64:
        t.data<double>()[i] = v;
        break;
      case DataType::kInt32:
        t.data<int32_t>()[i] = static_cast<int32_t>(std::lround(v));
        break;
      case DataType::kInt64:
        t.data<int64_t>()[i] = std::lround(v);
        break;
      case DataType::kUint8:
        t.data<uint8_t>()[i] = static_cast<uint8_t>(std::lround(v));
        break;
      case DataType::kInt8:
        t.data<int8_t>()[i] = static_cast<int8_t>(std::lround(v));
        break;
      default:
        break;
    }
  }
  return t;
}

inline std::vector<double> as_doubles(const Tensor& t) { return t.to_double_vector(); }

inline void expect_close(const Tensor& actual, const Dims& expected_dims, const std::vector<double>& expected,
                         double atol, double rtol, const std::string& what) {
  ASSERT_EQ(actual.dims(), expected_dims) << what;
  std::vector<double> got = as_doubles(actual);
  ASSERT_EQ(got.size(), expected.size()) << what;
  int reported = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::fabs(got[i] - expected[i]) > atol + rtol * std::fabs(expected[i])) {
      ADD_FAILURE() << what << ": element " << i << " is " << got[i] << ", expected " << expected[i];
      if (++reported > 5) return;
    }
  }
}

inline Attribute ints(std::vector<int64_t> v) { return Attribute::of_ints(std::move(v)); }

// Row-major flat index of a multi-index.
inline int64_t flat_index(const Dims& dims, const Dims& index) {
  int64_t flat = 0;
  for (size_t i = 0; i < dims.size(); ++i) flat = flat * dims[i] + index[i];
  return flat;
}

// Advances a multi-index over `dims`; false once it wrapped around.
inline bool next_index(const Dims& dims, Dims& index) {
  for (size_t i = dims.size(); i-- > 0;) {
    if (++index[i] < dims[i]) return true;
    index[i] = 0;
  }
  return false;
}

// ---------------------------------------------------------------- naive references

struct ConvCase {
  Dims x;  // N, C, spatial...
  Dims w;  // forward: M, C/g, k...; transposed: C, M/g, k...
  int64_t group = 1;
  Dims strides, dilations, pads;  // empty = default
  bool bias = true;
  Dims output_padding;
};

// Direct convolution with explicit pads, any spatial rank.
inline std::vector<double> naive_conv(const ConvCase& c, const Dims& out_dims, const std::vector<double>& x,
                                      const std::vector<double>& w, const std::vector<double>* b,
                                      const Dims& pads_begin) {
  size_t rank = c.x.size() - 2;
  Dims strides = c.strides.empty() ? Dims(rank, 1) : c.strides;
  Dims dilations = c.dilations.empty() ? Dims(rank, 1) : c.dilations;
  int64_t m_per_group = c.w[0] / c.group, c_per_group = c.w[1];
  Dims kernel(c.w.begin() + 2, c.w.end());
  std::vector<double> y(element_count(out_dims), 0.0);
  Dims oi(out_dims.size(), 0);
  do {
    int64_t n = oi[0], m = oi[1];
    double acc = b ? (*b)[m] : 0.0;
    for (int64_t ci = 0; ci < c_per_group; ++ci) {
      int64_t channel = (m / m_per_group) * c_per_group + ci;
      Dims ki(rank, 0);
      do {
        Dims xi = {n, channel};
        bool inside = true;
        for (size_t d = 0; d < rank; ++d) {
          int64_t pos = oi[d + 2] * strides[d] - pads_begin[d] + ki[d] * dilations[d];
          inside &= pos >= 0 && pos < c.x[d + 2];
          xi.push_back(pos);
        }
        if (!inside) continue;
        Dims wi = {m, ci};
        wi.insert(wi.end(), ki.begin(), ki.end());
        acc += x[flat_index(c.x, xi)] * w[flat_index(c.w, wi)];
      } while (next_index(kernel, ki));
    }
    y[flat_index(out_dims, oi)] = acc;
  } while (next_index(out_dims, oi));
  return y;
}

// Transposed convolution as a scatter of every input cell.
inline std::vector<double> naive_conv_transpose(const ConvCase& c, const Dims& out_dims, const std::vector<double>& x,
                                                const std::vector<double>& w, const std::vector<double>* b,
                                                const Dims& pads_begin) {
  size_t rank = c.x.size() - 2;
  Dims strides = c.strides.empty() ? Dims(rank, 1) : c.strides;
  Dims dilations = c.dilations.empty() ? Dims(rank, 1) : c.dilations;
  int64_t c_per_group = c.x[1] / c.group, m_per_group = c.w[1];
  Dims kernel(c.w.begin() + 2, c.w.end());
  std::vector<double> y(element_count(out_dims), 0.0);
  Dims xi(c.x.size(), 0);
  do {
    int64_t n = xi[0], channel = xi[1];
    int64_t group = channel / c_per_group;
    double xv = x[flat_index(c.x, xi)];
    for (int64_t mi = 0; mi < m_per_group; ++mi) {
      Dims ki(rank, 0);
      do {
        Dims yi = {n, group * m_per_group + mi};
        bool inside = true;
        for (size_t d = 0; d < rank; ++d) {
          int64_t pos = xi[d + 2] * strides[d] - pads_begin[d] + ki[d] * dilations[d];
          inside &= pos >= 0 && pos < out_dims[d + 2];
          yi.push_back(pos);
        }
        if (!inside) continue;
        Dims wi = {channel, mi};
        wi.insert(wi.end(), ki.begin(), ki.end());
        y[flat_index(out_dims, yi)] += xv * w[flat_index(c.w, wi)];
      } while (next_index(kernel, ki));
    }
  } while (next_index(c.x, xi));
  if (b) {
    Dims yi(out_dims.size(), 0);
    do y[flat_index(out_dims, yi)] += (*b)[yi[1]];
    while (next_index(out_dims, yi));
  }
  return y;
}

inline std::map<std::string, Attribute> conv_attributes(const ConvCase& c) {
  std::map<std::string, Attribute> a;
  if (c.group != 1) a["group"] = Attribute::of_int(c.group);
  if (!c.strides.empty()) a["strides"] = ints(c.strides);
  if (!c.dilations.empty()) a["dilations"] = ints(c.dilations);
  if (!c.pads.empty()) a["pads"] = ints(c.pads);
  if (!c.output_padding.empty()) a["output_padding"] = ints(c.output_padding);
  return a;
}

inline Dims forward_output_dims(const ConvCase& c) {
  size_t rank = c.x.size() - 2;
  Dims out = {c.x[0], c.w[0]};
  for (size_t d = 0; d < rank; ++d) {
    int64_t s = c.strides.empty() ? 1 : c.strides[d], dil = c.dilations.empty() ? 1 : c.dilations[d];
    int64_t pb = c.pads.empty() ? 0 : c.pads[d], pe = c.pads.empty() ? 0 : c.pads[d + rank];
    out.push_back((c.x[d + 2] + pb + pe - dil * (c.w[d + 2] - 1) - 1) / s + 1);
  }
  return out;
}

inline Dims transposed_output_dims(const ConvCase& c) {
  size_t rank = c.x.size() - 2;
  Dims out = {c.x[0], c.w[1] * c.group};
  for (size_t d = 0; d < rank; ++d) {
    int64_t s = c.strides.empty() ? 1 : c.strides[d], dil = c.dilations.empty() ? 1 : c.dilations[d];
    int64_t pb = c.pads.empty() ? 0 : c.pads[d], pe = c.pads.empty() ? 0 : c.pads[d + rank];
    int64_t op = c.output_padding.empty() ? 0 : c.output_padding[d];
    out.push_back(s * (c.x[d + 2] - 1) + op + dil * (c.w[d + 2] - 1) + 1 - pb - pe);
  }
  return out;
}

inline Dims pads_begin_of(const ConvCase& c) {
  size_t rank = c.x.size() - 2;
  return c.pads.empty() ? Dims(rank, 0) : Dims(c.pads.begin(), c.pads.begin() + rank);
}

inline void check_conv(const ConvCase& c, DataType dtype, bool transposed, bool constant_weights, uint32_t seed,
                       const std::string& what) {
  Tensor x = random_tensor(dtype, c.x, seed);
  Tensor w = random_tensor(dtype, c.w, seed + 1);
  int64_t out_channels = transposed ? c.w[1] * c.group : c.w[0];
  Tensor b = random_tensor(dtype, {out_channels}, seed + 2);
  std::vector<InputSpec> inputs = {{"x", x}, {"w", w, constant_weights}};
  if (c.bias) inputs.push_back({"b", b, constant_weights});
  std::vector<double> bias = as_doubles(b);
  Dims out_dims = transposed ? transposed_output_dims(c) : forward_output_dims(c);
  std::vector<double> expected =
      transposed
          ? naive_conv_transpose(c, out_dims, as_doubles(x), as_doubles(w), c.bias ? &bias : nullptr, pads_begin_of(c))
          : naive_conv(c, out_dims, as_doubles(x), as_doubles(w), c.bias ? &bias : nullptr, pads_begin_of(c));
  double tol = dtype == DataType::kFloat32 ? 1e-4 : 1e-10;
  // Twice: the second run reuses the cached oneDNN primitive (and weights).
  for (int run = 0; run < 2; ++run) {
    auto outputs = run_node(transposed ? "ConvTranspose" : "Conv", inputs, conv_attributes(c));
    ASSERT_TRUE(outputs.ok()) << what << ": " << outputs.status().to_string();
    expect_close((*outputs)[0], out_dims, expected, tol, tol, what + " run " + std::to_string(run));
  }
}

inline std::vector<double> naive_matmul(const Dims& a_dims, const std::vector<double>& a, const Dims& b_dims,
                                        const std::vector<double>& b, Dims* out_dims) {
  Dims ad = a_dims.size() == 1 ? Dims{1, a_dims[0]} : a_dims;
  Dims bd = b_dims.size() == 1 ? Dims{b_dims[0], 1} : b_dims;
  size_t rank = std::max(ad.size(), bd.size());
  while (ad.size() < rank) ad.insert(ad.begin(), 1);
  while (bd.size() < rank) bd.insert(bd.begin(), 1);
  int64_t m = ad[rank - 2], k = ad[rank - 1], n = bd[rank - 1];
  Dims full;
  for (size_t i = 0; i + 2 < rank; ++i) full.push_back(std::max(ad[i], bd[i]));
  full.push_back(m);
  full.push_back(n);
  std::vector<double> y(element_count(full), 0.0);
  Dims index(rank, 0);
  do {
    Dims ai(index), bi(index);
    for (size_t i = 0; i + 2 < rank; ++i) {
      if (ad[i] == 1) ai[i] = 0;
      if (bd[i] == 1) bi[i] = 0;
    }
    double acc = 0;
    for (int64_t kk = 0; kk < k; ++kk) {
      ai[rank - 1] = kk;
      bi[rank - 2] = kk;
      bi[rank - 1] = index[rank - 1];
      acc += a[flat_index(ad, ai)] * b[flat_index(bd, bi)];
    }
    y[flat_index(full, index)] = acc;
  } while (next_index(full, index));
  // Batch axes as numpy broadcasts them, then the matrix axes that were not added for vectors.
  *out_dims = Dims(full.begin(), full.end() - 2);
  if (a_dims.size() != 1) out_dims->push_back(m);
  if (b_dims.size() != 1) out_dims->push_back(n);
  return y;
}

}  // namespace kiln::nn_test
