#!/usr/bin/env bash
# End to end: `kiln run` on the bundled ResNet-18-like model with the committed
# input must match the ONNX Runtime reference (models/make_reference.py).
# Usage: test_resnet18_mini.sh PATH_TO_KILN SOURCE_DIR
set -euo pipefail
kiln=$(realpath "$1")
source_dir=$(realpath "$2")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$kiln" run "$source_dir/models/resnet18_mini.onnx" \
  --input input="$source_dir/models/reference/input.npy" --output-dir "$work"

python3 - "$work/logits.npy" "$source_dir/models/reference/output.npy" <<'PY'
import sys
import numpy as np

actual = np.load(sys.argv[1])
expected = np.load(sys.argv[2])
if actual.shape != expected.shape or actual.dtype != expected.dtype:
    sys.exit(f"FAIL: got {actual.dtype}{list(actual.shape)}, expected {expected.dtype}{list(expected.shape)}")
diff = np.abs(actual.astype(np.float64) - expected.astype(np.float64))
relative = diff.max() / np.abs(expected).max()
print(f"max |kiln - onnxruntime| = {diff.max():.3g}, relative to max |reference| = {relative:.3g}; "
      f"argmax kiln {int(actual.argmax())} reference {int(expected.argmax())}")
if not relative <= 1e-4:
    sys.exit("FAIL: relative error above 1e-4")
PY

# Per-layer precision: a float16 build whose every layer is forced back to
# float32 matches the reference as closely; a pattern naming no layer and a bad
# precision are errors that name them.
"$kiln" run "$source_dir/models/resnet18_mini.onnx" --fp16 --layer-precisions '*:fp32' \
  --input input="$source_dir/models/reference/input.npy" --output-dir "$work/forced"
python3 - "$work/forced/logits.npy" "$source_dir/models/reference/output.npy" <<'PY'
import sys
import numpy as np
actual, expected = np.load(sys.argv[1]), np.load(sys.argv[2])
relative = np.abs(actual.astype(np.float64) - expected).max() / np.abs(expected).max()
if not relative <= 1e-4:
    sys.exit(f"FAIL: --fp16 --layer-precisions '*:fp32' differs by {relative:.3g} (relative), above 1e-4")
PY
# The plan keeps each layer's precision: the last layer and the last stage in
# float32, the rest in float16, with a Cast at each crossing.
"$kiln" build "$source_dir/models/resnet18_mini.onnx" --fp16 --layer-precisions 'fc:fp32,layer4.*:fp32' \
  -o "$work/mixed.kiln" > "$work/build.txt"
"$kiln" inspect "$work/mixed.kiln" > "$work/inspect.txt"
for file in build.txt inspect.txt; do
  grep -q "Layer precisions: 18 float16, 6 float32, 4 casts" "$work/$file" ||
    { echo "FAIL: $file lacks the layer precisions: $(grep -i precision "$work/$file")"; exit 1; }
done
for case in "no_such_layer:fp32|'no_such_layer' matches no layer" "*:fp8|precision 'fp8' is not one of"; do
  spec=${case%%|*} expected=${case#*|}
  if "$kiln" build "$source_dir/models/resnet18_mini.onnx" --fp16 --layer-precisions "$spec" -o "$work/x.kiln" \
      2> "$work/err.txt"; then
    echo "FAIL: --layer-precisions '$spec' was accepted"; exit 1
  fi
  grep -qF "$expected" "$work/err.txt" || { echo "FAIL: error for '$spec' lacks \"$expected\": $(cat "$work/err.txt")"; exit 1; }
done
echo PASS
