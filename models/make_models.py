#!/usr/bin/env python3
"""Builds the bundled models with onnx.helper and numpy (no training framework).

resnet18_mini.onnx: the ResNet-18 layout (7x7 stem, max pool, four stages of two
residual basic blocks, global average pool, fully connected layer) at half the
channel width (32-64-128-256), with Conv, BatchNormalization and Relu kept as
separate nodes so that the model exercises the importer and the fusion passes.
Weights are random but fixed (seeded) and scaled like He initialisation so that
activations keep a sane range through the 17 convolutions. Input "input" is
float32 [batch, 3, 224, 224] with a symbolic batch axis; output "logits" is
float32 [batch, 1000].

Usage: models/make_models.py [OUTPUT_DIR]   (default: the directory of this script)
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SEED = 20261126
OPSET = 17
IR_VERSION = 8  # the IR version of opset 17; readable by onnx >= 1.12
WIDTHS = (32, 64, 128, 256)
BLOCKS_PER_STAGE = 2
NUM_CLASSES = 1000


class GraphBuilder:
    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        self.nodes = []
        self.initializers = []

    def weight(self, name, array):
        self.initializers.append(numpy_helper.from_array(array.astype(np.float32), name))
        return name

    def conv_bn(self, name, x, in_channels, out_channels, kernel, stride, relu, gamma_scale=1.0):
        fan_in = in_channels * kernel * kernel
        w = self.rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(out_channels, in_channels, kernel, kernel))
        pad = kernel // 2
        conv_out = name + ".conv_out"
        self.nodes.append(helper.make_node(
            "Conv", [x, self.weight(name + ".weight", w)], [conv_out], name=name,
            kernel_shape=[kernel, kernel], strides=[stride, stride], pads=[pad, pad, pad, pad]))
        bn = name.replace("conv", "bn").replace("downsample.0", "downsample.1")
        gamma = gamma_scale * self.rng.uniform(0.8, 1.2, out_channels)
        beta = self.rng.uniform(-0.1, 0.1, out_channels)
        mean = self.rng.uniform(-0.1, 0.1, out_channels)
        var = self.rng.uniform(0.8, 1.2, out_channels)
        bn_out = bn + ".out"
        self.nodes.append(helper.make_node(
            "BatchNormalization",
            [conv_out, self.weight(bn + ".weight", gamma), self.weight(bn + ".bias", beta),
             self.weight(bn + ".running_mean", mean), self.weight(bn + ".running_var", var)],
            [bn_out], name=bn, epsilon=1e-5))
        if not relu:
            return bn_out
        relu_out = bn + ".relu"
        self.nodes.append(helper.make_node("Relu", [bn_out], [relu_out], name=name + ".relu"))
        return relu_out

    def basic_block(self, name, x, in_channels, out_channels, stride):
        y = self.conv_bn(name + ".conv1", x, in_channels, out_channels, 3, stride, relu=True)
        # A smaller last gamma keeps the residual sum from growing block after block.
        y = self.conv_bn(name + ".conv2", y, out_channels, out_channels, 3, 1, relu=False, gamma_scale=0.5)
        shortcut = x
        if stride != 1 or in_channels != out_channels:
            shortcut = self.conv_bn(name + ".downsample.0", x, in_channels, out_channels, 1, stride, relu=False)
        sum_out = name + ".add"
        self.nodes.append(helper.make_node("Add", [y, shortcut], [sum_out], name=name + ".add"))
        out = name + ".out"
        self.nodes.append(helper.make_node("Relu", [sum_out], [out], name=name + ".relu"))
        return out


def make_resnet18_mini():
    b = GraphBuilder(SEED)
    x = b.conv_bn("conv1", "input", 3, WIDTHS[0], 7, 2, relu=True)
    b.nodes.append(helper.make_node("MaxPool", [x], ["maxpool.out"], name="maxpool",
                                    kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]))
    x = "maxpool.out"
    channels = WIDTHS[0]
    for stage, width in enumerate(WIDTHS, start=1):
        for block in range(BLOCKS_PER_STAGE):
            stride = 2 if (block == 0 and stage > 1) else 1
            x = b.basic_block(f"layer{stage}.{block}", x, channels, width, stride)
            channels = width
    b.nodes.append(helper.make_node("GlobalAveragePool", [x], ["avgpool.out"], name="avgpool"))
    b.nodes.append(helper.make_node("Flatten", ["avgpool.out"], ["flatten.out"], name="flatten", axis=1))
    fc_w = b.rng.normal(0.0, np.sqrt(1.0 / channels), size=(NUM_CLASSES, channels))
    fc_b = b.rng.uniform(-0.05, 0.05, NUM_CLASSES)
    b.nodes.append(helper.make_node(
        "Gemm", ["flatten.out", b.weight("fc.weight", fc_w), b.weight("fc.bias", fc_b)], ["logits"],
        name="fc", transB=1))
    graph = helper.make_graph(
        b.nodes, "resnet18_mini",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 224, 224])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", NUM_CLASSES])],
        initializer=b.initializers)
    model = helper.make_model(graph, producer_name="kiln models/make_models.py",
                              opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    return model


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    model = make_resnet18_mini()
    path = os.path.join(out_dir, "resnet18_mini.onnx")
    onnx.save(model, path)
    params = sum(int(np.prod(t.dims)) for t in model.graph.initializer)
    print(f"wrote {path}: {len(model.graph.node)} nodes, {params} parameters, {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
