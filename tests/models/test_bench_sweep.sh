#!/usr/bin/env bash
# `kiln bench --sweep` on the bundled model (CPU, short runs): the grid runs in
# full and PREFIX.csv, PREFIX.json and PREFIX.svg describe every point; a
# --spin-wait run reports its phases; a bad sweep spec names its token.
# Usage: test_bench_sweep.sh PATH_TO_KILN SOURCE_DIR
set -euo pipefail
kiln=$(realpath "$1")
source_dir=$(realpath "$2")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
model="$source_dir/models/resnet18_mini.onnx"
fail() { echo "FAIL: $*"; exit 1; }

"$kiln" bench "$model" --backend cpu --sweep 'batch=1,2 streams=1,2' --iterations 2 --duration 0 \
  --warmup 0 --sweep-out grid >sweep.txt || fail "sweep failed: $(cat sweep.txt)"
grep -q "\[4/4\] batch=2 streams=2" sweep.txt || fail "sweep did not run all four points: $(cat sweep.txt)"
grep -q "| batch | streams | items/s" sweep.txt || fail "no sweep table: $(cat sweep.txt)"

python3 - <<'PY'
import csv
import json
import xml.etree.ElementTree as ElementTree

rows = list(csv.DictReader(open("grid.csv")))
assert [(r["batch"], r["streams"]) for r in rows] == [("1", "1"), ("1", "2"), ("2", "1"), ("2", "2")], rows
for r in rows:
    assert int(r["iterations"]) >= 2, r
    assert float(r["throughput_items_per_s"]) > 0 and float(r["latency_p99_ms"]) > 0, r
    assert float(r["compute_mean_ms"]) > 0, r
    q, items = float(r["throughput_qps"]), float(r["throughput_items_per_s"])
    assert abs(items - q * int(r["batch"])) <= 1e-3 * items, r

report = json.load(open("grid.json"))
assert report["sweep"] == "batch=1,2 streams=1,2" and report["backend"] == "cpu", report["sweep"]
assert [run["config"] for run in report["runs"]] == [
    {"batch": 1, "streams": 1}, {"batch": 1, "streams": 2}, {"batch": 2, "streams": 1}, {"batch": 2, "streams": 2}]
for run, row in zip(report["runs"], rows):
    assert run["batch"] == int(row["batch"]) and run["streams"] == int(row["streams"]), run
    assert {"latency_ms", "compute_ms", "enqueue_ms", "warnings"} <= set(run), sorted(run)

svg = ElementTree.parse("grid.svg").getroot()  # well-formed XML
ns = "{http://www.w3.org/2000/svg}"
assert svg.tag == ns + "svg", svg.tag
assert len(svg.findall(f".//{ns}polyline")) == 2, "one line per streams value"
texts = {t.text for t in svg.iter(ns + "text")}
assert {"b=1", "b=2", "streams=1", "streams=2", "p99 latency (ms)", "throughput (items/s)"} <= texts, texts
PY
echo "ok   sweep CSV, JSON and SVG"

"$kiln" bench "$model" --backend cpu --streams 2 --spin-wait --iterations 4 --duration 0 --warmup 0 \
  --json spin.json >spin.txt
python3 - <<'PY'
import json
r = json.load(open("spin.json"))
assert r["spin_wait"] is True and r["streams"] == 2, r
assert r["compute_ms"]["mean"] > 0 and r["total_compute_ms"] > 0, r
assert r["h2d_ms"]["max"] == 0, r["h2d_ms"]
PY
grep -q "^Compute " spin.txt || fail "no phase table: $(cat spin.txt)"
grep -q "^H2D " spin.txt && fail "an all-zero phase is printed: $(cat spin.txt)"
echo "ok   --spin-wait and the phase table"

set +e
"$kiln" bench "$model" --sweep 'batch=1,x' >/dev/null 2>err.txt
rc=$?
set -e
[[ $rc -eq 1 ]] || fail "a bad --sweep exited $rc, expected 1"
grep -q "'x'" err.txt || fail "the error does not name the bad token: $(cat err.txt)"
echo "ok   bad --sweep spec"
