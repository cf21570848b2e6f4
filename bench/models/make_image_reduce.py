#!/usr/bin/env python3
"""A model with ResNet-50's interface and almost no compute, to measure what a
server spends on moving requests: input float32 [batch, 3, 224, 224] (602,112
bytes per image), output float32 [batch, 1000] (ReduceMean over the pixels,
then a 3 x 1000 MatMul). Whatever throughput `kiln serve` reaches with it is
the ceiling its wire and host copies allow.
Usage: make_image_reduce.py OUT.onnx"""
import argparse

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

p = argparse.ArgumentParser()
p.add_argument("out")
args = p.parse_args()
w = np.random.default_rng(5).standard_normal((3, 1000)).astype(np.float32)
axes = numpy_helper.from_array(np.array([2, 3], dtype=np.int64), "axes")
nodes = [
    helper.make_node("ReduceMean", ["input", "axes"], ["mean"], keepdims=0),
    helper.make_node("MatMul", ["mean", "w"], ["output"]),
]
graph = helper.make_graph(nodes, "image_reduce",
                          [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 224, 224])],
                          [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", 1000])],
                          [numpy_helper.from_array(w, "w"), axes])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
model.ir_version = 8
onnx.checker.check_model(model)
onnx.save(model, args.out)
