// Small convolution networks shared by the channels-last tests on the CPU
// (channels_last_test.cc) and on the GPU (cuda_nhwc_test.cc). Each one reads
// one input "x" in NCHW and covers one thing the layout pass must get right.
#pragma once

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "graph_test_util.h"

namespace kiln::testing {

// Weights uniform in +-sqrt(3 / fan_in): unit-variance inputs give
// unit-variance outputs, so deep stacks stay in a range where half precision
// keeps its relative accuracy.
inline Tensor conv_weights(Dims dims, uint32_t seed) {
  int64_t fan_in = 1;
  for (size_t i = 1; i < dims.size(); ++i) fan_in *= dims[i];
  const float bound = std::sqrt(3.f / static_cast<float>(fan_in));
  return random_tensor(std::move(dims), seed, -bound, bound);
}

struct ChannelsLastCase {
  std::string name;
  Dims input;  // NCHW
  std::function<void(GraphMaker&)> make;
};

// Conv+bias+Relu, MaxPool, Conv+bias+Relu, GlobalAveragePool, Flatten, Gemm.
inline void conv_pool_classifier(GraphMaker& m) {
  Value* x = m.input("x", {2, 3, 16, 16});
  Value* c1 =
      m.node("Conv", {x, m.constant("w1", conv_weights({8, 3, 3, 3}, 1)), m.constant("b1", random_tensor({8}, 2))},
             "conv1", {{"pads", ints({1, 1, 1, 1})}});
  Value* r1 = m.node("Relu", {c1}, "relu1");
  Value* p1 = m.node("MaxPool", {r1}, "pool1", {{"kernel_shape", ints({2, 2})}, {"strides", ints({2, 2})}});
  Value* c2 =
      m.node("Conv", {p1, m.constant("w2", conv_weights({16, 8, 3, 3}, 3)), m.constant("b2", random_tensor({16}, 4))},
             "conv2", {{"pads", ints({1, 1, 1, 1})}});
  Value* r2 = m.node("Relu", {c2}, "relu2");
  Value* g = m.node("GlobalAveragePool", {r2}, "gap");
  Value* f = m.node("Flatten", {g}, "flat");
  m.output(m.node("Gemm", {f, m.constant("w3", conv_weights({10, 16}, 5)), m.constant("b3", random_tensor({10}, 6))},
                  "fc", {{"transB", Attribute::of_int(1)}}));
}

// A ResNet stem and bottleneck block: 7x7/2 conv with C = 3, BatchNormalization,
// Relu, 3x3/2 MaxPool with pads, then 1x1 -> 3x3 -> 1x1 with a projected
// shortcut, residual Add and Relu. The block's output is the graph output.
inline void resnet_block(GraphMaker& m) {
  Value* x = m.input("x", {2, 3, 32, 32});
  Value* stem = m.node("Conv", {x, m.constant("stem_w", conv_weights({16, 3, 7, 7}, 11))}, "stem",
                       {{"pads", ints({3, 3, 3, 3})}, {"strides", ints({2, 2})}});
  Value* bn = m.node("BatchNormalization",
                     {stem, m.constant("bn_scale", random_tensor({16}, 12, 0.5f, 1.5f)),
                      m.constant("bn_bias", random_tensor({16}, 13)), m.constant("bn_mean", random_tensor({16}, 14)),
                      m.constant("bn_var", random_tensor({16}, 15, 0.5f, 1.5f))},
                     "stem_bn");
  Value* r = m.node("Relu", {bn}, "stem_relu");
  Value* p = m.node("MaxPool", {r}, "stem_pool",
                    {{"kernel_shape", ints({3, 3})}, {"strides", ints({2, 2})}, {"pads", ints({1, 1, 1, 1})}});
  Value* a =
      m.node("Relu",
             {m.node("Conv",
                     {p, m.constant("a_w", conv_weights({8, 16, 1, 1}, 16)), m.constant("a_b", random_tensor({8}, 17))},
                     "a_conv")},
             "a_relu");
  Value* b = m.node(
      "Relu",
      {m.node("Conv", {a, m.constant("b_w", conv_weights({8, 8, 3, 3}, 18)), m.constant("b_b", random_tensor({8}, 19))},
              "b_conv", {{"pads", ints({1, 1, 1, 1})}})},
      "b_relu");
  Value* c = m.node("Conv",
                    {b, m.constant("c_w", conv_weights({32, 8, 1, 1}, 20)), m.constant("c_b", random_tensor({32}, 21))},
                    "c_conv");
  Value* shortcut = m.node(
      "Conv", {p, m.constant("s_w", conv_weights({32, 16, 1, 1}, 22)), m.constant("s_b", random_tensor({32}, 23))},
      "shortcut");
  m.output(m.node("Relu", {m.node("Add", {c, shortcut}, "residual")}, "block_out"));
}

// Two branches concatenated along channels, per-channel Mul/Add constants
// ([C,1,1] and [1,C,1,1]), a scalar Mul, AveragePool with pads, and a conv
// with no activation (bias through the epilogue) as the graph output.
inline void concat_branches(GraphMaker& m) {
  Value* x = m.input("x", {2, 4, 12, 12});
  Value* a =
      m.node("Conv", {x, m.constant("a_w", conv_weights({8, 4, 3, 3}, 31)), m.constant("a_b", random_tensor({8}, 32))},
             "a", {{"pads", ints({1, 1, 1, 1})}});
  Value* b = m.node("Conv", {x, m.constant("b_w", conv_weights({4, 4, 1, 1}, 33))}, "b");
  Value* cat = m.node("Concat", {a, b}, "cat", {{"axis", Attribute::of_int(1)}});
  Value* scaled = m.node("Mul", {cat, m.constant("scale", random_tensor({12, 1, 1}, 34, 0.5f, 1.5f))}, "scaled");
  Value* shifted = m.node("Add", {scaled, m.constant("shift", random_tensor({1, 12, 1, 1}, 35))}, "shifted");
  Value* halved = m.node("Mul", {shifted, m.scalar("half", 0.5f)}, "halved");
  Value* avg = m.node("AveragePool", {halved}, "avg", {{"kernel_shape", ints({3, 3})}, {"pads", ints({1, 1, 1, 1})}});
  m.output(m.node("Conv",
                  {avg, m.constant("o_w", conv_weights({6, 12, 3, 3}, 36)), m.constant("o_b", random_tensor({6}, 37))},
                  "out_conv", {{"strides", ints({2, 2})}}));
}

// Squeeze-and-excitation: the gate [N, C, 1, 1] is computed inside the region
// (GlobalAveragePool, 1x1 convs, Sigmoid) and multiplies the feature map.
inline void squeeze_excite(GraphMaker& m) {
  Value* x = m.input("x", {2, 8, 10, 10});
  Value* f = m.node("Conv",
                    {x, m.constant("f_w", conv_weights({16, 8, 3, 3}, 41)), m.constant("f_b", random_tensor({16}, 42))},
                    "features", {{"pads", ints({1, 1, 1, 1})}});
  Value* s = m.node("GlobalAveragePool", {f}, "squeeze");
  Value* e1 = m.node(
      "Relu",
      {m.node("Conv",
              {s, m.constant("e1_w", conv_weights({4, 16, 1, 1}, 43)), m.constant("e1_b", random_tensor({4}, 44))},
              "e1")},
      "e1_relu");
  Value* gate = m.node(
      "Sigmoid",
      {m.node("Conv",
              {e1, m.constant("e2_w", conv_weights({16, 4, 1, 1}, 45)), m.constant("e2_b", random_tensor({16}, 46))},
              "e2")},
      "gate");
  m.output(m.node("Mul", {f, gate}, "excited"));
}

// Convolutions cuDNN's symmetric descriptors cannot express directly or that
// split channels: asymmetric pads (pre-pad path), group = 2, depthwise with a
// LeakyRelu tail (epilogue program), GlobalMaxPool at the end.
inline void grouped_and_padded(GraphMaker& m) {
  Value* x = m.input("x", {2, 8, 9, 9});
  Value* a =
      m.node("Conv", {x, m.constant("a_w", conv_weights({8, 8, 3, 3}, 51)), m.constant("a_b", random_tensor({8}, 52))},
             "asym", {{"pads", ints({0, 0, 1, 1})}});
  Value* g = m.node("Conv", {a, m.constant("g_w", conv_weights({16, 4, 3, 3}, 53))}, "grouped",
                    {{"pads", ints({1, 1, 1, 1})}, {"group", Attribute::of_int(2)}});
  Value* d = m.node("Conv",
                    {g, m.constant("d_w", conv_weights({16, 1, 3, 3}, 54)), m.constant("d_b", random_tensor({16}, 55))},
                    "depthwise", {{"pads", ints({1, 1, 1, 1})}, {"group", Attribute::of_int(16)}});
  Value* l = m.node("LeakyRelu", {d}, "leaky", {{"alpha", Attribute::of_float(0.1)}});
  m.output(m.node("GlobalMaxPool", {l}, "gmp"));
  m.output(l);
}

inline std::vector<ChannelsLastCase> channels_last_cases() {
  return {{"conv_pool_classifier", {2, 3, 16, 16}, conv_pool_classifier},
          {"resnet_block", {2, 3, 32, 32}, resnet_block},
          {"concat_branches", {2, 4, 12, 12}, concat_branches},
          {"squeeze_excite", {2, 8, 10, 10}, squeeze_excite},
          {"grouped_and_padded", {2, 8, 9, 9}, grouped_and_padded}};
}

}  // namespace kiln::testing
