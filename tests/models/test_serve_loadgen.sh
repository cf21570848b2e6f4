#!/usr/bin/env bash
# kiln-loadgen (the C++ KServe v2 load generator) against `kiln serve` on a
# tiny model: short runs over gRPC and over HTTP/REST, each with tensors in the
# messages and then in system shared memory, must complete requests with 0
# errors and report the server's batching, and the shared memory runs must
# leave no region registered; a wrong model name and a bad HTTP endpoint must
# be clear errors.
# Usage: test_serve_loadgen.sh PATH_TO_KILN SOURCE_DIR (kiln-loadgen sits next to kiln)
set -euo pipefail
kiln=$(realpath "$1")
source_dir=$(realpath "$2")
loadgen="$(dirname "$kiln")/kiln-loadgen"
helpers="$source_dir/tests/serve/test_grpc.py"
work=$(mktemp -d)
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

python3 "$helpers" make-repository "$work/repository"
free_port() {
  python3 -c '
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}
port=$(free_port)
http_port=$(free_port)
"$kiln" serve --model-repository "$work/repository" --host 127.0.0.1 --http-port "$http_port" --metrics-port -1 \
  --grpc-port "$port" >"$work/server.log" 2>&1 &
server_pid=$!
if ! python3 "$helpers" wait "127.0.0.1:$port" "$server_pid" 60; then
  cat "$work/server.log"
  echo "FAIL: kiln serve was not ready on gRPC port $port"
  exit 1
fi
model=$(ls "$work/repository" | head -1)

"$loadgen" --url "127.0.0.1:$port" --model "$model" -c 4 -t 1 --warmup 0.3 --batch 2 --json "$work/load.json" \
  | tee "$work/load.txt"
grep -q "errors      0" "$work/load.txt" || { echo "FAIL: the load run had errors"; exit 1; }
python3 - "$work/load.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["errors"] == 0 and r["requests"] > 0, r
assert r["items_per_s"] > 0 and r["latency_ms"]["p99"] >= r["latency_ms"]["p50"] > 0, r
assert r["server_avg_batch"] >= 2, r  # each request carries 2 items
PY

"$loadgen" --url "127.0.0.1:$port" --model "$model" -c 4 -t 1 --warmup 0.3 --batch 2 --shared-memory system \
  --json "$work/shm.json" | tee "$work/shm.txt"
grep -q "system shared memory" "$work/shm.txt" || { echo "FAIL: the run does not say it used shared memory"; exit 1; }
grep -q "errors      0" "$work/shm.txt" || { echo "FAIL: the shared memory run had errors"; exit 1; }
python3 - "$work/shm.json" "127.0.0.1:$port" <<'PY'
import json, sys
import tritonclient.grpc as grpcclient
r = json.load(open(sys.argv[1]))
assert r["shared_memory"] == "system", r
assert r["errors"] == 0 and r["requests"] > 0 and r["server_avg_batch"] >= 2, r
status = grpcclient.InferenceServerClient(sys.argv[2]).get_system_shared_memory_status()
assert len(status.regions) == 0, f"regions left registered: {list(status.regions)}"
PY

for transfer in none system; do
  "$loadgen" --url "127.0.0.1:$port" --http-url "127.0.0.1:$http_port" --model "$model" -c 4 -t 1 --warmup 0.3 \
    --batch 2 --shared-memory "$transfer" --json "$work/http_$transfer.json" | tee "$work/http_$transfer.txt"
  grep -q "over http at 127.0.0.1:$http_port" "$work/http_$transfer.txt" ||
    { echo "FAIL: the run does not say it used HTTP"; exit 1; }
  python3 - "$work/http_$transfer.json" "$transfer" "127.0.0.1:$port" <<'PY'
import json, sys
import tritonclient.grpc as grpcclient
r = json.load(open(sys.argv[1]))
assert r["protocol"] == "http" and r["shared_memory"] == sys.argv[2], r
assert r["errors"] == 0 and r["requests"] > 0 and r["server_avg_batch"] >= 2, r
status = grpcclient.InferenceServerClient(sys.argv[3]).get_system_shared_memory_status()
assert len(status.regions) == 0, f"regions left registered: {list(status.regions)}"
PY
done
if "$loadgen" --url "127.0.0.1:$port" --http-url "127.0.0.1" --model "$model" -t 0.1 >"$work/bad_http.txt" 2>&1; then
  echo "FAIL: an HTTP endpoint without a port was accepted"; exit 1
fi
grep -q "is not host:port" "$work/bad_http.txt" || { cat "$work/bad_http.txt"; echo "FAIL: unclear HTTP endpoint error"; exit 1; }

if "$loadgen" --url "127.0.0.1:$port" --model no_such_model -t 0.1 >"$work/bad.txt" 2>&1; then
  echo "FAIL: an unknown model was accepted"; exit 1
fi
grep -q "no_such_model" "$work/bad.txt" || { cat "$work/bad.txt"; echo "FAIL: the error does not name the model"; exit 1; }
echo "PASS"
