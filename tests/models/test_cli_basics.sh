#!/usr/bin/env bash
# The kiln subcommands on a model that needs no kernels (its outputs are its
# inputs), so the command line itself is tested whatever ops exist:
# .npy in and out for every supported dtype, random inputs, --shapes, --batch,
# the bench JSON report and inspect's summary.
# Usage: test_cli_basics.sh PATH_TO_KILN SOURCE_DIR
set -euo pipefail
kiln=$(realpath "$1")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

python3 - <<'PY'
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

def passthrough(path, elem_type, shape):
    graph = helper.make_graph([], "passthrough", [helper.make_tensor_value_info("x", elem_type, shape)],
                              [helper.make_tensor_value_info("x", elem_type, shape)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)

rng = np.random.default_rng(0)
for dtype in ["float16", "float32", "float64", "int8", "int16", "int32", "int64",
              "uint8", "uint16", "uint32", "uint64", "bool"]:
    passthrough(f"p_{dtype}.onnx", helper.np_dtype_to_tensor_dtype(np.dtype(dtype)), ["batch", 3])
    np.save(f"in_{dtype}.npy", rng.uniform(-100, 100, size=(2, 3)).astype(dtype))

# Two inputs sharing the symbolic "batch" axis, one fixed output weight to count.
graph = helper.make_graph(
    [], "two_inputs",
    [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, "h", "w"]),
     helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", 5])],
    [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, "h", "w"]),
     helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", 5]),
     helper.make_tensor_value_info("table", TensorProto.FLOAT, [4, 6])],
    initializer=[numpy_helper.from_array(np.ones((4, 6), np.float32), "table")])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
model.ir_version = 8
onnx.save(model, "two_inputs.onnx")
PY

fail() { echo "FAIL: $*"; exit 1; }

# .npy round trip through kiln run: the written file must equal numpy's byte for byte.
for dtype in float16 float32 float64 int8 int16 int32 int64 uint8 uint16 uint32 uint64 bool; do
  "$kiln" run "p_$dtype.onnx" --input "x=in_$dtype.npy" --output-dir "out_$dtype" >/dev/null
  cmp -s "in_$dtype.npy" "out_$dtype/x.npy" || fail "$dtype output differs from its input"
done
echo "ok   .npy round trip for 12 dtypes"

# Random inputs: shapes from --shapes bind the shared symbol, values in [-1, 1) and small ints.
"$kiln" run two_inputs.onnx --shapes image:2x3x8x9 --output-dir rand --seed 5 >run.txt
python3 - <<'PY'
import numpy as np
image, ids, table = np.load("rand/image.npy"), np.load("rand/ids.npy"), np.load("rand/table.npy")
assert image.shape == (2, 3, 8, 9) and image.dtype == np.float32, image.shape
assert ids.shape == (2, 5) and ids.dtype == np.int64, ids.shape
assert image.min() >= -1 and image.max() < 1 and np.abs(image).max() > 0.5, "floats not uniform in [-1, 1)"
assert ids.min() >= 0 and ids.max() < 4 and ids.any(), "ints not small and non-zero"
assert (table == 1).all()
PY
grep -q "output image: float32\[2x3x8x9\]" run.txt || fail "run does not print the output's type and shape"
"$kiln" run two_inputs.onnx --output-dir default >/dev/null
python3 -c "import numpy as np; assert np.load('default/image.npy').shape == (1, 3, 1, 1)" ||
  fail "symbolic axes do not default to 1"
echo "ok   random inputs and --shapes"

# Bench: the JSON keys, counts and the batch.
"$kiln" bench two_inputs.onnx --batch 4 --iterations 50 --duration 0.2 --warmup 0.05 --json bench.json >bench.txt
python3 - <<'PY'
import json
r = json.load(open("bench.json"))
keys = {"model", "backend", "batch", "iterations", "warmup_s", "wall_s", "throughput_qps",
        "throughput_items_per_s", "latency_ms", "streams", "total_host_wall_s", "enqueue_ms", "h2d_ms",
        "compute_ms", "d2h_ms", "total_compute_ms", "cuda_graph", "no_data_transfers", "spin_wait", "warnings"}
assert set(r) == keys, sorted(set(r) ^ keys)
stats = {"min", "max", "mean", "median", "p90", "p95", "p99", "stddev"}
for phase in ["latency_ms", "enqueue_ms", "h2d_ms", "compute_ms", "d2h_ms"]:
    assert set(r[phase]) == stats, (phase, r[phase])
assert isinstance(r["warnings"], list), r["warnings"]
assert r["batch"] == 4 and r["backend"] == "cpu" and r["iterations"] >= 50 and r["wall_s"] >= 0.2, r
l = r["latency_ms"]
assert l["min"] <= l["median"] <= l["p90"] <= l["p95"] <= l["p99"] <= l["max"], l
assert abs(r["throughput_items_per_s"] - 4 * r["throughput_qps"]) <= 1e-6 * r["throughput_items_per_s"]
PY
grep -q "Input image: float32\[4x3x1x1\]" bench.txt || fail "bench does not apply --batch to the symbolic axis"
echo "ok   bench JSON report"

# Errors: exit 1 with a message naming the input.
expect_error() {
  local word=$1
  shift
  set +e
  "$kiln" "$@" >/dev/null 2>err.txt
  local rc=$?
  set -e
  [[ $rc -eq 1 ]] || fail "'$*' exited $rc, expected 1"
  grep -q "$word" err.txt || fail "'$*' message lacks '$word': $(cat err.txt)"
}
python3 - <<'PY'
import onnx
from onnx import TensorProto, helper
graph = helper.make_graph([], "fixed", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
model.ir_version = 8
onnx.save(model, "fixed.onnx")
PY
expect_error "'x'" bench fixed.onnx --batch 4 --duration 0
expect_error "'nope'" run fixed.onnx --input nope=in_float32.npy
expect_error "'x'" run fixed.onnx --input x=in_float64.npy
expect_error "in_missing.npy" run fixed.onnx --input x=in_missing.npy
expect_error "'y'" bench two_inputs.onnx --shapes y:1x2 --duration 0
set +e
"$kiln" run >/dev/null 2>&1
rc=$?
set -e
[[ $rc -eq 2 ]] || fail "a usage error exited $rc, expected 2"
echo "ok   errors"

# Inspect: symbolic names, op histogram, parameters, opsets.
"$kiln" inspect two_inputs.onnx >inspect.txt
for expected in "image: float32\[batchx3xhxw\]" "Parameters: 24 " "96 bytes" "ai.onnx=17" "Nodes: 0"; do
  grep -q "$expected" inspect.txt || fail "inspect output lacks '$expected': $(cat inspect.txt)"
done
echo "ok   inspect"
echo PASS
