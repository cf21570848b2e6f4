#!/usr/bin/env bash
# ResNet-50 FP16 on the CUDA backend next to PyTorch FP16 in the same call:
# accuracy against Kiln's FP32 CPU output, then throughput/latency.
# Kiln: host memory to host memory (kiln bench). PyTorch: data already on the
# device (bench/gpu/torch_peers.py), eager and eager replayed in a CUDA graph.
# Usage (GPU host, repository root): bench/gpu/fp16_check.sh BUNDLE_DIR
set -uo pipefail
source "$1/env.sh"
out=${OUT:-/tmp/kiln-device}
mkdir -p "$out" /tmp/r50
python3 bench/models/make_resnet50.py /tmp/r50/resnet50.onnx > /dev/null
python3 -c "import numpy as np; np.save('/tmp/r50/x.npy', np.random.default_rng(1).uniform(-1, 1, (4, 3, 224, 224)).astype(np.float32))"
kiln run /tmp/r50/resnet50.onnx --backend cpu --input input=/tmp/r50/x.npy --output-dir /tmp/r50/cpu > /dev/null 2>&1
kiln run /tmp/r50/resnet50.onnx --backend cuda --fp16 --input input=/tmp/r50/x.npy --output-dir /tmp/r50/fp16 > "$out/run_fp16.txt" 2>&1 || tail -5 "$out/run_fp16.txt"
python3 - <<'PY'
import numpy as np
a = np.load('/tmp/r50/fp16/output.npy').astype(np.float64)
b = np.load('/tmp/r50/cpu/output.npy').astype(np.float64)
print(f"resnet50 cuda fp16 vs cpu fp32: rel l2 {np.linalg.norm(a - b) / np.linalg.norm(b):.3e} (tolerance 1e-2), "
      f"top-1 agreement {np.mean(a.argmax(1) == b.argmax(1)):.2f}")
PY
for batch in 1 128; do
  for mode in "" "--cuda-graph" "--no-data-transfers" "--no-data-transfers --cuda-graph"; do
    f="$out/fp16_b${batch}$(echo $mode | tr -d ' -').txt"
    kiln bench /tmp/r50/resnet50.onnx --backend cuda --fp16 --batch $batch $mode --iterations 50 --duration 3 > "$f" 2>&1
    echo "kiln fp16 b$batch ${mode:-(host to host, no graph)}: $(grep -E 'Throughput' $f) | $(grep -oE 'median = [0-9.]+' $f)"
  done
done
python3 bench/gpu/torch_peers.py --models resnet50 --resnet-batches 1,128 --modes eager,cudagraph --iterations 50 2>&1 | grep -v Warning
