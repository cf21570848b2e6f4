#!/usr/bin/env bash
# CUDA tactic timing from the command line: a build with a timing cache times
# every layer, a second build takes them all from the cache, `kiln inspect`
# lists the chosen tactics, and the plan's outputs agree with the CPU backend.
# Skips (exit 0) when no CUDA device can be used.
# Usage: test_cuda_tactics.sh PATH_TO_KILN SOURCE_DIR
set -euo pipefail
kiln=$(realpath "$1")
source_dir=$(realpath "$2")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
model="$source_dir/models/resnet18_mini.onnx"

if ! "$kiln" build "$model" -o "$work/first.kiln" --backend cuda --batch-buckets 1,4 \
     --timing-cache "$work/timing.cache" --verbose 2> "$work/first.txt"; then
  if grep -Eq "no usable CUDA device|has no CUDA backend" "$work/first.txt"; then
    echo "SKIP: $(tail -1 "$work/first.txt")"
    exit 0
  fi
  cat "$work/first.txt"
  exit 1
fi
cat "$work/first.txt"
# Stderr is not a terminal here: plain lines, then the totals.
grep -q "^Building: timing tactics for" "$work/first.txt"
# Layers equal to an earlier one in the same build count as cache hits.
grep -Eq "^Tactics: [0-9]+ layers, [1-9][0-9]* timed, [0-9]+ from the timing cache" "$work/first.txt"
grep -q "profile 1: " "$work/first.txt"
head -1 "$work/timing.cache" | grep -q "^KILN-TIMING-CACHE 1$"

"$kiln" build "$model" -o "$work/second.kiln" --backend cuda --batch-buckets 1,4 \
  --timing-cache "$work/timing.cache" 2> "$work/second.txt"
cat "$work/second.txt"
layers=$(sed -nE 's/^Tactics: ([0-9]+) layers.*/\1/p' "$work/second.txt")
grep -Eq "^Tactics: $layers layers, 0 timed, $layers from the timing cache" "$work/second.txt"

"$kiln" inspect "$work/second.kiln" | tee "$work/inspect.txt"
grep -q "^Tactics (timed at each profile's opt shapes):" "$work/inspect.txt"
grep -Eq "profile 1, tf32: (cudnn|cublaslt) " "$work/inspect.txt"

python3 -c "import numpy as np; np.save('$work/x.npy', np.random.default_rng(5).uniform(-1, 1, (3, 3, 224, 224)).astype(np.float32))"
"$kiln" run "$work/second.kiln" --backend cuda --input input="$work/x.npy" --output-dir "$work/cuda" > /dev/null
"$kiln" run "$model" --input input="$work/x.npy" --output-dir "$work/cpu" > /dev/null
python3 - "$work" <<'PY'
import sys
import numpy as np
work = sys.argv[1]
a = np.load(f"{work}/cuda/logits.npy")
b = np.load(f"{work}/cpu/logits.npy")
assert a.shape == b.shape == (3, 1000), (a.shape, b.shape)
error = np.abs(a - b).max() / max(1.0, np.abs(b).max())
if error > 2e-2:  # TF32 convolutions
    sys.exit(f"FAIL: CUDA plan and CPU differ by {error} (relative to the largest logit)")
print(f"PASS: CUDA plan with tactics agrees with the CPU ({error:.2e})")
PY
echo PASS
