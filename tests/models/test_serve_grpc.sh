#!/usr/bin/env bash
# End to end: `kiln serve` on a repository holding a tiny ONNX model, driven
# over gRPC by Triton's Python client (tests/serve/test_grpc.py); outputs are
# compared with ONNX Runtime. Also checks that our .proto agrees with the wire
# format tritonclient was generated from.
# Usage: test_serve_grpc.sh PATH_TO_KILN SOURCE_DIR
set -euo pipefail
kiln=$(realpath "$1")
source_dir=$(realpath "$2")
tests="$source_dir/tests/serve/test_grpc.py"
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

protoc --proto_path="$source_dir/src" --descriptor_set_out="$work/kserve_v2.pb" \
  "$source_dir/src/serve/proto/kserve_v2.proto"
python3 "$tests" wire "$work/kserve_v2.pb"

python3 "$tests" make-repository "$work/repository"
grpc_port=$(python3 -c '
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')

# HTTP and metrics are off: this test is about the gRPC front end alone.
"$kiln" serve --model-repository "$work/repository" --host 127.0.0.1 \
  --http-port -1 --metrics-port -1 --grpc-port "$grpc_port" --grpc-max-message-bytes 1048576 \
  >"$work/server.log" 2>&1 &
server_pid=$!

# Ready once the model is built and loaded.
if ! python3 "$tests" wait "127.0.0.1:$grpc_port" "$server_pid" 60; then
  cat "$work/server.log"
  echo "FAIL: kiln serve was not ready on gRPC port $grpc_port"
  exit 1
fi

# A second server on the same port must fail to start, not share the port.
if timeout 60 "$kiln" serve --model-repository "$work/repository" --host 127.0.0.1 \
    --http-port -1 --metrics-port -1 --grpc-port "$grpc_port" >"$work/second.log" 2>&1; then
  cat "$work/second.log"
  echo "FAIL: a second kiln serve started on gRPC port $grpc_port"
  exit 1
fi
if ! grep -q "cannot listen" "$work/second.log"; then
  cat "$work/second.log"
  echo "FAIL: the second kiln serve did not say why it stopped"
  exit 1
fi

status=0
python3 "$tests" run "127.0.0.1:$grpc_port" "$work/repository" || status=$?

# The server must still be alive after every test, then stop cleanly on SIGTERM.
if ! kill -0 "$server_pid" 2>/dev/null; then
  cat "$work/server.log"
  echo "FAIL: kiln serve died during the tests"
  exit 1
fi
kill -TERM "$server_pid"
if ! wait "$server_pid"; then
  cat "$work/server.log"
  echo "FAIL: kiln serve did not exit cleanly on SIGTERM"
  exit 1
fi
server_pid=""
if [[ $status -ne 0 ]]; then
  cat "$work/server.log"
  exit "$status"
fi
echo "PASS"
