#!/usr/bin/env python3
"""Reference input and output of models/resnet18_mini.onnx, computed by ONNX Runtime.

Writes models/reference/input.npy (float32 [1, 3, 224, 224], uniform in [-1, 1),
fixed seed) and models/reference/output.npy (the "logits" output). The model test
tests/models/test_resnet18_mini.sh compares `kiln run` against them.

Usage: models/make_reference.py [MODEL] [OUTPUT_DIR]
"""
import os
import sys

import numpy as np
import onnxruntime as ort

SEED = 7


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    model = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "resnet18_mini.onnx")
    out_dir = sys.argv[2] if len(sys.argv) > 2 else os.path.join(here, "reference")
    os.makedirs(out_dir, exist_ok=True)
    rng = np.random.default_rng(SEED)
    x = rng.uniform(-1.0, 1.0, size=(1, 3, 224, 224)).astype(np.float32)
    options = ort.SessionOptions()
    # No graph rewrites: the reference is the plain sequence of ONNX ops.
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    (y,) = session.run(["logits"], {"input": x})
    np.save(os.path.join(out_dir, "input.npy"), x)
    np.save(os.path.join(out_dir, "output.npy"), y)
    print(f"output logits {y.shape} {y.dtype}: min {y.min():.4f} max {y.max():.4f} "
          f"argmax {int(y.argmax())}, written to {out_dir}")


if __name__ == "__main__":
    main()
