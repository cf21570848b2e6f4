#!/usr/bin/env bash
# ResNet-50 on the CUDA backend, host memory to host memory, with 1, 2 and 4
# streams (queries in flight, one context each), with and without CUDA graphs.
# Usage (GPU host, repository root): bench/gpu/streams_check.sh BUNDLE_DIR
set -uo pipefail
source "$1/env.sh"
out=${OUT:-/tmp/kiln-device}
mkdir -p "$out" /tmp/r50
python3 bench/models/make_resnet50.py /tmp/r50/resnet50.onnx > /dev/null
printf "%-6s %-8s %-6s %12s %12s %10s\n" batch streams graph "img/s" "median ms" "p99 ms"
for batch in 32 128; do
  for streams in 1 2 4; do
    for graph in "" --cuda-graph; do
      f="$out/b${batch}_s${streams}${graph:+_graph}.json"
      kiln bench /tmp/r50/resnet50.onnx --backend cuda --batch $batch --streams $streams $graph \
        --iterations 40 --duration 3 --json "$f" > "$f.txt" 2>&1 || { tail -3 "$f.txt"; continue; }
      python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(f\"{d['batch']:<6} {d['streams']:<8} {sys.argv[2]:<6} {d['throughput_items_per_s']:12.1f} {d['latency_ms']['median']:12.2f} {d['latency_ms']['p99']:10.2f}\")" "$f" "${graph:+yes}"
    done
  done
done
