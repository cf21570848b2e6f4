"""The system shared memory extension, as tritonclient drives it over HTTP or gRPC.

run(...) registers POSIX shared memory regions made by
tritonclient.utils.shared_memory, runs inferences whose inputs and outputs live
in them (results compared with a reference), and checks every refusal: an
unknown region, a range past the region's end, a byte size that does not match
the tensor, a key that does not exist, a name registered twice, the CUDA
extension; it unregisters a region while requests use it. The server must
answer every later request after each.
"""
import os
import threading
import time

import numpy as np
import tritonclient.utils.shared_memory as shm
from tritonclient.utils import InferenceServerException


def region_names(client):
    status = client.get_system_shared_memory_status()
    if isinstance(status, list):  # HTTP: [{"name", "key", "offset", "byte_size"}]
        return {r["name"]: r for r in status}
    return {name: {"name": r.name, "key": r.key, "offset": r.offset, "byte_size": r.byte_size}
            for name, r in status.regions.items()}


def error_of(function, *args, **kwargs):
    """The message of the InferenceServerException `function` raises, or None when it succeeds."""
    try:
        function(*args, **kwargs)
    except InferenceServerException as error:
        return error.message() or str(error)
    return None


def run(protocol, client, url_client, model, input_name, features, outputs, reference, check):
    """protocol: tritonclient.http or tritonclient.grpc; client: a connected client of it;
    url_client(): a new client (for threads); outputs: {name: columns};
    reference(x) -> {name: array}; check(condition, what) records a result."""
    tag = f"{protocol.__name__.split('.')[-1]} shared memory"
    prefix = f"kiln_test_{os.getpid()}_{tag.split()[0]}"
    rng = np.random.default_rng(11)
    batch = 3
    x = rng.standard_normal((batch, features)).astype(np.float32)
    expected = reference(x)
    input_bytes = x.nbytes
    # The input region holds a 64-byte pad first, so that offsets are exercised.
    pad = 64
    output_bytes = {name: batch * columns * 4 for name, columns in outputs.items()}
    output_total = sum(output_bytes.values())

    client.unregister_system_shared_memory()
    extensions = client.get_server_metadata(**({} if protocol.__name__.endswith("http") else {"as_json": True}))
    check("system_shared_memory" in extensions["extensions"], f"{tag}: metadata lists system_shared_memory")
    check(region_names(client) == {}, f"{tag}: no regions at the start")

    handles = []
    try:
        in_handle = shm.create_shared_memory_region(f"{prefix}_in", f"/{prefix}_in", pad + input_bytes)
        handles.append(in_handle)
        out_handle = shm.create_shared_memory_region(f"{prefix}_out", f"/{prefix}_out", output_total)
        handles.append(out_handle)
        shm.set_shared_memory_region(in_handle, [x], offset=pad)
        client.register_system_shared_memory(f"{prefix}_in", f"/{prefix}_in", pad + input_bytes)
        client.register_system_shared_memory(f"{prefix}_out", f"/{prefix}_out", output_total)
        regions = region_names(client)
        check(set(regions) == {f"{prefix}_in", f"{prefix}_out"}, f"{tag}: status lists both regions: {list(regions)}")
        only = region_names_of_one(client, f"{prefix}_in")
        check(only.get("key") == f"/{prefix}_in" and int(only.get("byte_size", 0)) == pad + input_bytes,
              f"{tag}: status of one region gives its key and size: {only}")

        def shm_input(offset=pad, byte_size=input_bytes, region=f"{prefix}_in", shape=(batch, features)):
            tensor = protocol.InferInput(input_name, list(shape), "FP32")
            tensor.set_shared_memory(region, byte_size, offset)
            return tensor

        def shm_outputs():
            requested, offset = [], 0
            for name in outputs:
                output = protocol.InferRequestedOutput(name)
                output.set_shared_memory(f"{prefix}_out", output_bytes[name], offset)
                requested.append(output)
                offset += output_bytes[name]
            return requested

        # Inputs and outputs in shared memory.
        client.infer(model, [shm_input()], outputs=shm_outputs())
        offset = 0
        for name, columns in outputs.items():
            got = shm.get_contents_as_numpy(out_handle, np.float32, [batch, columns], offset=offset)
            offset += output_bytes[name]
            check(np.allclose(got, expected[name], rtol=1e-5, atol=1e-5),
                  f"{tag}: output '{name}' written into the region matches the reference")

        # Input in shared memory, outputs in the response.
        result = client.infer(model, [shm_input()])
        for name in outputs:
            check(np.allclose(result.as_numpy(name), expected[name], rtol=1e-5, atol=1e-5),
                  f"{tag}: input from the region, output '{name}' in the response matches")

        # Input in the request, one output in shared memory and the other in the response.
        first, second = list(outputs)
        direct = protocol.InferInput(input_name, [batch, features], "FP32")
        direct.set_data_from_numpy(x)
        mixed = protocol.InferRequestedOutput(first)
        mixed.set_shared_memory(f"{prefix}_out", output_bytes[first], 0)
        result = client.infer(model, [direct], outputs=[mixed, protocol.InferRequestedOutput(second)])
        check(np.allclose(result.as_numpy(second), expected[second], rtol=1e-5, atol=1e-5),
              f"{tag}: output '{second}' in the response beside '{first}' in the region")

        # Refusals; the server answers the next request after each.
        def refused(what, fragments, function, *args, **kwargs):
            message = error_of(function, *args, **kwargs)
            check(message is not None and all(f in message for f in fragments),
                  f"{tag}: {what} is refused naming {fragments}: {message!r}")
            check(client.is_server_live(), f"{tag}: server live after {what}")

        refused("an unknown region", ["no_such_region", input_name],
                client.infer, model, [shm_input(region="no_such_region")])
        refused("offset + size past the region's end", [f"{prefix}_in", "past the end"],
                client.infer, model, [shm_input(offset=pad + 8)])
        refused("a byte size that does not match the tensor", [input_name, str(input_bytes - 4)],
                client.infer, model, [shm_input(byte_size=input_bytes - 4)])
        small = protocol.InferRequestedOutput(first)
        small.set_shared_memory(f"{prefix}_out", 4, 0)
        refused("an output region too small", [first, f"{prefix}_out"], client.infer, model, [shm_input()],
                outputs=[small])
        refused("registering a key that does not exist", [f"/{prefix}_missing"],
                client.register_system_shared_memory, f"{prefix}_missing", f"/{prefix}_missing", 64)
        refused("registering a name twice", [f"{prefix}_in", "already registered"],
                client.register_system_shared_memory, f"{prefix}_in", f"/{prefix}_in", input_bytes)
        refused("registering past the object's end", [f"{prefix}_out", str(output_total)],
                client.register_system_shared_memory, f"{prefix}_big", f"/{prefix}_out", output_total + 1)
        refused("the status of an unknown region", ["no_such_region"],
                client.get_system_shared_memory_status, "no_such_region")
        refused("the CUDA shared memory extension", ["cuda_shared_memory"], client.get_cuda_shared_memory_status)
        check(set(region_names(client)) == {f"{prefix}_in", f"{prefix}_out"},
              f"{tag}: the failed registrations left the regions as they were")

        # Unregister while requests use the region: they succeed or fail cleanly.
        stop = threading.Event()
        outcomes = {"ok": 0, "refused": 0, "other": []}

        def hammer():
            own = url_client()
            while not stop.is_set():
                try:
                    result = own.infer(model, [shm_input()])
                    if np.allclose(result.as_numpy(first), expected[first], rtol=1e-5, atol=1e-5):
                        outcomes["ok"] += 1
                    else:
                        outcomes["other"].append("wrong result")
                except InferenceServerException as error:
                    if "is not registered" in (error.message() or ""):
                        outcomes["refused"] += 1
                    else:
                        outcomes["other"].append(error.message())
            own.close()

        threads = [threading.Thread(target=hammer) for _ in range(4)]
        for t in threads:
            t.start()
        cycles, started = 0, time.monotonic()
        while cycles < 20 or time.monotonic() - started < 0.5:
            client.unregister_system_shared_memory(f"{prefix}_in")
            client.register_system_shared_memory(f"{prefix}_in", f"/{prefix}_in", pad + input_bytes)
            cycles += 1
        stop.set()
        for t in threads:
            t.join(60)
        check(outcomes["ok"] > 0 and not outcomes["other"],
              f"{tag}: requests during unregister/register succeed or are refused cleanly: "
              f"{outcomes['ok']} ok, {outcomes['refused']} refused, other {outcomes['other'][:3]}")
        check(client.is_server_live(), f"{tag}: server live after unregistering regions in use")

        client.unregister_system_shared_memory(f"{prefix}_in")
        check(set(region_names(client)) == {f"{prefix}_out"}, f"{tag}: unregistering one region leaves the other")
        client.unregister_system_shared_memory()
        check(region_names(client) == {}, f"{tag}: unregistering all leaves none")
        result = client.infer(model, [direct])
        check(np.allclose(result.as_numpy(second), expected[second], rtol=1e-5, atol=1e-5),
              f"{tag}: ordinary inference after unregistering")
    finally:
        try:
            client.unregister_system_shared_memory()
        except InferenceServerException:
            pass
        for handle in handles:
            shm.destroy_shared_memory_region(handle)


def region_names_of_one(client, name):
    status = client.get_system_shared_memory_status(name)
    if isinstance(status, list):
        return status[0] if status else {}
    region = status.regions.get(name)
    return {"key": region.key, "byte_size": region.byte_size} if region else {}
