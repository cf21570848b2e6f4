#!/usr/bin/env bash
# End to end: `kiln serve` over KServe v2 HTTP/REST, driven by the tritonclient
# package, curl and raw sockets (tests/serve/test_http.py; it starts the server
# on free loopback ports and stops it when done).
# Usage: test_serve_http.sh PATH_TO_KILN SOURCE_DIR
set -euo pipefail
kiln=$(realpath "$1")
source_dir=$(realpath "$2")
exec timeout 300 python3 "$source_dir/tests/serve/test_http.py" "$kiln" "$source_dir"
