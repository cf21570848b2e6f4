#!/usr/bin/env python3
"""ResNet-50 (torchvision layout: bottleneck blocks 3-4-6-3, width 64) as an
ONNX graph with random weights, built with onnx.helper so no framework is
needed. Conv + BatchNormalization + Relu as exported by PyTorch, dynamic batch
axis "batch", opset 17, weights in an external data file next to the model.

usage: make_resnet50.py OUT.onnx [--seed N]
"""
import argparse
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


class Net:
    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        self.nodes, self.inits, self.count = [], [], 0

    def name(self, base):
        self.count += 1
        return f"{base}_{self.count}"

    def weight(self, base, shape, scale):
        n = self.name(base)
        self.inits.append(numpy_helper.from_array((self.rng.standard_normal(shape) * scale).astype(np.float32), n))
        return n

    def conv_bn(self, x, cin, cout, k, stride, relu=True, gamma_center=1.0):
        w = self.weight("conv_w", (cout, cin, k, k), np.sqrt(2.0 / (cin * k * k)))
        y = self.name("conv")
        self.nodes.append(helper.make_node("Conv", [x, w], [y], kernel_shape=[k, k], strides=[stride, stride],
                                           pads=[k // 2] * 4, name=y))
        gamma = self.weight("bn_gamma", (cout,), 0.1)
        self.inits[-1] = numpy_helper.from_array(gamma_center + numpy_helper.to_array(self.inits[-1]), gamma)
        beta = self.weight("bn_beta", (cout,), 0.1)
        mean = self.weight("bn_mean", (cout,), 0.1)
        var_name = self.name("bn_var")
        self.inits.append(numpy_helper.from_array(self.rng.uniform(0.5, 1.5, cout).astype(np.float32), var_name))
        z = self.name("bn")
        self.nodes.append(helper.make_node("BatchNormalization", [y, gamma, beta, mean, var_name], [z],
                                           epsilon=1e-5, name=z))
        if not relu:
            return z
        r = self.name("relu")
        self.nodes.append(helper.make_node("Relu", [z], [r], name=r))
        return r

    def bottleneck(self, x, cin, width, stride):
        cout = width * 4
        y = self.conv_bn(x, cin, width, 1, 1)
        y = self.conv_bn(y, width, width, 3, stride)
        # A small last gamma keeps the residual sum bounded (as zero-init residual training does).
        y = self.conv_bn(y, width, cout, 1, 1, relu=False, gamma_center=0.2)
        skip = x if (stride == 1 and cin == cout) else self.conv_bn(x, cin, cout, 1, stride, relu=False)
        s = self.name("add")
        self.nodes.append(helper.make_node("Add", [y, skip], [s], name=s))
        r = self.name("relu")
        self.nodes.append(helper.make_node("Relu", [s], [r], name=r))
        return r, cout


def build(seed):
    net = Net(seed)
    x = net.conv_bn("input", 3, 64, 7, 2)
    p = net.name("maxpool")
    net.nodes.append(helper.make_node("MaxPool", [x], [p], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], name=p))
    x, c = p, 64
    for width, blocks, stride in [(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)]:
        for i in range(blocks):
            x, c = net.bottleneck(x, c, width, stride if i == 0 else 1)
    g = net.name("gap")
    net.nodes.append(helper.make_node("GlobalAveragePool", [x], [g], name=g))
    f = net.name("flatten")
    net.nodes.append(helper.make_node("Flatten", [g], [f], axis=1, name=f))
    w = net.weight("fc_w", (1000, c), 1.0 / np.sqrt(c))
    b = net.weight("fc_b", (1000,), 0.01)
    net.nodes.append(helper.make_node("Gemm", [f, w, b], ["output"], transB=1, name="fc"))
    graph = helper.make_graph(
        net.nodes, "resnet50",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 224, 224])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", 1000])], net.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    model = build(args.seed)
    onnx.checker.check_model(model)
    onnx.save_model(model, args.out, save_as_external_data=True, all_tensors_to_one_file=True,
                    location=os.path.basename(args.out) + ".data", size_threshold=1024)
    print("wrote", args.out)


if __name__ == "__main__":
    main()
