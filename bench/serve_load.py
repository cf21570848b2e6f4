#!/usr/bin/env python3
"""Load generator for `kiln serve` (or any KServe v2 server).

C client threads, each with its own tritonclient connection (HTTP or gRPC),
send inference requests back to back for T seconds with random inputs shaped
from the model's metadata. Reports throughput (requests/s and items/s),
latency percentiles (client side, request sent to response decoded), the
average batch the server formed (from its statistics endpoint: the change in
inference_count over the change in execution_count during the run) and errors.

Usage:
  bench/serve_load.py --url 127.0.0.1:8000 --model resnet18_mini -c 16 -t 10
  bench/serve_load.py --protocol grpc --url 127.0.0.1:8001 --model m --batch 4 --json results.json
Exit status: 0, or 1 when any request failed.
"""
import argparse
import json
import sys
import threading
import time

import numpy as np

NUMPY_TYPES = {
    "BOOL": np.bool_, "UINT8": np.uint8, "UINT16": np.uint16, "UINT32": np.uint32, "UINT64": np.uint64,
    "INT8": np.int8, "INT16": np.int16, "INT32": np.int32, "INT64": np.int64,
    "FP16": np.float16, "FP32": np.float32, "FP64": np.float64, "BYTES": np.object_,
}


def client_module(protocol):
    if protocol == "http":
        import tritonclient.http as module
    else:
        import tritonclient.grpc as module
    return module


def model_inputs(client, protocol, model):
    """[(name, datatype, shape)] from the model metadata."""
    if protocol == "http":
        metadata = client.get_model_metadata(model)
        return [(i["name"], i["datatype"], list(i["shape"])) for i in metadata["inputs"]]
    metadata = client.get_model_metadata(model)
    return [(i.name, i.datatype, list(i.shape)) for i in metadata.inputs]


def random_tensor(datatype, shape, rng):
    if datatype == "BYTES":
        return np.array([str(v).encode() for v in rng.integers(0, 1000, size=int(np.prod(shape)))],
                        dtype=np.object_).reshape(shape)
    dtype = NUMPY_TYPES.get(datatype)
    if dtype is None:
        raise SystemExit(f"serve_load: datatype {datatype} has no numpy type here")
    if dtype == np.bool_:
        return rng.integers(0, 2, size=shape).astype(np.bool_)
    if np.issubdtype(dtype, np.integer):
        return rng.integers(0, 100, size=shape).astype(dtype)
    return rng.standard_normal(size=shape).astype(dtype)


def parse_shapes(text):
    """'name:1x3x224x224,other:4' -> {name: [1, 3, 224, 224], ...}"""
    shapes = {}
    for entry in filter(None, text.split(",")):
        name, _, dims = entry.rpartition(":")
        shapes[name] = [int(d) for d in dims.split("x")]
    return shapes


def request_shapes(inputs, batch, given):
    shapes = {}
    for name, _, declared in inputs:
        if name in given:
            shapes[name] = given[name]
            continue
        shape = list(declared)
        if shape and shape[0] == -1:
            shape[0] = batch
        if any(d < 0 for d in shape):
            raise SystemExit(f"serve_load: input '{name}' has shape {declared}; give its dims with --shapes")
        shapes[name] = shape
    return shapes


def batch_counters(client, protocol, model):
    """(inference_count, execution_count) of the model's version 1, from the statistics endpoint."""
    if protocol == "http":
        stats = client.get_inference_statistics(model)
    else:
        stats = client.get_inference_statistics(model, as_json=True)
    entry = stats["model_stats"][0]
    # Protobuf's JSON writes 64-bit integers as strings and leaves out zeros.
    return int(entry.get("inference_count", 0)), int(entry.get("execution_count", 0))


class Worker(threading.Thread):
    def __init__(self, args, inputs, shapes, seed, start_barrier):
        super().__init__(daemon=True)
        self.args = args
        self.inputs = inputs
        self.shapes = shapes
        self.seed = seed
        self.start_barrier = start_barrier
        self.latencies = []
        self.errors = 0
        self.error_messages = []
        self.deadline = None

    def run(self):
        module = client_module(self.args.protocol)
        client = None
        try:
            client = module.InferenceServerClient(self.args.url)
            rng = np.random.default_rng(self.seed)
            request_inputs = []
            for name, datatype, _ in self.inputs:
                data = random_tensor(datatype, self.shapes[name], rng)
                tensor = module.InferInput(name, list(data.shape), datatype)
                if self.args.protocol == "http":
                    tensor.set_data_from_numpy(data, binary_data=not self.args.json_data)
                else:
                    tensor.set_data_from_numpy(data)
                request_inputs.append(tensor)
        except Exception as error:
            self.record_error(error)
            self.start_barrier.wait()  # the others must not wait for this one forever
            return
        self.start_barrier.wait()
        while time.perf_counter() < self.deadline:
            started = time.perf_counter()
            try:
                client.infer(self.args.model, request_inputs)
                self.latencies.append(time.perf_counter() - started)
            except Exception as error:  # the client raises InferenceServerException (and socket errors)
                self.record_error(error)
        client.close()

    def record_error(self, error):
        self.errors += 1
        if len(self.error_messages) < 5:
            self.error_messages.append(str(error))


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, int(round(p / 100.0 * (len(sorted_values) - 1)))))
    return sorted_values[index]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="127.0.0.1:8000", help="host:port of the server")
    parser.add_argument("--protocol", choices=["http", "grpc"], default="http")
    parser.add_argument("--model", required=True)
    parser.add_argument("-c", "--concurrency", type=int, default=8, help="client threads, one request in flight each")
    parser.add_argument("-t", "--duration", type=float, default=10.0, help="seconds of measured load")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds of load before measuring")
    parser.add_argument("--batch", type=int, default=1, help="items per request (axis 0 of inputs declared -1)")
    parser.add_argument("--shapes", default="", help="NAME:1x3x224x224,... for inputs with other dynamic axes")
    parser.add_argument("--json-data", action="store_true", help="HTTP: tensors as JSON instead of binary")
    parser.add_argument("--json", dest="json_file", help="also write the results as JSON to this file ('-': stdout)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    module = client_module(args.protocol)
    control = module.InferenceServerClient(args.url)
    if not control.is_model_ready(args.model):
        raise SystemExit(f"serve_load: model '{args.model}' is not ready at {args.url}")
    inputs = model_inputs(control, args.protocol, args.model)
    shapes = request_shapes(inputs, args.batch, parse_shapes(args.shapes))
    items_per_request = args.batch

    def run_phase(seconds, seed):
        workers = []

        # Runs once every worker has its connection and inputs ready, so the
        # measured window starts when the load does.
        def start_clock():
            deadline = time.perf_counter() + seconds
            for worker in workers:
                worker.deadline = deadline

        barrier = threading.Barrier(args.concurrency + 1, action=start_clock)
        workers.extend(Worker(args, inputs, shapes, seed + i, barrier) for i in range(args.concurrency))
        for worker in workers:
            worker.start()
        barrier.wait()
        began = time.perf_counter()
        for worker in workers:
            worker.join()
        return workers, time.perf_counter() - began

    if args.warmup > 0:
        run_phase(args.warmup, args.seed + 1000)

    before = batch_counters(control, args.protocol, args.model)
    workers, elapsed = run_phase(args.duration, args.seed)
    after = batch_counters(control, args.protocol, args.model)
    control.close()

    latencies = sorted(l for w in workers for l in w.latencies)
    errors = sum(w.errors for w in workers)
    messages = [m for w in workers for m in w.error_messages][:5]
    executions = after[1] - before[1]
    results = {
        "url": args.url, "protocol": args.protocol, "model": args.model, "concurrency": args.concurrency,
        "batch": args.batch, "duration_s": elapsed, "requests": len(latencies), "errors": errors,
        "infer_per_s": len(latencies) / elapsed, "items_per_s": len(latencies) * items_per_request / elapsed,
        "latency_ms": {
            "p50": percentile(latencies, 50) * 1e3, "p90": percentile(latencies, 90) * 1e3,
            "p99": percentile(latencies, 99) * 1e3,
            "mean": (sum(latencies) / len(latencies) * 1e3) if latencies else float("nan"),
        },
        "server_avg_batch": (after[0] - before[0]) / executions if executions else 0.0,
        "error_messages": messages,
    }
    print(f"{args.model} over {args.protocol} at {args.url}: concurrency {args.concurrency}, "
          f"batch {args.batch}, {elapsed:.1f} s")
    print(f"  throughput  {results['infer_per_s']:.1f} infer/s, {results['items_per_s']:.1f} items/s "
          f"({len(latencies)} requests)")
    lat = results["latency_ms"]
    print(f"  latency     p50 {lat['p50']:.2f} ms, p90 {lat['p90']:.2f} ms, p99 {lat['p99']:.2f} ms, "
          f"mean {lat['mean']:.2f} ms")
    print(f"  server      average batch {results['server_avg_batch']:.2f} items ({executions} executions)")
    print(f"  errors      {errors}" + (f": {messages[0]}" if messages else ""))
    if args.json_file:
        text = json.dumps(results, indent=2)
        if args.json_file == "-":
            print(text)
        else:
            with open(args.json_file, "w") as f:
                f.write(text + "\n")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
