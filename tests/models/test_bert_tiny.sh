#!/usr/bin/env bash
# End to end on an exported BERT, from both torch.onnx exporters
# (models/bert_tiny.onnx: TorchScript, opset 17; models/bert_tiny_dynamo.onnx:
# torch.export, opset 20; both made by bench/models/export_bert_tiny.py): each
# layer's attention block becomes one kiln.Attention, and `kiln run` matches
# onnxruntime with padding, a sequence without padding and a fully masked
# sequence in one batch: optimised, not optimised, from the plan file, and in
# float16.
# Usage: test_bert_tiny.sh PATH_TO_KILN SOURCE_DIR
set -euo pipefail
kiln=$(realpath "$1")
source_dir=$(realpath "$2")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 - "$work" <<'PY'
import sys
import numpy as np
work = sys.argv[1]
rng = np.random.default_rng(7)
np.save(f"{work}/ids.npy", rng.integers(0, 500, (3, 128)).astype(np.int64))
mask = np.ones((3, 128), np.int64)
mask[0, 50:] = 0  # padding
mask[2, :] = 0    # nothing to attend to: the exported NaN guard gives zeros
np.save(f"{work}/mask.npy", mask)
PY

for name in bert_tiny bert_tiny_dynamo; do
  model="$source_dir/models/$name.onnx"
  out="$work/$name"
  mkdir -p "$out"
  "$kiln" build "$model" -o "$out/bert.kiln" > "$out/build.txt"
  "$kiln" inspect "$out/bert.kiln" > "$out/inspect.txt"
  grep -q "kiln.Attention: 2" "$out/inspect.txt" ||
    { echo "FAIL: $name: the two attention blocks were not fused:"; grep -E "kiln\.|Softmax|Transpose" "$out/inspect.txt"; exit 1; }
  for variant in optimized plain plan fp16; do
    source="$model" flags=""
    [ $variant = plain ] && flags="--no-optimize"
    [ $variant = plan ] && source="$out/bert.kiln"  # the fused graph as stored in the plan file
    [ $variant = fp16 ] && flags="--fp16"
    "$kiln" run "$source" $flags --input input_ids="$work/ids.npy" --input attention_mask="$work/mask.npy" \
      --output-dir "$out/$variant" > /dev/null 2> "$out/$variant.err"
  done
  # torch.export writes float32's lowest value as the mask constant: float16
  # clamps it to -65504 (and says so) instead of making it -inf.
  if [ $name = bert_tiny_dynamo ]; then
    grep -q "clamped to its largest finite value" "$out/fp16.err" || { echo "FAIL: no clamping warning: $(cat "$out/fp16.err")"; exit 1; }
  fi
  python3 - "$model" "$work" "$out" "$name" <<'PY'
import sys
import numpy as np
import onnxruntime as ort
model, work, out, name = sys.argv[1:5]
feeds = {"input_ids": np.load(f"{work}/ids.npy"), "attention_mask": np.load(f"{work}/mask.npy")}
ref = ort.InferenceSession(model, providers=["CPUExecutionProvider"]).run(None, feeds)[0].astype(np.float64)
for variant in ("optimized", "plain", "plan"):
    got = np.load(f"{out}/{variant}/output.npy").astype(np.float64)
    if got.shape != ref.shape:
        sys.exit(f"FAIL: {name} {variant} output {got.shape}, onnxruntime {ref.shape}")
    if np.isnan(got).any():
        sys.exit(f"FAIL: {name} {variant} output has {int(np.isnan(got).sum())} NaNs")
    err = np.abs(got - ref).max() / np.abs(ref).max()
    print(f"{name} {variant}: max |kiln - onnxruntime| / max |onnxruntime| = {err:.3g}")
    if not err <= 1e-4:
        sys.exit(f"FAIL: {name} {variant} differs from onnxruntime by {err:.3g} (relative), above 1e-4")
# float16, every sequence (the fully masked one included) within 1e-2 relative L2.
got = np.load(f"{out}/fp16/output.npy").astype(np.float64)
for b in range(got.shape[0]):
    err = np.linalg.norm(got[b] - ref[b]) / np.linalg.norm(ref[b])
    print(f"{name} fp16 sequence {b}: relative L2 {err:.3g}")
    if not err <= 1e-2:
        sys.exit(f"FAIL: {name} fp16 sequence {b} differs from onnxruntime by {err:.3g} (relative L2), above 1e-2")
PY
done
echo PASS
