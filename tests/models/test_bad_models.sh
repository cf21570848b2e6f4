#!/usr/bin/env bash
# `kiln run` on broken or unsupported models must fail cleanly: a non-zero exit
# below 128 (no crash, no signal) and a message naming what is wrong.
# Usage: test_bad_models.sh PATH_TO_KILN SOURCE_DIR
set -uo pipefail
kiln=$(realpath "$1")
source_dir=$(realpath "$2")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

# expect_failure NAME MODEL WORD... : kiln run MODEL fails and its stderr contains every WORD.
expect_failure() {
  local name=$1 model=$2
  shift 2
  "$kiln" run "$model" >"$work/stdout" 2>"$work/stderr"
  local rc=$?
  local message
  message=$(cat "$work/stderr")
  if [[ $rc -eq 0 ]]; then
    echo "FAIL [$name]: kiln run succeeded"; failures=$((failures + 1)); return
  fi
  if [[ $rc -ge 128 ]]; then
    echo "FAIL [$name]: kiln run crashed (exit $rc): $message"; failures=$((failures + 1)); return
  fi
  for word in "$@"; do
    if [[ "$message" != *"$word"* ]]; then
      echo "FAIL [$name]: message lacks '$word': $message"; failures=$((failures + 1)); return
    fi
  done
  echo "ok   [$name] exit $rc: $message"
}

model="$source_dir/models/resnet18_mini.onnx"
size=$(stat -c %s "$model")
head -c $((size / 2)) "$model" >"$work/truncated.onnx"
expect_failure truncated "$work/truncated.onnx" "truncated.onnx" "truncated"

head -c 100 "$model" >"$work/first100.onnx"
expect_failure first-100-bytes "$work/first100.onnx" "first100.onnx"

python3 -c "import random, sys; random.seed(7); sys.stdout.buffer.write(bytes(random.randrange(256) for _ in range(4096)))" \
  >"$work/random.onnx"
expect_failure random-bytes "$work/random.onnx" "random.onnx"

printf 'This is a text file, not an ONNX model.\n' >"$work/text.onnx"
expect_failure text-file "$work/text.onnx" "text.onnx"

: >"$work/empty.onnx"
expect_failure empty-file "$work/empty.onnx" "empty.onnx" "empty"

expect_failure missing-file "$work/no_such_model.onnx" "no_such_model.onnx" "does not exist"

expect_failure directory "$work" "directory"

python3 - "$work/foobar.onnx" <<'PY'
import sys
import onnx
from onnx import TensorProto, helper

node = helper.make_node("FooBar", ["x"], ["y"], name="foo_node", domain="com.example")
graph = helper.make_graph([node], "unsupported",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 3)])
model.ir_version = 8
onnx.save(model, sys.argv[1])
PY
expect_failure unsupported-op "$work/foobar.onnx" "foobar.onnx" "foo_node" "FooBar" "com.example" "opset 3"

python3 - "$work/opset99.onnx" <<'PY'
import sys
import onnx
from onnx import TensorProto, helper

graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "future",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 99)])
model.ir_version = 8
onnx.save(model, sys.argv[1])
PY
expect_failure future-opset "$work/opset99.onnx" "opset99.onnx" "opset 99"

if [[ $failures -ne 0 ]]; then
  echo "$failures case(s) failed"
  exit 1
fi
echo "PASS"
