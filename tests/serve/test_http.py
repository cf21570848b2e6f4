#!/usr/bin/env python3
"""End to end test of `kiln serve` over KServe v2 HTTP/REST.

Starts the server on free loopback ports with a temporary model repository
(the bundled ResNet-18-like model and a tiny two-output model made here with
onnx.helper), then checks health, metadata, configuration, statistics and
metrics; inference with JSON and binary tensors against ONNX Runtime; each bad
request's status and message; a client that hangs up mid-request; a full queue;
a request that times out in the queue; a short load run with no errors; and a
clean exit on SIGTERM.

Usage: test_http.py PATH_TO_KILN SOURCE_DIR
"""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
import onnx
import onnxruntime
import tritonclient.http as triton
from onnx import TensorProto, helper, numpy_helper
from tritonclient.utils import InferenceServerException

MAX_BODY = 8 << 20
RESNET_TOLERANCE = 1e-4  # relative to the largest reference magnitude, as in test_resnet18_mini.sh
TINY_TOLERANCE = 1e-6

failures = []


def check(condition, what):
    print(("ok   " if condition else "FAIL ") + what, flush=True)
    if not condition:
        failures.append(what)


def make_tiny_model(path):
    """x: FP32 [batch, 4] -> y = Relu(x W + b): [batch, 3], z = 2 x: [batch, 4]."""
    rng = np.random.default_rng(7)
    w = rng.standard_normal((4, 3)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["xw"]),
        helper.make_node("Add", ["xw", "b"], ["pre"]),
        helper.make_node("Relu", ["pre"], ["y"]),
        helper.make_node("Mul", ["x", "two"], ["z"]),
    ]
    graph = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3]),
         helper.make_tensor_value_info("z", TensorProto.FLOAT, ["batch", 4])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b"),
         numpy_helper.from_array(np.array(2.0, dtype=np.float32), "two")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)


def make_repository(root, source_dir):
    def add(name, model_file, config):
        os.makedirs(os.path.join(root, name))
        shutil.copy(model_file, os.path.join(root, name, "model.onnx"))
        with open(os.path.join(root, name, "config.json"), "w") as f:
            json.dump(config, f)

    tiny = os.path.join(root, "tiny.onnx")
    make_tiny_model(tiny)
    add("resnet18_mini", os.path.join(source_dir, "models", "resnet18_mini.onnx"),
        {"max_batch_size": 2, "batch_buckets": [1, 2]})
    add("tiny", tiny, {"max_batch_size": 8, "instances": 2,
                       "dynamic_batching": {"max_queue_delay_microseconds": 500}})
    # The batch waits up to 1 s to fill, so the queue holds the first request
    # while the rest arrive and find it full.
    add("tiny_queue1", tiny, {"max_batch_size": 8,
                              "dynamic_batching": {"max_queue_size": 1, "max_queue_delay_microseconds": 1000000}})
    # A request may wait 1 ms but the batch would wait 2 s: it times out.
    add("tiny_timeout", tiny, {"max_batch_size": 8,
                               "dynamic_batching": {"default_timeout_microseconds": 1000,
                                                    "max_queue_delay_microseconds": 2000000}})
    os.remove(tiny)


class Server:
    def __init__(self, kiln, repository):
        self.process = subprocess.Popen(
            [kiln, "serve", "--model-repository", repository, "--host", "127.0.0.1", "--http-port", "0",
             "--grpc-port", "-1", "--metrics-port", "0", "--http-threads", "32",
             "--http-max-body-bytes", str(MAX_BODY)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines = []
        self.ready = threading.Event()
        self.http_port = self.metrics_port = None
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))
            match = re.search(r"HTTP/REST ready on [^ ]*:(\d+)", line)
            if match:
                self.http_port = int(match.group(1))
            match = re.search(r"metrics ready on [^ ]*:(\d+)", line)
            if match:
                self.metrics_port = int(match.group(1))
            if line.strip() == "kiln serve: ready":
                self.ready.set()
        self.ready.set()

    def wait_ready(self, seconds):
        self.ready.wait(seconds)
        if self.http_port is None or self.process.poll() is not None:
            raise SystemExit("FAIL: the server did not come up:\n" + "\n".join(self.lines))

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                return None
        return self.process.returncode


def request(port, method, path, body=None, headers=None):
    """(status, headers, body bytes) of one request on a fresh connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def error_of(body):
    try:
        return json.loads(body)["error"]
    except (ValueError, KeyError, TypeError):
        return "<no JSON error in: %r>" % body[:200]


def tiny_reference(x):
    session = onnxruntime.InferenceSession(TINY_MODEL)
    return session.run(None, {"x": x})


def expect_error(port, what, body, status, fragment, path="/v2/models/tiny/infer", headers=None):
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    got_status, _, got_body = request(port, "POST", path, body, headers)
    message = error_of(got_body)
    check(got_status == status and fragment in message,
          f"{what}: HTTP {got_status} '{message}' (expected {status} with '{fragment}')")


def test_health_and_metadata(client, port):
    check(client.is_server_live(), "server live")
    check(client.is_server_ready(), "server ready")
    check(client.is_model_ready("tiny") and client.is_model_ready("resnet18_mini"), "models ready")
    check(not client.is_model_ready("nope"), "unknown model not ready")
    metadata = client.get_server_metadata()
    check(metadata["name"] == "kiln" and "binary_tensor_data" in metadata["extensions"], f"server metadata {metadata}")
    model = client.get_model_metadata("resnet18_mini")
    check(model["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 3, 224, 224]}]
          and model["outputs"] == [{"name": "logits", "datatype": "FP32", "shape": [-1, 1000]}]
          and model["versions"] == ["1"], f"resnet18_mini metadata {model}")
    versioned = client.get_model_metadata("tiny", model_version="1")
    check([o["name"] for o in versioned["outputs"]] == ["y", "z"], "tiny metadata by version")
    config = client.get_model_config("tiny")
    check(config["max_batch_size"] == 8 and config["instance_group"][0]["count"] == 2
          and config["input"][0]["dims"] == [4], f"tiny config {config}")
    # The JSON endpoints as curl sees them.
    curl = subprocess.run(["curl", "-sf", f"http://127.0.0.1:{port}/v2/models/tiny/versions/1/ready"])
    check(curl.returncode == 0, "curl model ready")
    curl = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                           f"http://127.0.0.1:{port}/v2/models/tiny/versions/2/ready"],
                          capture_output=True, text=True)
    check(curl.stdout == "404", f"curl: unknown version is 404 (got {curl.stdout})")


def test_resnet(client, source_dir):
    rng = np.random.default_rng(11)
    x = rng.standard_normal((2, 3, 224, 224)).astype(np.float32)
    reference = onnxruntime.InferenceSession(
        os.path.join(source_dir, "models", "resnet18_mini.onnx")).run(None, {"input": x})[0]
    scale = np.abs(reference).max()

    binary_input = triton.InferInput("input", list(x.shape), "FP32")
    binary_input.set_data_from_numpy(x, binary_data=True)
    result = client.infer("resnet18_mini", [binary_input], request_id="binary-2",
                          outputs=[triton.InferRequestedOutput("logits", binary_data=True)])
    logits = result.as_numpy("logits")
    error = np.abs(logits - reference).max() / scale
    check(logits.shape == (2, 1000) and error <= RESNET_TOLERANCE,
          f"resnet18_mini batch 2, binary tensors: relative error {error:.2e} <= {RESNET_TOLERANCE}")
    check(result.get_response()["id"] == "binary-2", "request id echoed")

    json_input = triton.InferInput("input", [1, 3, 224, 224], "FP32")
    json_input.set_data_from_numpy(x[1:], binary_data=False)
    result = client.infer("resnet18_mini", [json_input],
                          outputs=[triton.InferRequestedOutput("logits", binary_data=False)])
    logits = result.as_numpy("logits")
    error = np.abs(logits - reference[1:]).max() / scale
    check(logits.shape == (1, 1000) and error <= RESNET_TOLERANCE,
          f"resnet18_mini batch 1, JSON tensors: relative error {error:.2e} <= {RESNET_TOLERANCE}")


def test_tiny(client, port):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 4)).astype(np.float32)
    y_ref, z_ref = tiny_reference(x)

    # Nested JSON data through curl, outputs as JSON.
    body = json.dumps({"inputs": [{"name": "x", "shape": [3, 4], "datatype": "FP32", "data": x.tolist()}]})
    curl = subprocess.run(["curl", "-s", "-X", "POST", "-H", "Content-Type: application/json", "-d", body,
                           f"http://127.0.0.1:{port}/v2/models/tiny/infer"], capture_output=True, text=True)
    try:
        outputs = {o["name"]: o for o in json.loads(curl.stdout)["outputs"]}
        y = np.array(outputs["y"]["data"], dtype=np.float32).reshape(outputs["y"]["shape"])
        z = np.array(outputs["z"]["data"], dtype=np.float32).reshape(outputs["z"]["shape"])
        ok = np.abs(y - y_ref).max() <= TINY_TOLERANCE and np.array_equal(z, z_ref)
    except (ValueError, KeyError) as e:
        ok = False
        print("     curl said:", curl.stdout[:300], e)
    check(ok, "tiny via curl, nested JSON data: y and z match ONNX Runtime")

    # Only z, binary, through the client; the flat form of the data.
    tensor = triton.InferInput("x", [3, 4], "FP32")
    tensor.set_data_from_numpy(x, binary_data=True)
    result = client.infer("tiny", [tensor], outputs=[triton.InferRequestedOutput("z", binary_data=True)])
    check(result.as_numpy("y") is None and np.array_equal(result.as_numpy("z"), z_ref),
          "tiny: requested output z alone, binary")

    # binary_data_output in the request parameters, no outputs listed.
    flat = {"inputs": [{"name": "x", "shape": [3, 4], "datatype": "FP32", "data": x.flatten().tolist()}],
            "parameters": {"binary_data_output": True}}
    status, headers, raw = request(port, "POST", "/v2/models/tiny/infer", json.dumps(flat))
    header_length = int(headers.get("Inference-Header-Content-Length", "-1"))
    ok = status == 200 and header_length > 0
    if ok:
        header = json.loads(raw[:header_length])
        sizes = [o["parameters"]["binary_data_size"] for o in header["outputs"]]
        y = np.frombuffer(raw[header_length:header_length + sizes[0]], dtype=np.float32).reshape(3, 3)
        z = np.frombuffer(raw[header_length + sizes[0]:], dtype=np.float32).reshape(3, 4)
        ok = sizes == [36, 48] and np.abs(y - y_ref).max() <= TINY_TOLERANCE and np.array_equal(z, z_ref)
    check(ok, "tiny: binary_data_output request parameter gives binary outputs after the JSON header")

    # Binary input written by hand (the extension's wire format).
    header = json.dumps({"inputs": [{"name": "x", "shape": [3, 4], "datatype": "FP32",
                                     "parameters": {"binary_data_size": 48}}],
                         "outputs": [{"name": "y"}]}).encode()
    status, headers, raw = request(port, "POST", "/v2/models/tiny/infer", header + x.tobytes(),
                                   {"Inference-Header-Content-Length": str(len(header)),
                                    "Content-Type": "application/octet-stream"})
    ok = status == 200 and "Inference-Header-Content-Length" not in headers
    if ok:
        y = np.array(json.loads(raw)["outputs"][0]["data"], dtype=np.float32).reshape(3, 3)
        ok = np.abs(y - y_ref).max() <= TINY_TOLERANCE
    check(ok, "tiny: hand-made binary input, JSON output")


def test_bad_requests(client, port):
    good = {"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}
    expect_error(port, "malformed JSON", '{"inputs": [', 400, "malformed JSON")
    expect_error(port, "wrong shape", {"inputs": [dict(good, shape=[1, 5], data=[1, 2, 3, 4, 5])]}, 400,
                 "input 'x' of model 'tiny': shape [1,5] given, the model takes [-1,4]")
    expect_error(port, "element count", {"inputs": [dict(good, data=[1, 2, 3])]}, 400,
                 "'data' has 3 elements but shape [1x4] needs 4")
    expect_error(port, "wrong datatype", {"inputs": [dict(good, datatype="INT32")]}, 400,
                 "input 'x' of model 'tiny': datatype INT32 given, the model takes FP32")
    expect_error(port, "unknown datatype", {"inputs": [dict(good, datatype="FP8")]}, 400, "unknown datatype 'FP8'")
    expect_error(port, "unknown model", {"inputs": [good]}, 404, "unknown model 'nope'",
                 path="/v2/models/nope/infer")
    expect_error(port, "unknown version", {"inputs": [good]}, 404, "model 'tiny' has no version '3'",
                 path="/v2/models/tiny/versions/3/infer")
    expect_error(port, "unknown input", {"inputs": [good, dict(good, name="w")]}, 400,
                 "model 'tiny' has no input 'w' (inputs: 'x')")
    expect_error(port, "missing input", {"inputs": []}, 400, "model 'tiny': input 'x' is missing")
    expect_error(port, "unknown output", {"inputs": [good], "outputs": [{"name": "q"}]}, 400,
                 "model 'tiny' has no output 'q' (outputs: 'y', 'z')")
    expect_error(port, "batch above max_batch_size", {"inputs": [dict(good, shape=[9, 4], data=[0.5] * 36)]}, 400,
                 "batch size 9 (axis 0 of shape [9,4]) is outside [1, 8]")
    expect_error(port, "oversized body", b"{" + b" " * (MAX_BODY + 1) + b"}", 413,
                 f"larger than the limit of {MAX_BODY} bytes")
    expect_error(port, "bad Inference-Header-Content-Length", json.dumps({"inputs": [good]}), 400,
                 "Inference-Header-Content-Length is 'abc'", headers={"Inference-Header-Content-Length": "abc"})
    status, _, body = request(port, "GET", "/v2/nothing/here")
    check(status == 404 and "no route for GET /v2/nothing/here" in error_of(body), "unknown route: 404 with JSON")
    # The client library surfaces the server's message.
    tensor = triton.InferInput("x", [1, 5], "FP32")
    tensor.set_data_from_numpy(np.ones((1, 5), dtype=np.float32))
    try:
        client.infer("tiny", [tensor])
        check(False, "tritonclient raises on a wrong shape")
    except InferenceServerException as e:
        check("shape [1,5] given" in str(e), f"tritonclient shows the message: {e}")


def test_disconnects(client, port):
    # Half a request line and headers, then gone.
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(b"POST /v2/models/tiny/infer HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le")
    # Headers promising a body that never comes in full.
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(b"POST /v2/models/tiny/infer HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n"
                  b'{"inputs": [{"name": "x", ')
    # A whole request whose client leaves before the answer.
    body = json.dumps({"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}]})
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(("POST /v2/models/tiny/infer HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n%s"
                   % (len(body), body)).encode())
    time.sleep(0.2)
    tensor = triton.InferInput("x", [1, 4], "FP32")
    tensor.set_data_from_numpy(np.ones((1, 4), dtype=np.float32))
    check(client.is_server_live() and client.infer("tiny", [tensor]).as_numpy("z").shape == (1, 4),
          "clients hanging up mid-request leave the server serving")


def test_full_queue(port):
    body = json.dumps({"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}]})
    results = []
    lock = threading.Lock()
    barrier = threading.Barrier(12)

    def send():
        barrier.wait()
        status, _, raw = request(port, "POST", "/v2/models/tiny_queue1/infer", body)
        with lock:
            results.append((status, error_of(raw) if status != 200 else ""))

    threads = [threading.Thread(target=send) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(s for s, _ in results)
    rejected = [m for s, m in results if s == 503]
    check(len(results) == 12 and set(statuses) <= {200, 503} and 200 in statuses and rejected
          and all("queue is full" in m and "tiny_queue1" in m for m in rejected),
          f"max_queue_size 1: {statuses.count(200)} served, {len(rejected)} rejected with 503 "
          f"('{rejected[0] if rejected else ''}')")


def test_timeout(port):
    body = json.dumps({"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}]})
    started = time.monotonic()
    status, _, raw = request(port, "POST", "/v2/models/tiny_timeout/infer", body)
    message = error_of(raw)
    check(status == 504 and "timed out" in message and "tiny_timeout" in message,
          f"queue timeout: HTTP {status} '{message}' after {time.monotonic() - started:.2f} s")


def test_statistics_and_metrics(client, port, metrics_port):
    stats = client.get_inference_statistics("tiny")["model_stats"][0]
    check(stats["name"] == "tiny" and stats["inference_count"] >= stats["execution_count"] > 0
          and stats["inference_stats"]["success"]["count"] > 0 and stats["inference_stats"]["fail"]["count"] > 0,
          f"tiny statistics: {stats['inference_count']} items in {stats['execution_count']} batches, "
          f"{stats['inference_stats']['fail']['count']} failed")
    every = client.get_inference_statistics()["model_stats"]
    check(sorted(s["name"] for s in every) == ["resnet18_mini", "tiny", "tiny_queue1", "tiny_timeout"],
          "statistics of every model")
    status, _, text = request(metrics_port, "GET", "/metrics")
    text = text.decode()
    match = re.search(r'^nv_inference_request_success\{model="tiny",version="1"\} (\d+)$', text, re.M)
    rejected = re.search(r'^nv_inference_request_failure\{model="tiny_queue1",version="1"\} (\d+)$', text, re.M)
    check(status == 200 and match and int(match.group(1)) > 0 and rejected and int(rejected.group(1)) > 0
          and "# TYPE nv_inference_exec_count counter" in text, "Prometheus metrics")


def test_system_shared_memory(client, port):
    import shared_memory_cases

    def reference(x):
        y, z = tiny_reference(x)
        return {"y": y, "z": z}

    shared_memory_cases.run(triton, client, lambda: triton.InferenceServerClient(f"127.0.0.1:{port}", network_timeout=60),
                            "tiny", "x", 4, {"y": 3, "z": 4}, reference, check)
    expect_error(port, "CUDA shared memory register", {"raw_handle": {"b64": ""}, "device_id": 0, "byte_size": 4}, 400,
                 "cuda_shared_memory", path="/v2/cudasharedmemory/region/r/register")
    expect_error(port, "register without a key", {"byte_size": 4}, 400, "needs a string 'key'",
                 path="/v2/systemsharedmemory/region/r/register")
    expect_error(port, "register with a malformed body", "{", 400, "must be a JSON object",
                 path="/v2/systemsharedmemory/region/r/register")


def test_load(port, source_dir):
    load = subprocess.run(
        [sys.executable, os.path.join(source_dir, "bench", "serve_load.py"), "--url", f"127.0.0.1:{port}",
         "--model", "tiny", "--concurrency", "4", "--duration", "2", "--warmup", "0.3", "--json", "-"],
        capture_output=True, text=True, timeout=60)
    print(load.stdout[:load.stdout.find("{")] if "{" in load.stdout else load.stdout, end="")
    try:
        results = json.loads(load.stdout[load.stdout.index("{"):])
        ok = load.returncode == 0 and results["errors"] == 0 and results["requests"] > 0 \
            and results["server_avg_batch"] >= 1.0
    except ValueError:
        ok = False
        print(load.stdout, load.stderr)
    check(ok, "bench/serve_load.py: 4 clients for 2 s, no errors")


def main():
    global TINY_MODEL
    kiln, source_dir = os.path.realpath(sys.argv[1]), os.path.realpath(sys.argv[2])
    work = tempfile.mkdtemp(prefix="kiln_serve_test_")
    server = None
    try:
        repository = os.path.join(work, "repository")
        os.makedirs(repository)
        make_repository(repository, source_dir)
        TINY_MODEL = os.path.join(repository, "tiny", "model.onnx")
        server = Server(kiln, repository)
        server.wait_ready(120)
        port = server.http_port
        client = triton.InferenceServerClient(f"127.0.0.1:{port}", network_timeout=60)
        test_health_and_metadata(client, port)
        test_tiny(client, port)
        test_resnet(client, source_dir)
        test_bad_requests(client, port)
        test_disconnects(client, port)
        test_system_shared_memory(client, port)
        test_full_queue(port)
        test_timeout(port)
        test_load(port, source_dir)
        test_statistics_and_metrics(client, port, server.metrics_port)
        client.close()
        code = server.stop()
        check(code == 0 and server.lines[-1:] == ["kiln serve: stopped"], f"SIGTERM: exit code {code}, stopped")
        server = None
    finally:
        if server is not None:
            server.stop()
            print("\n".join(server.lines[-20:]))
        shutil.rmtree(work, ignore_errors=True)
    if failures:
        print(f"FAIL: {len(failures)} check(s) failed")
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
