#!/usr/bin/env python3
"""A transfer-heavy model for the stream-overlap benchmark: an MLP of LAYERS
float32 MatMul+Relu layers of WIDTH, batch axis dynamic, random weights. With
--no-tf32 on an H100 its compute per row is of the order of its copies per
row, the case where overlapping H2D, compute and D2H of different chunks pays.
Usage: make_mlp.py OUT.onnx [--width 1024] [--layers 4]"""
import argparse

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

p = argparse.ArgumentParser()
p.add_argument("out")
p.add_argument("--width", type=int, default=1024)
p.add_argument("--layers", type=int, default=4)
args = p.parse_args()
rng = np.random.default_rng(3)
nodes, inits, prev = [], [], "input"
for i in range(args.layers):
    w = (rng.standard_normal((args.width, args.width)) / np.sqrt(args.width)).astype(np.float32)
    inits.append(numpy_helper.from_array(w, f"w{i}"))
    nodes.append(helper.make_node("MatMul", [prev, f"w{i}"], [f"m{i}"]))
    out = "output" if i == args.layers - 1 else f"r{i}"
    nodes.append(helper.make_node("Relu", [f"m{i}"], [out]))
    prev = out
graph = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", args.width])],
                          [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", args.width])], inits)
onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), args.out)
