#!/usr/bin/env bash
# ResNet-50 FP16 served by `kiln serve` with dynamic batching on the GPU,
# against `kiln bench` on the same plan at the batch size the server formed.
# Load: P client processes (bench/serve_load.py, gRPC, C threads each, B
# images per request) on loopback for T seconds; their items/s are summed.
# Usage (GPU host, repository root): bench/gpu/serve_check.sh BUNDLE_DIR [P C B T [I]]
# I: model instances (contexts, each on its own stream; default 2); `kiln bench`
# runs with as many streams.
# The clients need the tritonclient package. A host without network gets it from
# wheels downloaded elsewhere for its Python, e.g.
#   pip download --python-version 3.12 --only-binary=:all: 'tritonclient[grpc]' -d wheels
# and, on the host, pip install --no-index --no-deps --target DIR wheels/*.whl;
# then PYTHONPATH=DIR (numpy comes from the host's own environment).
set -uo pipefail
# The same load from kiln-loadgen (C++, bundle it next to kiln) separates the
# server's limits from the Python clients', and its --shared-memory system run
# the socket's from the server's own.
python3 -c "import tritonclient.grpc" 2>/dev/null || { echo "serve_check: tritonclient is not importable (see the header)"; exit 1; }
source "$1/env.sh"
procs=${2:-4} conc=${3:-16} per_request=${4:-16} seconds=${5:-10} instances=${6:-2}
out=${OUT:-/tmp/kiln-device}
work=/tmp/kiln-serve
mkdir -p "$out" $work/repo/resnet50
python3 bench/models/make_resnet50.py $work/resnet50.onnx > /dev/null
kiln build $work/resnet50.onnx --backend cuda --fp16 --batch-buckets 1,16,32,64,128 \
  -o $work/repo/resnet50/model.kiln > "$out/serve_build.txt" 2>&1 || { tail -3 "$out/serve_build.txt"; exit 1; }
cat > $work/repo/resnet50/config.json <<JSON
{"backend": "cuda", "max_batch_size": 128, "instances": $instances,
 "dynamic_batching": {"preferred_batch_size": [64, 128], "max_queue_delay_microseconds": 3000,
                      "max_queue_size": 4096}}
JSON
kiln serve --model-repository $work/repo --http-port 8000 --grpc-port 8001 --metrics-port 8002 \
  > "$out/serve_log.txt" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null' EXIT
for _ in $(seq 120); do curl -sf localhost:8000/v2/health/ready > /dev/null && break; sleep 0.5; done
curl -sf localhost:8000/v2/health/ready > /dev/null || { echo "server not ready"; tail -5 "$out/serve_log.txt"; exit 1; }
pids=()
for p in $(seq $procs); do
  python3 bench/serve_load.py --protocol grpc --url 127.0.0.1:8001 --model resnet50 -c $conc --batch $per_request \
    -t $seconds --warmup 3 --seed $p --json "$out/serve_load_$p.json" > "$out/serve_load_$p.txt" 2>&1 &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait $pid; done
# kiln-loadgen twice: tensors in the messages, then in system shared memory
# (each client thread's own registered region: no tensor bytes on the socket).
if command -v kiln-loadgen > /dev/null; then
  for transfer in none system; do
    kiln-loadgen --url 127.0.0.1:8001 --model resnet50 -c $((procs * conc)) --batch $per_request -t $seconds \
      --warmup 3 --shared-memory $transfer --json "$out/serve_loadgen_$transfer.json" \
      > "$out/serve_loadgen_$transfer.txt" 2>&1
    python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(f\"kiln-loadgen (C++ gRPC, shared memory {r['shared_memory']}, {r['concurrency']} clients, {r['batch']} images/request): {r['items_per_s']:.1f} img/s, server average batch {r['server_avg_batch']:.1f}, p99 {r['latency_ms']['p99']:.1f} ms, errors {r['errors']}\")" \
      "$out/serve_loadgen_$transfer.json"
  done
fi
curl -s localhost:8002/metrics | grep -E "^nv_inference_(request_success|request_failure|count|exec_count)" \
  > "$out/serve_metrics.txt"
python3 - "$out" $procs <<'PY'
import json, sys
out, procs = sys.argv[1], int(sys.argv[2])
runs = [json.load(open(f"{out}/serve_load_{p}.json")) for p in range(1, procs + 1)]
items = sum(r["items_per_s"] for r in runs)
errors = sum(r["errors"] for r in runs)
batch = sum(r["server_avg_batch"] for r in runs) / len(runs)
p99 = max(r["latency_ms"]["p99"] for r in runs)
print(f"kiln serve (gRPC, {procs}x{runs[0]['concurrency']} clients, {runs[0]['batch']} images/request): "
      f"{items:.1f} img/s, server average batch {batch:.1f}, worst client p99 {p99:.1f} ms, errors {errors}")
json.dump({"items_per_s": items, "errors": errors, "server_avg_batch": batch, "p99_ms": p99},
          open(f"{out}/serve_summary.json", "w"))
PY
kill $server; wait $server 2>/dev/null; trap - EXIT
for b in 64 128; do
  kiln bench $work/repo/resnet50/model.kiln --backend cuda --batch $b --streams $instances --iterations 40 --duration 4 \
    --json "$out/serve_ref_b$b.json" > "$out/serve_ref_b$b.txt" 2>&1
  python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(f\"kiln bench same plan b{sys.argv[2]} {sys.argv[3]} streams (no graph): {d['throughput_items_per_s']:.1f} img/s\")" \
    "$out/serve_ref_b$b.json" $b $instances
done
