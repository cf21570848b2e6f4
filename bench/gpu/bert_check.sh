#!/usr/bin/env bash
# BERT-base FP16, batch 128, sequence 128 on the CUDA backend: per-op layer
# profile and host-to-host latency of this build and, when given, of another
# kiln binary (same card, same call), accuracy against onnxruntime CPU FP32
# (batch 8 with padding), and PyTorch eager next to it.
# Usage (GPU host, repository root): bench/gpu/bert_check.sh BUNDLE_DIR [BASELINE_KILN]
set -uo pipefail
source "$1/env.sh"
baseline=${2:-}
out=${OUT:-/tmp/kiln-device}/bert
work=/tmp/kiln-bert
mkdir -p "$out" $work
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$out/card.txt"
python3 -c "
import sys; sys.path.insert(0, '$here'); import torch_peers
torch_peers.export_onnx('bert', torch_peers.bert_base(), '$work/bert.onnx')" > "$out/export.txt" 2>&1 || tail -5 "$out/export.txt"
runs="new"; [ -n "$baseline" ] && runs="base new"
for v in $runs; do
  bin=kiln; [ $v = base ] && bin=$baseline
  $bin build $work/bert.onnx --backend cuda --fp16 --batch-buckets 128 --timing-cache $work/$v.cache \
    -o $work/bert_$v.kiln > "$out/build_$v.txt" 2>&1 || tail -5 "$out/build_$v.txt"
  $bin bench $work/bert_$v.kiln --backend cuda --batch 128 --dump-profile --duration 2 --json "$out/profile_$v.json" \
    > "$out/profile_$v.txt" 2>&1 || tail -5 "$out/profile_$v.txt"
  $bin bench $work/bert_$v.kiln --backend cuda --batch 128 --duration 3 > "$out/host_$v.txt" 2>&1 || tail -5 "$out/host_$v.txt"
done
python3 - <<'PY'
import numpy as np
rng = np.random.default_rng(5)
mask = np.ones((8, 128), np.int64)
mask[::2, 100:] = 0  # padding in half the rows
np.save("/tmp/kiln-bert/ids.npy", rng.integers(0, 30522, (8, 128)).astype(np.int64))
np.save("/tmp/kiln-bert/mask.npy", mask)
PY
kiln run $work/bert.onnx --backend cuda --fp16 --timing-cache $work/new.cache --input input_ids=$work/ids.npy \
  --input attention_mask=$work/mask.npy -o $work/fp16 > "$out/run.txt" 2>&1 || tail -5 "$out/run.txt"
python3 - > "$out/accuracy.txt" 2>&1 <<'PY'
import numpy as np, onnxruntime as ort
w = "/tmp/kiln-bert"
feeds = {"input_ids": np.load(f"{w}/ids.npy"), "attention_mask": np.load(f"{w}/mask.npy")}
ref = ort.InferenceSession(f"{w}/bert.onnx", providers=["CPUExecutionProvider"]).run(None, feeds)[0].astype(np.float64)
got = np.load(f"{w}/fp16/output.npy").astype(np.float64)
print(f"bert cuda fp16 vs onnxruntime cpu fp32: rel l2 {np.linalg.norm(got - ref) / np.linalg.norm(ref):.3e} "
      f"(tolerance 1e-2)")
PY
python3 "$here/torch_peers.py" --models bert --modes eager,cudagraph --iterations 50 > "$out/torch.txt" 2>&1 || tail -3 "$out/torch.txt"
python3 - "$out" $runs > "$out/op_table.txt" 2>&1 <<'PY'
import collections, json, sys
out, runs = sys.argv[1], sys.argv[2:]
tables = []
for v in runs:
    t = collections.Counter()
    for layer in json.load(open(f"{out}/profile_{v}.json")).get("layers", []):
        t[layer["op"]] += layer["mean_ms"]
    tables.append(t)
ops = sorted(set().union(*tables), key=lambda o: -max(t[o] for t in tables))
print("| op type | " + " | ".join(f"{v} ms/query" for v in runs) + " |")
print("| --- |" + " ---: |" * len(runs))
for o in ops:
    print(f"| {o} | " + " | ".join(f"{t[o]:.3f}" for t in tables) + " |")
print("| sum of layers | " + " | ".join(f"{sum(t.values()):.3f}" for t in tables) + " |")
PY
echo "== summary"
for v in $runs; do
  echo "$v: $(grep -E '^Throughput' "$out/host_$v.txt") | $(grep -oE 'median = [0-9.]+' "$out/host_$v.txt" | head -1) | compute $(grep -E '^Compute' "$out/host_$v.txt" | awk '{print $4}') ms median"
done
grep -E "^bert" "$out/torch.txt"
cat "$out/accuracy.txt" "$out/op_table.txt"
