#!/usr/bin/env python3
"""Kiln against PyTorch on the same GPU in one run, and one comparison table.

On the GPU host (repository root, the bundle's env.sh sourced so that `kiln` is
on PATH):
  python3 bench/gpu/peer_table.py --out DIR [--models resnet50,bert]
      [--parts accuracy,build,kiln,torch,compile] [--resnet-batches 1,128] [--bert-batches 128]
      [--channels-last]

1. Exports ResNet-50 and BERT-base (sequence 128), random weights, to ONNX.
2. accuracy: Kiln CUDA FP16 (and TF32) outputs against Kiln's FP32 CPU output
   on random inputs: relative L2 error, tolerance 1e-2 for FP16, 1e-2 for TF32.
3. build: `kiln build --fp16 --batch-buckets <batches>` of each model with a
   cold timing cache, then warm; the FP16 accuracy and speed runs use this plan.
4. kiln: `kiln bench --fp16 --no-data-transfers --cuda-graph` (data already on
   the device, like the PyTorch loops) at each batch size.
5. torch / compile: PyTorch FP16 eager, eager replayed in a CUDA graph, and
   torch.compile(mode="max-autotune-no-cudagraphs") replayed in a CUDA graph
   (bench/gpu/torch_peers.py).
Prints the table last and writes DIR/peers.json and DIR/peers.md.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_peers  # noqa: E402

WORK = "/tmp/kiln-peers"


def run(cmd, log):
    with open(log, "w") as f:
        t0 = time.time()
        rc = subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT)
        return rc, time.time() - t0


def model_inputs(model, batch, rng):
    if model == "resnet50":
        return {"input": rng.uniform(-1, 1, (batch, 3, 224, 224)).astype(np.float32)}
    return {"input_ids": rng.integers(0, 30522, (batch, 128)).astype(np.int64),
            "attention_mask": np.ones((batch, 128), dtype=np.int64)}


def accuracy(model, path, out):
    rng = np.random.default_rng(7)
    files = []
    for name, value in model_inputs(model, 4, rng).items():
        f = f"{WORK}/{model}_{name}.npy"
        np.save(f, value)
        files += ["--input", f"{name}={f}"]
    results = {}
    plan = f"{WORK}/{model}_fp16.kiln"
    fp16 = [plan, "--backend", "cuda"] if os.path.exists(plan) else [path, "--backend", "cuda", "--fp16"]
    for label, target in (("cpu", [path, "--backend", "cpu"]), ("tf32", [path, "--backend", "cuda"]), ("fp16", fp16)):
        rc, _ = run(["kiln", "run", *target, *files, "--output-dir", f"{WORK}/{model}_{label}"],
                    f"{out}/run_{model}_{label}.txt")
        if rc != 0:
            print(f"accuracy {model} {label}: kiln run failed (see run_{model}_{label}.txt)")
            return []
    rows = []
    ref = np.load(f"{WORK}/{model}_cpu/output.npy").astype(np.float64)
    for label in ("tf32", "fp16"):
        got = np.load(f"{WORK}/{model}_{label}/output.npy").astype(np.float64)
        rel = float(np.linalg.norm(got - ref) / np.linalg.norm(ref))
        row = {"model": model, "precision": label, "rel_l2": rel, "tolerance": 1e-2, "pass": rel <= 1e-2}
        if model == "resnet50":
            row["top1_agreement"] = float(np.mean(got.argmax(1) == ref.argmax(1)))
        rows.append(row)
        print(f"accuracy {model:8s} {label}: rel L2 {rel:.2e} (tolerance 1e-2) {'ok' if row['pass'] else 'FAIL'}",
              flush=True)
    return rows


def build_times(model, path, batches, out):
    """Builds the FP16 plan the speed runs use (one static profile per batch
    size), first with a cold timing cache, then again with the warm one."""
    cache = f"{WORK}/{model}.timing-cache"
    if os.path.exists(cache):
        os.remove(cache)
    rows = []
    for label in ("cold", "warm"):
        rc, seconds = run(["kiln", "build", path, "--backend", "cuda", "--fp16", "--timing-cache", cache,
                           "--batch-buckets", ",".join(str(b) for b in batches),
                           "-o", f"{WORK}/{model}_fp16.kiln"], f"{out}/build_{model}_{label}.txt")
        rows.append({"model": model, "cache": label, "seconds": seconds, "ok": rc == 0})
        print(f"build {model:8s} fp16 {label} timing cache: {seconds:.1f} s {'ok' if rc == 0 else 'FAILED'}", flush=True)
    return rows


def kiln_bench(model, path, batch, out):
    j = f"{out}/kiln_{model}_b{batch}.json"
    plan = f"{WORK}/{model}_fp16.kiln"
    target = [plan] if os.path.exists(plan) else [path, "--fp16", "--timing-cache", f"{WORK}/{model}.timing-cache"]
    rc, _ = run(["kiln", "bench", *target, "--backend", "cuda", "--batch", str(batch), "--no-data-transfers",
                 "--cuda-graph", "--iterations", "100", "--duration", "3", "--json", j], j + ".txt")
    if rc != 0:
        print(f"kiln {model} b{batch}: failed (see {os.path.basename(j)}.txt)")
        return []
    d = json.load(open(j))
    ms = d["latency_ms"]["median"]
    row = {"model": model, "batch": batch, "runner": "kiln fp16 + CUDA graph", "ms_per_iter": ms,
           "items_per_s": d["throughput_items_per_s"]}
    print(f"{model:9s} b{batch:<4d} {row['runner']:42s} {ms:8.3f} ms  {row['items_per_s']:10.1f} items/s", flush=True)
    return [row]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", default=os.environ.get("OUT", "/tmp/kiln-device"))
    p.add_argument("--models", default="resnet50,bert")
    p.add_argument("--parts", default="accuracy,build,kiln,torch,compile")
    p.add_argument("--resnet-batches", default="1,128")
    p.add_argument("--bert-batches", default="128")
    p.add_argument("--iterations", type=int, default=100)
    p.add_argument("--channels-last", action="store_true", help="PyTorch runs ResNet-50 in torch.channels_last")
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    os.makedirs(WORK, exist_ok=True)
    parts = set(args.parts.split(","))
    import torch
    device = torch.cuda.get_device_name()
    print(f"device: {device}, torch {torch.__version__}", flush=True)
    report = {"device": device, "torch": torch.__version__, "accuracy": [], "build": [], "speed": []}
    for model in args.models.split(","):
        path = f"{WORK}/{model}.onnx"
        if not os.path.exists(path):
            torch_peers.export_onnx(model, torch_peers.resnet50() if model == "resnet50" else torch_peers.bert_base(),
                                    path)
        batches = [int(b) for b in (args.resnet_batches if model == "resnet50" else args.bert_batches).split(",")]
        if "build" in parts:
            report["build"] += build_times(model, path, batches, args.out)
        if "accuracy" in parts:
            report["accuracy"] += accuracy(model, path, args.out)
        for batch in batches:
            if "kiln" in parts:
                report["speed"] += kiln_bench(model, path, batch, args.out)
            modes = [m for m, part in (("eager", "torch"), ("cudagraph", "torch"), ("compile", "compile"))
                     if part in parts]
            if modes:
                report["speed"] += torch_peers.bench(model, batch, modes, args.iterations, 10, args.channels_last)
            with open(f"{args.out}/peers.json", "w") as f:
                json.dump(report, f, indent=1)
    lines = [f"| model | batch | runner | ms / iteration | items/s |", "| --- | ---: | --- | ---: | ---: |"]
    for r in report["speed"]:
        lines.append(f"| {r['model']} | {r['batch']} | {r['runner']} | {r['ms_per_iter']:.3f} | {r['items_per_s']:,.0f} |")
    table = "\n".join(lines)
    with open(f"{args.out}/peers.md", "w") as f:
        f.write(f"{device}, torch {torch.__version__}\n\n{table}\n")
    print(table)


if __name__ == "__main__":
    main()
