#!/usr/bin/env bash
# A plan built in one process loads and runs in another with outputs identical
# to running the ONNX model directly; bench on a bucketed plan reports its profile.
# Usage: test_plan_roundtrip.sh PATH_TO_KILN SOURCE_DIR
set -euo pipefail
kiln=$(realpath "$1")
source_dir=$(realpath "$2")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
model="$source_dir/models/resnet18_mini.onnx"

"$kiln" build "$model" -o "$work/mini.kiln" --batch-buckets 1,4,8
"$kiln" inspect "$work/mini.kiln" | tee "$work/inspect.txt"
grep -q "Activation memory (profile 2, max shapes): arena" "$work/inspect.txt"

python3 -c "import numpy as np; np.save('$work/x.npy', np.random.default_rng(3).uniform(-1, 1, (3, 3, 224, 224)).astype(np.float32))"
"$kiln" run "$work/mini.kiln" --input input="$work/x.npy" --output-dir "$work/from_plan"
"$kiln" run "$model" --input input="$work/x.npy" --output-dir "$work/from_onnx"
python3 - "$work" <<'PY'
import sys
import numpy as np
work = sys.argv[1]
a = np.load(f"{work}/from_plan/logits.npy")
b = np.load(f"{work}/from_onnx/logits.npy")
assert a.shape == (3, 1000), a.shape
if not np.array_equal(a, b):
    sys.exit(f"FAIL: plan and ONNX outputs differ by up to {np.abs(a - b).max()}")
print("PASS: identical outputs")
PY

"$kiln" bench "$work/mini.kiln" --batch 3 --iterations 2 --duration 0 --json "$work/bench.json" | tee "$work/bench.txt"
grep -q "Profile: 1 of 3" "$work/bench.txt"
python3 -c "import json; d = json.load(open('$work/bench.json')); assert d['profile'] == 1, d"

# Outside every profile: a clear error naming the input and the ranges.
if "$kiln" bench "$work/mini.kiln" --batch 9 --iterations 1 --duration 0 2> "$work/err.txt"; then
  echo "FAIL: batch 9 ran on a plan built for at most 8"; exit 1
fi
grep -q "input" "$work/err.txt"
cat "$work/err.txt"

# Damaged plans are errors, not crashes.
head -c 1000 "$work/mini.kiln" > "$work/truncated.kiln"
if "$kiln" run "$work/truncated.kiln" 2> "$work/err2.txt"; then echo "FAIL: truncated plan ran"; exit 1; fi
cat "$work/err2.txt"
echo PASS
