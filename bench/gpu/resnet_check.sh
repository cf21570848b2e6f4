#!/usr/bin/env bash
# ResNet-50 on the CUDA backend: agreement with the CPU backend, then kiln bench
# at several batch sizes. Usage: bench/gpu/resnet_check.sh BUNDLE_DIR [BATCHES]
set -uo pipefail
source "$1/env.sh"
batches=${2:-"1 32 128"}
out=${OUT:-/tmp/kiln-device}
mkdir -p "$out" /tmp/r50
python3 bench/models/make_resnet50.py /tmp/r50/resnet50.onnx > /dev/null
python3 -c "import numpy as np; np.save('/tmp/r50/x.npy', np.random.default_rng(1).uniform(-1, 1, (4, 3, 224, 224)).astype(np.float32))"
kiln run /tmp/r50/resnet50.onnx --backend cpu --input input=/tmp/r50/x.npy --output-dir /tmp/r50/cpu > "$out/r50_cpu.txt" 2>&1
kiln run /tmp/r50/resnet50.onnx --backend cuda --input input=/tmp/r50/x.npy --output-dir /tmp/r50/cuda > "$out/r50_cuda.txt" 2>&1 || tail -5 "$out/r50_cuda.txt"
python3 - <<'PY'
import numpy as np
a = np.load('/tmp/r50/cuda/output.npy').astype(np.float64)
b = np.load('/tmp/r50/cpu/output.npy').astype(np.float64)
print(f"resnet50 cuda (tf32) vs cpu fp32: rel l2 {np.linalg.norm(a - b) / np.linalg.norm(b):.3e}, max abs {np.abs(a - b).max():.3e}")
PY
for batch in $batches; do
  kiln bench /tmp/r50/resnet50.onnx --backend cuda --batch $batch --iterations 50 --duration 2 \
    --json "$out/r50_cuda_b$batch.json" > "$out/r50_bench_b$batch.txt" 2>&1
  echo "kiln b$batch: $(grep -E 'Throughput' "$out/r50_bench_b$batch.txt") | $(grep -oE 'median = [0-9.]+' "$out/r50_bench_b$batch.txt")"
done
