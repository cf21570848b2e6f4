#!/usr/bin/env bash
# Builds the libFuzzer targets with clang, AddressSanitizer and coverage
# instrumentation, and the plan seed writer.
#
#   fuzz/build.sh            -> fuzz/out/{plan_loader_fuzzer,onnx_import_fuzzer,make_plan_seeds}
#   fuzz/out/plan_loader_fuzzer fuzz/out/corpus/plan_loader fuzz/corpus/plan_loader -max_total_time=300
#
# The Kiln library is built once more in fuzz/out/build with the same flags
# (separate from the normal build, which uses the default compiler).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$ROOT/fuzz/out"
CXX="${CXX:-clang++-14}"
JOBS="${JOBS:-2}"
FLAGS="-g -O1 -fno-omit-frame-pointer -fsanitize=address"

if ! command -v "$CXX" > /dev/null; then
  echo "fuzz/build.sh: $CXX not found (apt-get install clang-14 libclang-rt-14-dev)" >&2
  exit 1
fi

mkdir -p "$OUT"
cmake -S "$ROOT" -B "$OUT/build" -DKILN_WITH_CUDA=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER="$CXX" \
  -DCMAKE_CXX_FLAGS="$FLAGS -fsanitize=fuzzer-no-link" > "$OUT/cmake.log"
cmake --build "$OUT/build" --target kiln -j "$JOBS" > "$OUT/make.log" || { tail -40 "$OUT/make.log"; exit 1; }

LIBS=("$OUT/build/libkiln.a" -lonnx_proto -lprotobuf -ldnnl -fopenmp -lpthread)
INCLUDES=(-I"$ROOT/include" -I"$ROOT/src")

for target in plan_loader_fuzzer onnx_import_fuzzer profile_spec_fuzzer; do
  "$CXX" -std=c++20 $FLAGS -fsanitize=fuzzer "${INCLUDES[@]}" "$ROOT/fuzz/$target.cc" "${LIBS[@]}" -o "$OUT/$target"
done
"$CXX" -std=c++20 $FLAGS "${INCLUDES[@]}" "$ROOT/fuzz/make_plan_seeds.cc" "${LIBS[@]}" -o "$OUT/make_plan_seeds"
echo "built: $(cd "$OUT" && ls *_fuzzer make_plan_seeds | tr "\n" " ")"
