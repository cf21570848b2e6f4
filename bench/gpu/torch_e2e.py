#!/usr/bin/env python3
"""PyTorch running the same end-to-end loop as `kiln bench` on the CUDA backend:
float32 input in pinned host memory -> H2D -> FP16 ResNet-50 (replayed in a CUDA
graph) -> float32 output D2H into pinned host memory, the host waiting for each
query's output. With --streams N, N Python threads each keep one query in
flight on its own CUDA stream with its own graph and buffers (the model's
weights are shared), as `kiln bench --streams N` does with N contexts.
Prints one line per stream count: img/s and median latency."""
import argparse
import statistics
import threading
import time

import torch
import torchvision


CAPTURE_LOCK = threading.Lock()


def worker(model, batch, deadline, latencies, counts, index, barrier):
    try:
        run_worker(model, batch, deadline, latencies, counts, index, barrier)
    except Exception:
        barrier.abort()  # the main thread must not wait for a worker that died
        raise


def run_worker(model, batch, deadline, latencies, counts, index, barrier):
    stream = torch.cuda.Stream()
    x_host = torch.randn(batch, 3, 224, 224).pin_memory()
    y_host = torch.empty(batch, 1000).pin_memory()
    x_dev = torch.empty(batch, 3, 224, 224, device="cuda")
    # One capture at a time: cuDNN's per-thread set-up is not safe to overlap
    # with another thread's graph capture.
    with CAPTURE_LOCK, torch.cuda.stream(stream), torch.inference_mode():
        for _ in range(3):
            y_dev = model(x_dev.half()).float()
        stream.synchronize()
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, stream=stream):
            y_dev = model(x_dev.half()).float()
    barrier.wait()
    done = 0
    with torch.cuda.stream(stream):
        while time.perf_counter() < deadline[0]:
            t0 = time.perf_counter()
            x_dev.copy_(x_host, non_blocking=True)
            graph.replay()
            y_host.copy_(y_dev, non_blocking=True)
            stream.synchronize()
            latencies.append((time.perf_counter() - t0) * 1e3)
            done += 1
    counts[index] = done


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--streams", default="1,2,4")
    p.add_argument("--duration", type=float, default=4.0)
    args = p.parse_args()
    model = torchvision.models.resnet50(weights=None).cuda().half().eval()
    for n in [int(s) for s in args.streams.split(",")]:
        latencies, counts = [], [0] * n
        deadline = [float("inf")]
        barrier = threading.Barrier(n + 1)
        threads = [threading.Thread(target=worker, args=(model, args.batch, deadline, latencies, counts, i, barrier))
                   for i in range(n)]
        for t in threads:
            t.start()
        barrier.wait()
        start = time.perf_counter()
        deadline[0] = start + args.duration
        for t in threads:
            t.join()
        wall = time.perf_counter() - start
        total = sum(counts)
        print(f"torch {torch.__version__} fp16 CUDA graph, pinned host to host, b{args.batch} streams {n}: "
              f"{total * args.batch / wall:.1f} img/s, median {statistics.median(latencies):.2f} ms", flush=True)


if __name__ == "__main__":
    main()
