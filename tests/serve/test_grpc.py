#!/usr/bin/env python3
"""The gRPC front end of `kiln serve` as Triton's own client sees it.

  test_grpc.py make-repository DIR   writes a model repository with a tiny ONNX model
  test_grpc.py wire DESCRIPTOR_SET   checks our .proto against tritonclient's wire format
  test_grpc.py wait HOST:PORT PID S  waits up to S seconds for the server (process PID) to be ready
  test_grpc.py run HOST:PORT DIR     runs the client tests against a running server

Results are compared with ONNX Runtime on random inputs.
"""
import concurrent.futures
import json
import os
import sys
import threading
import time
import traceback

import numpy as np

MODEL = "tiny"
FEATURES, HIDDEN, CLASSES = 16, 8, 4
MAX_BATCH = 8
# test_serve_grpc.sh starts the server with --grpc-max-message-bytes at this value.
MAX_MESSAGE_BYTES = 1 << 20


# ---- the model ------------------------------------------------------------------

def make_repository(directory):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(1)
    w1 = rng.standard_normal((FEATURES, HIDDEN)).astype(np.float32)
    b1 = rng.standard_normal(HIDDEN).astype(np.float32)
    w2 = rng.standard_normal((HIDDEN, CLASSES)).astype(np.float32)
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h0"]),
        helper.make_node("Add", ["h0", "b1"], ["h1"]),
        helper.make_node("Relu", ["h1"], ["hidden"]),
        helper.make_node("MatMul", ["hidden", "w2"], ["l0"]),
        helper.make_node("Sigmoid", ["l0"], ["score"]),
    ]
    graph = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", FEATURES])],
        [helper.make_tensor_value_info("hidden", TensorProto.FLOAT, ["batch", HIDDEN]),
         helper.make_tensor_value_info("score", TensorProto.FLOAT, ["batch", CLASSES])],
        [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(b1, "b1"), numpy_helper.from_array(w2, "w2")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    model_dir = os.path.join(directory, MODEL)
    os.makedirs(model_dir, exist_ok=True)
    onnx.save(model, os.path.join(model_dir, "model.onnx"))
    with open(os.path.join(model_dir, "config.json"), "w") as f:
        json.dump({"max_batch_size": MAX_BATCH, "batch_buckets": [1, 4, MAX_BATCH],
                   "dynamic_batching": {"max_queue_delay_microseconds": 2000}}, f)


class Reference:
    def __init__(self, repository):
        import onnxruntime
        self.session = onnxruntime.InferenceSession(os.path.join(repository, MODEL, "model.onnx"),
                                                    providers=["CPUExecutionProvider"])

    def __call__(self, x):
        hidden, score = self.session.run(["hidden", "score"], {"x": x})
        return {"hidden": hidden, "score": score}


def assert_close(actual, expected, what):
    assert actual is not None, f"{what}: output missing"
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype} != {expected.dtype}"
    # float32 accumulation order differs between Kiln and ONNX Runtime.
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5, err_msg=what)


# ---- wire format ----------------------------------------------------------------

def check_wire(descriptor_set_path):
    """Every field we declare has the name, number, type and label tritonclient uses."""
    from google.protobuf import descriptor_pb2
    import tritonclient.grpc.model_config_pb2 as triton_config
    import tritonclient.grpc.service_pb2 as triton_service

    ours = descriptor_pb2.FileDescriptorSet()
    with open(descriptor_set_path, "rb") as f:
        ours.ParseFromString(f.read())
    theirs = {}
    for module in (triton_service, triton_config):
        proto = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(proto)
        collect(proto.message_type, ".inference", theirs)
        for enum in proto.enum_type:
            theirs[".inference." + enum.name] = enum
        if module is triton_service:
            their_methods = {m.name: m for m in proto.service[0].method}
    mine = {}
    checked = 0
    for proto in ours.file:
        assert proto.package == "inference", proto.package
        collect(proto.message_type, ".inference", mine)
        for enum in proto.enum_type:
            mine[".inference." + enum.name] = enum
        for service in proto.service:
            assert service.name == "GRPCInferenceService", service.name
            for method in service.method:
                their = their_methods[method.name]
                assert (method.input_type, method.output_type) == (their.input_type, their.output_type), method.name
    for name, message in mine.items():
        assert name in theirs, f"{name} is not a tritonclient message"
        if isinstance(message, descriptor_pb2.EnumDescriptorProto):
            their_values = {v.name: v.number for v in theirs[name].value}
            for value in message.value:
                assert their_values.get(value.name) == value.number, f"{name}.{value.name}"
            continue
        their_fields = {f.name: f for f in theirs[name].field}
        for field in message.field:
            their = their_fields.get(field.name)
            assert their is not None, f"{name}.{field.name} is not in tritonclient's {name}"
            for attribute in ("number", "type", "label", "type_name"):
                assert getattr(field, attribute) == getattr(their, attribute), \
                    f"{name}.{field.name}: {attribute} {getattr(field, attribute)} != {getattr(their, attribute)}"
            checked += 1
    print(f"wire: {len(mine)} messages, {checked} fields agree with tritonclient")


def collect(messages, prefix, into):
    for message in messages:
        name = f"{prefix}.{message.name}"
        into[name] = message
        collect(message.nested_type, name, into)
        for enum in message.enum_type:
            into[f"{name}.{enum.name}"] = enum


# ---- client tests ---------------------------------------------------------------

def make_input(grpcclient, x):
    tensor = grpcclient.InferInput("x", list(x.shape), "FP32")
    tensor.set_data_from_numpy(x)
    return tensor


def expect_error(code, function, *args, **kwargs):
    from tritonclient.utils import InferenceServerException
    try:
        function(*args, **kwargs)
    except InferenceServerException as error:
        assert error.status() == f"StatusCode.{code}", f"expected {code}, got {error.status()}: {error.message()}"
        return error.message()
    raise AssertionError(f"expected {code}, the call succeeded")


def run_tests(url, repository):
    import tritonclient.grpc as grpcclient
    from tritonclient.grpc import service_pb2, service_pb2_grpc
    import grpc

    client = grpcclient.InferenceServerClient(url)
    reference = Reference(repository)
    rng = np.random.default_rng(7)
    tests = []

    def test(function):
        tests.append(function)
        return function

    @test
    def health():
        assert client.is_server_live()
        assert client.is_server_ready()
        assert client.is_model_ready(MODEL)
        assert client.is_model_ready(MODEL, "1")
        assert not client.is_model_ready("no_such_model")

    @test
    def server_metadata():
        metadata = client.get_server_metadata(as_json=True)
        assert metadata["name"] == "kiln", metadata
        assert metadata.get("version"), metadata

    @test
    def model_metadata():
        metadata = client.get_model_metadata(MODEL, as_json=True)
        assert metadata["name"] == MODEL
        assert metadata["versions"] == ["1"], metadata
        inputs = {t["name"]: t for t in metadata["inputs"]}
        outputs = {t["name"]: t for t in metadata["outputs"]}
        assert inputs["x"]["datatype"] == "FP32" and inputs["x"]["shape"] == ["-1", str(FEATURES)], inputs
        assert outputs["score"]["datatype"] == "FP32" and outputs["score"]["shape"] == ["-1", str(CLASSES)], outputs
        assert set(outputs) == {"hidden", "score"}
        expect_error("NOT_FOUND", client.get_model_metadata, "no_such_model")

    @test
    def model_config():
        config = client.get_model_config(MODEL, as_json=True)["config"]
        assert config["name"] == MODEL and int(config["max_batch_size"]) == MAX_BATCH, config
        inputs = {t["name"]: t for t in config["input"]}
        assert inputs["x"]["data_type"] == "TYPE_FP32" and inputs["x"]["dims"] == [str(FEATURES)], inputs
        expect_error("NOT_FOUND", client.get_model_config, "no_such_model")

    @test
    def infer_matches_onnxruntime():
        for batch in (1, 3, MAX_BATCH):
            x = rng.standard_normal((batch, FEATURES)).astype(np.float32)
            result = client.infer(MODEL, [make_input(grpcclient, x)], request_id=f"req-{batch}")
            expected = reference(x)
            assert result.get_response().id == f"req-{batch}"
            assert result.get_response().model_name == MODEL
            for name in ("hidden", "score"):
                assert_close(result.as_numpy(name), expected[name], f"batch {batch} output {name}")

    @test
    def requested_outputs_only():
        x = rng.standard_normal((2, FEATURES)).astype(np.float32)
        result = client.infer(MODEL, [make_input(grpcclient, x)], outputs=[grpcclient.InferRequestedOutput("score")],
                              priority=1, timeout=5_000_000)
        assert [o.name for o in result.get_response().outputs] == ["score"]
        assert result.as_numpy("hidden") is None
        assert_close(result.as_numpy("score"), reference(x)["score"], "requested output score")

    @test
    def typed_contents_request():
        # tritonclient always sends raw bytes; the typed `contents` path is driven by hand.
        x = rng.standard_normal((2, FEATURES)).astype(np.float32)
        request = service_pb2.ModelInferRequest(model_name=MODEL, id="typed")
        tensor = request.inputs.add(name="x", datatype="FP32", shape=list(x.shape))
        tensor.contents.fp32_contents.extend(x.ravel().tolist())
        with grpc.insecure_channel(url) as channel:
            response = service_pb2_grpc.GRPCInferenceServiceStub(channel).ModelInfer(request, timeout=30)
        assert response.id == "typed"
        outputs = {o.name: i for i, o in enumerate(response.outputs)}
        assert len(response.raw_output_contents) == len(response.outputs) == 2
        score = np.frombuffer(response.raw_output_contents[outputs["score"]], dtype=np.float32)
        assert_close(score.reshape(2, CLASSES), reference(x)["score"], "typed contents output score")

    @test
    def errors():
        x = rng.standard_normal((1, FEATURES)).astype(np.float32)
        expect_error("NOT_FOUND", client.infer, "no_such_model", [make_input(grpcclient, x)])
        wrong_shape = rng.standard_normal((1, FEATURES + 1)).astype(np.float32)
        message = expect_error("INVALID_ARGUMENT", client.infer, MODEL, [make_input(grpcclient, wrong_shape)])
        assert "x" in message, message
        wrong_type = grpcclient.InferInput("x", [1, FEATURES], "INT32")
        wrong_type.set_data_from_numpy(np.ones((1, FEATURES), dtype=np.int32))
        expect_error("INVALID_ARGUMENT", client.infer, MODEL, [wrong_type])
        unknown = grpcclient.InferInput("not_an_input", [1, FEATURES], "FP32")
        unknown.set_data_from_numpy(x)
        message = expect_error("INVALID_ARGUMENT", client.infer, MODEL, [make_input(grpcclient, x), unknown])
        assert "not_an_input" in message, message
        expect_error("INVALID_ARGUMENT", client.infer, MODEL, [make_input(grpcclient, x)],
                     outputs=[grpcclient.InferRequestedOutput("not_an_output")])
        expect_error("UNIMPLEMENTED", client.infer, MODEL, [make_input(grpcclient, x)], sequence_id=3)
        # Raw bytes that do not fill the declared shape.
        request = service_pb2.ModelInferRequest(model_name=MODEL)
        request.inputs.add(name="x", datatype="FP32", shape=[1, FEATURES])
        request.raw_input_contents.append(b"\0" * 10)
        with grpc.insecure_channel(url) as channel:
            try:
                service_pb2_grpc.GRPCInferenceServiceStub(channel).ModelInfer(request, timeout=30)
                raise AssertionError("short raw contents were accepted")
            except grpc.RpcError as error:
                assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error

    @test
    def concurrent_async_infer():
        count = 48
        inputs = [rng.standard_normal((1 + i % 3, FEATURES)).astype(np.float32) for i in range(count)]
        done = threading.Semaphore(0)
        results = [None] * count

        def callback(index, result, error):
            results[index] = (result, error)
            done.release()

        for index, x in enumerate(inputs):
            client.async_infer(MODEL, [make_input(grpcclient, x)],
                               lambda result, error, index=index: callback(index, result, error),
                               request_id=str(index))
        for _ in range(count):
            assert done.acquire(timeout=60), "an async request never completed"
        for index, (result, error) in enumerate(results):
            assert error is None, f"request {index}: {error}"
            assert result.get_response().id == str(index)
            assert_close(result.as_numpy("score"), reference(inputs[index])["score"], f"async request {index}")

    @test
    def concurrent_clients():
        # Several channels at once, as separate client processes would be.
        def one_client(seed):
            own = grpcclient.InferenceServerClient(url)
            local = np.random.default_rng(seed)
            for _ in range(4):
                x = local.standard_normal((2, FEATURES)).astype(np.float32)
                assert_close(own.infer(MODEL, [make_input(grpcclient, x)]).as_numpy("hidden"),
                             reference(x)["hidden"], f"client {seed}")
            own.close()
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            for future in [pool.submit(one_client, seed) for seed in range(8)]:
                future.result(timeout=60)

    @test
    def abandoned_requests_leave_the_server_serving():
        # Clients that give up (deadline) or vanish (channel closed) mid-request.
        x = rng.standard_normal((MAX_BATCH, FEATURES)).astype(np.float32)
        for _ in range(8):
            try:
                client.infer(MODEL, [make_input(grpcclient, x)], client_timeout=0.0001)
            except Exception:
                pass
        leaving = grpcclient.InferenceServerClient(url)
        for _ in range(8):
            leaving.async_infer(MODEL, [make_input(grpcclient, x)], lambda result, error: None)
        leaving.close()
        time.sleep(0.2)
        assert client.is_server_live()
        assert_close(client.infer(MODEL, [make_input(grpcclient, x)]).as_numpy("score"), reference(x)["score"],
                     "after abandoned requests")

    @test
    def oversized_message_refused():
        request = service_pb2.ModelInferRequest(model_name=MODEL)
        request.inputs.add(name="x", datatype="FP32", shape=[1, FEATURES])
        request.raw_input_contents.append(b"\0" * (2 * MAX_MESSAGE_BYTES))
        with grpc.insecure_channel(url) as channel:
            try:
                service_pb2_grpc.GRPCInferenceServiceStub(channel).ModelInfer(request, timeout=30)
                raise AssertionError("a message over the server's limit was accepted")
            except grpc.RpcError as error:
                assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, error
        assert client.is_server_live()

    @test
    def system_shared_memory():
        import shared_memory_cases
        failures = []

        def check(condition, what):
            print(("  ok   " if condition else "  FAIL ") + what)
            if not condition:
                failures.append(what)

        shared_memory_cases.run(grpcclient, client, lambda: grpcclient.InferenceServerClient(url), MODEL, "x", FEATURES,
                                {"hidden": HIDDEN, "score": CLASSES}, reference, check)
        assert not failures, failures
        message = expect_error("UNIMPLEMENTED", client.get_cuda_shared_memory_status)
        assert "cuda_shared_memory" in message, message

    @test
    def statistics():
        stats = client.get_inference_statistics(MODEL, as_json=True)["model_stats"]
        assert len(stats) == 1 and stats[0]["name"] == MODEL, stats
        model = stats[0]
        assert int(model["inference_count"]) > 0 and int(model["execution_count"]) > 0, model
        assert int(model["inference_stats"]["success"]["count"]) > 0, model
        assert int(model["last_inference"]) > 0, model
        everything = client.get_inference_statistics(as_json=True)["model_stats"]
        assert MODEL in [m["name"] for m in everything]
        expect_error("NOT_FOUND", client.get_inference_statistics, "no_such_model")

    passed = failed = 0
    for function in tests:
        start = time.monotonic()
        try:
            function()
            passed += 1
            print(f"PASS {function.__name__} ({time.monotonic() - start:.2f} s)")
        except Exception:
            failed += 1
            print(f"FAIL {function.__name__}")
            traceback.print_exc()
    client.close()
    print(f"{passed} passed, {failed} failed")
    return failed == 0


def wait_ready(url, pid, seconds):
    import tritonclient.grpc as grpcclient
    client = grpcclient.InferenceServerClient(url)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except OSError:
            print(f"the server (pid {pid}) exited before it was ready", file=sys.stderr)
            return False
        try:
            if client.is_server_ready(client_timeout=1):
                return True
        except Exception:
            pass
        time.sleep(0.1)
    print(f"the server was not ready on {url} after {seconds} s", file=sys.stderr)
    return False


def main(argv):
    if len(argv) == 3 and argv[1] == "make-repository":
        make_repository(argv[2])
        return 0
    if len(argv) == 3 and argv[1] == "wire":
        check_wire(argv[2])
        return 0
    if len(argv) == 5 and argv[1] == "wait":
        return 0 if wait_ready(argv[2], int(argv[3]), float(argv[4])) else 1
    if len(argv) == 4 and argv[1] == "run":
        return 0 if run_tests(argv[2], argv[3]) else 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
