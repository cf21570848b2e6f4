#!/usr/bin/env python3
"""Kiln's CPU backend next to ONNX Runtime's CPU provider, measured in the same run.

Both get the same input (one .npy file), the same batch, the same thread count
(OMP_NUM_THREADS for Kiln, intra_op_num_threads for ONNX Runtime) and the same
measurement: warm-up, then at least --iterations queries and at least --duration
seconds; a query is one inference from input in host memory to output in host
memory, timed with a monotonic clock. Kiln is measured by `kiln bench --json`;
ONNX Runtime by the same loop in Python around InferenceSession.run. The outputs
of both are compared too, so a fast wrong answer does not pass unnoticed.

Prints a Markdown block ready for docs/benchmarks.md and, with --json, writes
the raw figures.

Usage: bench/cpu_vs_onnxruntime.py [--model M] [--kiln build/bin/kiln] [--batch 1]
                                   [--threads 2] [--duration 10] [--warmup 1] [--json FILE]
"""
import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnxruntime as ort

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def latency_summary(latencies_ms):
    values = np.asarray(latencies_ms, dtype=np.float64)
    return {
        "min": float(values.min()), "max": float(values.max()), "mean": float(values.mean()),
        "median": float(np.percentile(values, 50)), "p90": float(np.percentile(values, 90)),
        "p95": float(np.percentile(values, 95)), "p99": float(np.percentile(values, 99)),
    }


def bench_onnxruntime(model, feeds, threads, iterations, duration, warmup, batch):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    start = time.perf_counter()
    while time.perf_counter() - start < warmup:
        session.run(None, feeds)
    latencies = []
    run_start = time.perf_counter()
    last_end = run_start
    while len(latencies) < iterations or last_end - run_start < duration:
        query_start = time.perf_counter()
        outputs = session.run(None, feeds)
        last_end = time.perf_counter()
        latencies.append((last_end - query_start) * 1e3)
    wall = last_end - run_start
    return {
        "throughput_qps": len(latencies) / wall, "throughput_items_per_s": len(latencies) * batch / wall,
        "latency_ms": latency_summary(latencies), "wall_s": wall, "iterations": len(latencies),
        "batch": batch, "warmup_s": warmup, "version": ort.__version__,
    }, outputs


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def git_commit():
    try:
        commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
        return commit + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=os.path.join(ROOT, "models", "resnet18_mini.onnx"))
    parser.add_argument("--kiln", default=os.path.join(ROOT, "build", "bin", "kiln"))
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="write both results to this file")
    args = parser.parse_args()

    load_before = os.getloadavg()[0]
    probe = ort.InferenceSession(args.model, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(args.seed)
    feeds = {}
    for model_input in probe.get_inputs():
        shape = [args.batch if i == 0 and not isinstance(d, int) else (d if isinstance(d, int) else 1)
                 for i, d in enumerate(model_input.shape)]
        if model_input.type != "tensor(float)":
            sys.exit(f"input {model_input.name} is {model_input.type}; this script feeds float32 inputs only")
        feeds[model_input.name] = rng.uniform(-1.0, 1.0, size=shape).astype(np.float32)
    output_names = [o.name for o in probe.get_outputs()]
    first = next(iter(feeds.values()))
    items_per_query = first.shape[0] if first.ndim > 0 else 1  # what `kiln bench` counts as the batch
    del probe

    with tempfile.TemporaryDirectory() as work:
        input_args = []
        for name, value in feeds.items():
            path = os.path.join(work, f"input{len(input_args)}.npy")
            np.save(path, value)
            input_args += ["--input", f"{name}={path}"]
        env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
        kiln_json = os.path.join(work, "kiln.json")
        subprocess.run([args.kiln, "run", args.model, *input_args, "--output-dir", work], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        kiln_outputs = [np.load(os.path.join(work, f"{name}.npy")) for name in output_names]
        subprocess.run([args.kiln, "bench", args.model, *input_args, "--iterations", str(args.iterations),
                        "--duration", str(args.duration), "--warmup", str(args.warmup), "--json", kiln_json],
                       env=env, check=True, stdout=subprocess.DEVNULL)
        with open(kiln_json) as f:
            kiln = json.load(f)

    onnxruntime, ort_outputs = bench_onnxruntime(args.model, feeds, args.threads, args.iterations, args.duration,
                                                 args.warmup, items_per_query)
    max_relative = max(float(np.abs(k.astype(np.float64) - o).max() / max(np.abs(o).max(), 1e-30))
                       for k, o in zip(kiln_outputs, ort_outputs))

    load_after = os.getloadavg()[0]
    run = {
        "load_average_1min": [load_before, load_after],
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": git_commit(), "cpu": cpu_name(), "cores": os.cpu_count(), "threads": args.threads,
        "model": os.path.relpath(args.model, ROOT), "batch": args.batch,
        "max_relative_difference": max_relative, "kiln": kiln, "onnxruntime": onnxruntime,
    }
    if args.json:
        with open(args.json, "w") as f:
            json.dump(run, f, indent=2)

    def row(name, r):
        l = r["latency_ms"]
        return (f"| {name} | {r['throughput_qps']:.1f} | {r['throughput_items_per_s']:.1f} | {l['min']:.2f} | "
                f"{l['mean']:.2f} | {l['median']:.2f} | {l['p90']:.2f} | {l['p95']:.2f} | {l['p99']:.2f} | "
                f"{l['max']:.2f} | {r['iterations']} | {r['wall_s']:.1f} |")

    print(f"### CPU: {run['model']}, batch {args.batch}, {args.threads} thread{'s' if args.threads != 1 else ''}\n")
    print(f"- Card: none (CPU only): {run['cpu']}, {run['cores']} cores")
    print(f"- Date: {run['date']}; commit: {run['commit']}")
    print(f"- Machine load (1-minute load average, before / after): {load_before:.2f} / {load_after:.2f}"
          + ("  **busy machine: figures are not representative**" if load_before > args.threads else ""))
    print(f"- Peer: ONNX Runtime {onnxruntime['version']} (Python, CPUExecutionProvider, default graph "
          f"optimisations), same input, batch and thread count, measured in the same run")
    print(f"- Command: `bench/cpu_vs_onnxruntime.py --batch {args.batch} --threads {args.threads} "
          f"--duration {args.duration:g} --warmup {args.warmup:g}`")
    print(f"- Outputs agree: max |kiln - onnxruntime| / max |onnxruntime| = {max_relative:.2e}\n")
    print("| engine | queries/s | items/s | min ms | mean ms | median ms | p90 ms | p95 ms | p99 ms | max ms "
          "| queries | wall s |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    print(row("Kiln (cpu)", kiln))
    print(row(f"ONNX Runtime {onnxruntime['version']}", onnxruntime))


if __name__ == "__main__":
    main()
