#!/usr/bin/env bash
# Streams and copies on the GPU, in one call:
#  1. ResNet-50 FP16 end to end (pinned float32 input in host memory -> output
#     in host memory) with 1, 2 and 4 streams, CUDA graphs on, next to its
#     compute-only throughput (--no-data-transfers) and PyTorch running the same
#     end-to-end loop (bench/gpu/torch_e2e.py).
#  2. A transfer-heavy MLP (bench/models/make_mlp.py, float32 without TF32):
#     1 stream against 4 streams, and the chunked pipeline (--chunk) against
#     one unsplit run on one stream.
#  3. A sweep of batch x streams with its plot, and a Chrome trace excerpt.
# Usage (GPU host, repository root): bench/gpu/streams_e2e.sh BUNDLE_DIR
set -uo pipefail
source "$1/env.sh"
out=${OUT:-/tmp/kiln-device}
work=/tmp/kiln-streams
mkdir -p "$out" "$work"
python3 bench/models/make_resnet50.py $work/resnet50.onnx > /dev/null
python3 bench/models/make_mlp.py $work/mlp.onnx --width 1024 --layers 4
kiln build $work/resnet50.onnx --backend cuda --fp16 -o $work/r50_fp16.kiln > "$out/build_r50.txt" 2>&1 || tail -3 "$out/build_r50.txt"

row() {  # label json
  python3 - "$@" <<'PY'
import json, sys
d = json.load(open(sys.argv[2]))
phases = " ".join(f"{k.split('_')[0]} {d[k]['median']:.2f}" for k in ("h2d_ms", "compute_ms", "d2h_ms") if k in d)
print(f"{sys.argv[1]:<44s} {d['throughput_items_per_s']:>11.1f} {d['latency_ms']['median']:>9.2f} {d['latency_ms']['p99']:>9.2f}  {phases}")
PY
}
bench() {  # label json-name kiln-bench-args...
  local label=$1 name=$2; shift 2
  kiln bench "$@" --json "$out/$name.json" > "$out/$name.txt" 2>&1 && row "$label" "$out/$name.json" \
    || { echo "$label: failed"; tail -3 "$out/$name.txt"; }
}
printf "%-44s %11s %9s %9s  %s\n" configuration "items/s" "median" "p99" "phase medians (ms)"
bench "r50 fp16 b128 compute only, graph" r50_compute $work/r50_fp16.kiln --backend cuda --batch 128 \
  --no-data-transfers --cuda-graph --iterations 50 --duration 3
for s in 1 2 4; do
  bench "r50 fp16 b128 end to end, graph, streams $s" r50_e2e_s$s $work/r50_fp16.kiln --backend cuda --batch 128 \
    --streams $s --cuda-graph --iterations 50 --duration 4 --percentiles 90,95,99
done
bench "r50 fp16 b1 end to end, graph, spin-wait" r50_e2e_b1_spin $work/r50_fp16.kiln --backend cuda --batch 1 \
  --cuda-graph --spin-wait --iterations 200 --duration 3
bench "r50 fp16 b1 end to end, graph" r50_e2e_b1 $work/r50_fp16.kiln --backend cuda --batch 1 \
  --cuda-graph --iterations 200 --duration 3
python3 bench/gpu/torch_e2e.py --batch 128 --streams 1,2,4 --duration 4 2>&1 | grep -v Warn
for s in 1 4; do
  bench "mlp fp32 b16384 end to end, streams $s" mlp_s$s $work/mlp.onnx --backend cuda --no-tf32 --batch 16384 \
    --streams $s --iterations 30 --duration 3
done
bench "mlp fp32 b65536 one run, 1 stream" mlp_whole $work/mlp.onnx --backend cuda --no-tf32 --batch 65536 \
  --iterations 10 --duration 3
bench "mlp fp32 b65536 chunks of 8192 over 4 streams" mlp_chunked $work/mlp.onnx --backend cuda --no-tf32 \
  --batch 65536 --chunk 8192 --streams 4 --iterations 10 --duration 3
kiln bench $work/r50_fp16.kiln --backend cuda --batch 32 --streams 4 --cuda-graph --duration 1 \
  --export-trace "$out/r50_trace.json" > "$out/trace_run.txt" 2>&1 || tail -3 "$out/trace_run.txt"
kiln bench $work/r50_fp16.kiln --backend cuda --cuda-graph --sweep 'batch=1,8,32,128 streams=1,2,4' --duration 2 \
  --sweep-out "$out/r50_sweep" > "$out/sweep.txt" 2>&1 && tail -14 "$out/sweep.txt" || tail -3 "$out/sweep.txt"
