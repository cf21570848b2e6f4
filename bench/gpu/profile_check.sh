#!/usr/bin/env bash
# Where the time goes: per-layer CUDA-event times (kiln bench --dump-profile)
# of ResNet-50 FP16 at batch 1 (plan with timed tactics for batches 1 and 128)
# and BERT-base FP16 at batch 128, plus the timed tactics of the ResNet plan.
# Usage (GPU host, repository root): bench/gpu/profile_check.sh BUNDLE_DIR
set -uo pipefail
source "$1/env.sh"
out=${OUT:-/tmp/kiln-device}
work=/tmp/kiln-profile
mkdir -p "$out" $work
python3 - <<'PY'
import sys
sys.path.insert(0, "bench/gpu")
import torch_peers
torch_peers.export_onnx("resnet50", torch_peers.resnet50(), "/tmp/kiln-profile/resnet50.onnx")
torch_peers.export_onnx("bert", torch_peers.bert_base(), "/tmp/kiln-profile/bert.onnx")
PY
kiln build $work/resnet50.onnx --backend cuda --fp16 --batch-buckets 1,128 --timing-cache $work/r50.cache --verbose \
  -o $work/r50.kiln > "$out/profile_build_r50.txt" 2>&1 || tail -3 "$out/profile_build_r50.txt"
kiln build $work/bert.onnx --backend cuda --fp16 --batch-buckets 128 --timing-cache $work/bert.cache \
  -o $work/bert.kiln > "$out/profile_build_bert.txt" 2>&1 || tail -3 "$out/profile_build_bert.txt"
kiln bench $work/r50.kiln --backend cuda --batch 1 --dump-profile --duration 1 > "$out/profile_r50_b1.txt" 2>&1
kiln bench $work/bert.kiln --backend cuda --batch 128 --dump-profile --duration 2 > "$out/profile_bert_b128.txt" 2>&1
for f in profile_r50_b1 profile_bert_b128; do
  echo "== $f"; grep -E "^Throughput|^Layer profile" "$out/$f.txt"; sed -n '/^By op type/,/^Warning\|^JSON/p' "$out/$f.txt" | head -14
done
