#!/usr/bin/env bash
# One device call: CUDA unit tests, the ONNX conformance suite on the CUDA
# backend, ResNet-50 CUDA-vs-CPU agreement and a first latency/throughput
# figure next to PyTorch on the same card.
# Usage (on the GPU host, repository root): bench/gpu/device_check.sh BUNDLE_DIR TESTDATA.tar.xz
# Writes logs to $OUT (or /tmp/kiln-device when unset) and prints a short summary last.
set -uo pipefail
bundle=$1
testdata=$2
out=${OUT:-/tmp/kiln-device}
mkdir -p "$out"
source "$bundle/env.sh"
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"

python3 -c "import tarfile, sys; tarfile.open(sys.argv[1]).extractall('/tmp/onnxdata')" "$testdata"

kiln_unit_tests --gtest_filter='*Cuda*:*CUDA*' > "$out/unit_cuda.txt" 2>&1
unit_rc=$?
kiln-conformance --backend cuda --data /tmp/onnxdata --write-expectations "$out/cuda_failures.txt" \
  > "$out/conformance_cuda.txt" 2>&1
kiln-conformance --backend cpu --data /tmp/onnxdata > "$out/conformance_cpu.txt" 2>&1

mkdir -p /tmp/r50
python3 bench/models/make_resnet50.py /tmp/r50/resnet50.onnx > /dev/null
python3 -c "import numpy as np; np.save('/tmp/r50/x.npy', np.random.default_rng(1).uniform(-1, 1, (4, 3, 224, 224)).astype(np.float32))"
kiln run /tmp/r50/resnet50.onnx --backend cpu --input input=/tmp/r50/x.npy --output-dir /tmp/r50/cpu > "$out/r50_cpu.txt" 2>&1
kiln run /tmp/r50/resnet50.onnx --backend cuda --input input=/tmp/r50/x.npy --output-dir /tmp/r50/cuda > "$out/r50_cuda.txt" 2>&1
python3 - > "$out/r50_agreement.txt" 2>&1 <<'PY'
import numpy as np
try:
    a = np.load('/tmp/r50/cuda/output.npy').astype(np.float64)
    b = np.load('/tmp/r50/cpu/output.npy').astype(np.float64)
    print(f"resnet50 fp32/tf32 cuda vs cpu: rel l2 {np.linalg.norm(a - b) / np.linalg.norm(b):.3e}, max abs {np.abs(a - b).max():.3e}")
except Exception as e:
    print("resnet50 agreement: no result:", e)
PY
for batch in 1 32 128; do
  kiln bench /tmp/r50/resnet50.onnx --backend cuda --batch $batch --iterations 50 --duration 3 \
    --json "$out/r50_cuda_b$batch.json" > "$out/r50_bench_b$batch.txt" 2>&1
  KILN_CUDA_GRAPHS=1 kiln bench /tmp/r50/resnet50.onnx --backend cuda --batch $batch --iterations 50 --duration 3 \
    --json "$out/r50_cuda_graph_b$batch.json" > "$out/r50_bench_graph_b$batch.txt" 2>&1
done
kiln bench /tmp/r50/resnet50.onnx --backend cuda --batch 32 --streams 4 --iterations 50 --duration 3 \
  > "$out/r50_bench_streams4_b32.txt" 2>&1
python3 - > "$out/torch.txt" 2>&1 <<'PY'
import torch, torchvision, time
m = torchvision.models.resnet50(weights=None).cuda().eval()
for batch in (1, 32, 128):
    x = torch.randn(batch, 3, 224, 224, device='cuda')
    with torch.inference_mode():
        for _ in range(10): m(x)
        torch.cuda.synchronize()
        t = time.perf_counter(); n = 50
        for _ in range(n):
            y = m(x.cpu().cuda()).cpu()  # host to host, like kiln bench
        torch.cuda.synchronize()
        ms = (time.perf_counter() - t) / n * 1000
    print(f"torch {torch.__version__} eager fp32 (cuDNN conv TF32 on, its default) resnet50 b{batch}: "
          f"{ms:.2f} ms host-to-host, {batch * 1000 / ms:.1f} img/s")
PY

echo "==== summary"
echo "unit tests (cuda) rc=$unit_rc"; grep -E "^\[  (PASSED|FAILED)|tests ran" "$out/unit_cuda.txt" | head -20
tail -1 "$out/conformance_cpu.txt"; tail -1 "$out/conformance_cuda.txt"
grep -A30 "failures by op" "$out/conformance_cuda.txt" | head -30
cat "$out/r50_agreement.txt"; tail -3 "$out/r50_cuda.txt"
for f in "$out"/r50_bench_*.txt; do echo "$(basename $f): $(grep -E 'Throughput' $f) | $(grep -oE 'median = [0-9.]+' $f)"; done
cat "$out/torch.txt"
