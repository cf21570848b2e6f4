#!/usr/bin/env python3
"""A model with ResNet-50's interface and almost no work, to measure what a
server spends on moving requests: input float32 [batch, 3, 224, 224] (602,112
bytes per image), output float32 [batch, 1000] (one pixel per channel through
a 3 x 1000 MatMul). Its compute reads 12 bytes of each image, so on a CPU the
server's own costs (wire parsing, host copies, batching) are nearly all that is
left, as they are on the host of a GPU server.
Usage: make_image_probe.py OUT.onnx"""
import argparse

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

p = argparse.ArgumentParser()
p.add_argument("out")
args = p.parse_args()
w = np.random.default_rng(5).standard_normal((3, 1000)).astype(np.float32)


def ints(name, values):
    return numpy_helper.from_array(np.array(values, dtype=np.int64), name)


nodes = [
    # x[:, :, 0:1, 0:1] -> [batch, 3, 1, 1] -> [batch, 3] -> [batch, 1000]
    helper.make_node("Slice", ["input", "starts", "ends", "axes"], ["pixel"]),
    helper.make_node("Reshape", ["pixel", "flat"], ["channels"]),
    helper.make_node("MatMul", ["channels", "w"], ["output"]),
]
graph = helper.make_graph(nodes, "image_probe",
                          [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 224, 224])],
                          [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", 1000])],
                          [numpy_helper.from_array(w, "w"), ints("starts", [0, 0]), ints("ends", [1, 1]),
                           ints("axes", [2, 3]), ints("flat", [0, 3])])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
model.ir_version = 8
onnx.checker.check_model(model)
onnx.save(model, args.out)
