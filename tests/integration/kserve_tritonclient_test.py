#!/usr/bin/env python3
"""KServe v2 over http:// with the real client: Triton's tritonclient.http against a real `edgeserve serve`.

Usage: kserve_tritonclient_test.py EDGESERVE_BINARY TEST_MODELS_DIR
Exits 77 (ctest: skipped) when tritonclient is not importable: scripts/setup.sh makes build/venv with it.
Outputs are compared with TorchScript run in this process on the same model file (torch from Debian's python3).
"""
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback

try:
    import numpy as np
    import torch
    import tritonclient.http as httpclient
    from tritonclient.http import _utils as http_utils
    from tritonclient.utils import InferenceServerException
except ImportError as e:  # the venv is made by scripts/setup.sh
    print(f"SKIP: {e} (run scripts/setup.sh: it makes build/venv with tritonclient[http])")
    sys.exit(77)

BINARY, MODELS = sys.argv[1], sys.argv[2]
MAX_PAYLOAD_MB = 1
# As the C++ tests: EDGESERVE_TEST_DEVICE=cuda:0 runs the server's model on a GPU, whose kernels agree with the
# CPU reference to float precision (TF32 convolutions), not to the bit.
DEVICE = os.environ.get("EDGESERVE_TEST_DEVICE") or "cpu"
TOLERANCE = {"rtol": 1e-4, "atol": 1e-5} if DEVICE == "cpu" else {"rtol": 1e-2, "atol": 1e-3}


def start(args, workdir, name):
    """Runs `edgeserve ARGS --ready-file F` until it has written its bound endpoints to F."""
    ready = os.path.join(workdir, name + ".ready")
    log = open(os.path.join(workdir, name + ".log"), "w")
    proc = subprocess.Popen([BINARY] + args + ["--ready-file", ready], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 120
    while not os.path.exists(ready):
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            raise SystemExit(f"edgeserve {args[0]} did not start:\n" + open(log.name).read()[-3000:])
        time.sleep(0.05)
    return proc, open(ready).read().split(), log.name


def start_server(workdir):
    proc, endpoints, log = start(
        ["serve", "--repo", MODELS, "--models", "tiny,mobilenetv3", "--listen", "http://127.0.0.1:0", "--listen",
         "tcp://127.0.0.1:0", "--device", DEVICE, "--workers", "2", "--intra-op-threads", "1", "--max-payload-mb",
         str(MAX_PAYLOAD_MB)], workdir, "serve")
    assert endpoints[0].startswith("http://") and endpoints[1].startswith("tcp://"), endpoints
    return proc, endpoints[0][len("http://"):], endpoints[1], log


def reference(x):
    manifest = json.load(open(os.path.join(MODELS, "manifest.json")))
    spec = next(m for m in manifest["models"] if m["name"] == "tiny")
    model = torch.jit.load(os.path.join(MODELS, spec["file"]), map_location="cpu").eval()
    with torch.no_grad():
        out = model(torch.from_numpy(x))
    return (out[0] if isinstance(out, (tuple, list)) else out).numpy()


def tiny_input(seed):
    return np.random.default_rng(seed).standard_normal((1, 3, 32, 32)).astype(np.float32)


def infer(client, x, binary_in=True, binary_out=True, model="tiny", name="input", datatype="FP32", outputs=("logits",)):
    inp = httpclient.InferInput(name, list(x.shape), datatype)
    inp.set_data_from_numpy(x, binary_data=binary_in)
    outs = [httpclient.InferRequestedOutput(o, binary_data=binary_out) for o in outputs]
    return client.infer(model, [inp], outputs=outs, request_id="42")


def expect_error(what, status, call):
    try:
        call()
    except InferenceServerException as e:
        assert e.status() == str(status), f"{what}: HTTP {e.status()}, expected {status}: {e.message()}"
        assert e.message(), f"{what}: the error says nothing"
        print(f"ok  {what}: HTTP {e.status()} {e.message()[:100]}")
        return e
    raise AssertionError(f"{what}: no error")


def model_stats(client):
    stats = client.get_inference_statistics("tiny")["model_stats"]
    assert len(stats) == 1 and stats[0]["name"] == "tiny", stats
    return stats[0]


def check(client):
    before = model_stats(client)  # what earlier checks sent
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("tiny") and not client.is_model_ready("no-such-model")
    server = client.get_server_metadata()
    assert server["name"] == "edgeserve" and "binary_tensor_data" in server["extensions"], server
    meta = client.get_model_metadata("tiny")
    assert meta["name"] == "tiny" and meta["versions"] == ["1"], meta
    assert meta["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [1, 3, 32, 32]}], meta
    assert meta["outputs"] == [{"name": "logits", "datatype": "FP32", "shape": [1, 10]}], meta
    assert client.get_model_metadata("tiny", model_version="1")["name"] == "tiny"
    config = client.get_model_config("tiny")
    assert config["name"] == "tiny" and config["max_batch_size"] == 0, config
    assert config["input"][0]["data_type"] == "TYPE_FP32" and config["input"][0]["dims"] == [1, 3, 32, 32], config
    assert config["output"][0]["name"] == "logits", config
    print("ok  health, server and model metadata, model config")

    for binary_in, binary_out in [(True, True), (False, False), (True, False), (False, True)]:
        x = tiny_input(int(binary_in) * 2 + int(binary_out))
        result = infer(client, x, binary_in, binary_out)
        got = result.as_numpy("logits")
        assert got.shape == (1, 10) and got.dtype == np.float32, (got.shape, got.dtype)
        np.testing.assert_allclose(got, reference(x), **TOLERANCE)
        response = result.get_response()
        assert response["id"] == "42" and response["model_name"] == "tiny", response
        params = response["parameters"]
        assert params["edgeserve_inference_ns"] > 0 and params["edgeserve_server_ns"] >= params["edgeserve_inference_ns"]
        print(f"ok  infer, binary input {binary_in}, binary output {binary_out}: matches TorchScript")
    # No outputs named: the model's default outputs, in the client's default form (JSON).
    x = tiny_input(9)
    inp = httpclient.InferInput("input", [1, 3, 32, 32], "FP32")
    inp.set_data_from_numpy(x)
    np.testing.assert_allclose(client.infer("tiny", [inp]).as_numpy("logits"), reference(x), **TOLERANCE)
    print("ok  infer without outputs named")
    for algorithm in ("gzip", "deflate"):
        result = client.infer("tiny", [json_input(x)], request_compression_algorithm=algorithm)
        np.testing.assert_allclose(result.as_numpy("logits"), reference(x), **TOLERANCE)
    print("ok  infer with a gzip and a deflate request body")

    good = tiny_input(5)
    bad_cases = [
        ("unknown model", 404, lambda: infer(client, good, model="no-such-model")),
        ("unknown version", 404, lambda: client.get_model_metadata("tiny", model_version="7")),
        ("unknown input name", 400, lambda: infer(client, good, name="nope")),
        ("unknown output name", 400, lambda: infer(client, good, outputs=("nope",))),
        ("wrong shape", 400, lambda: infer(client, tiny_input(1)[:, :, :16, :16].copy())),
        ("wrong dtype (FP16 for an FP32 model)", 400, lambda: infer(client, good.astype(np.float16), datatype="FP16")),
        ("a datatype edgeserve has no counterpart for (INT64)", 400,
         lambda: infer(client, good.astype(np.int64), datatype="INT64")),
        ("JSON data with fewer values than the shape", 400, lambda: short_json(client, good)),
        ("binary_data_size smaller than the shape says", 400, lambda: short_binary(client, good, honest_size=True)),
        ("binary_data_size larger than the bytes sent", 400, lambda: short_binary(client, good, honest_size=False)),
        ("malformed JSON", 400, lambda: raw_post(client, b"{\"inputs\": [", {})),
        ("Inference-Header-Content-Length past the body", 400,
         lambda: raw_post(client, b"{}", {"Inference-Header-Content-Length": "999"})),
        ("a tensor over --max-payload-mb", 400,
         lambda: infer(client, np.zeros((1, 3, 320, 320), np.float32))),
        ("a body over the server's limit", 400, lambda: infer(client, np.zeros((1, 3, 600, 600), np.float32))),
        ("a gzip body that inflates past the server's limit", 400,
         lambda: client.infer("tiny", [json_input(np.zeros((1, 3, 600, 600), np.float32))],
                              request_compression_algorithm="gzip")),
    ]
    for what, status, call in bad_cases:
        expect_error(what, status, call)
        # The server goes on serving, the same client on the same connection pool.
        np.testing.assert_allclose(infer(client, good).as_numpy("logits"), reference(good), **TOLERANCE)
    print("ok  a good request after each bad one")

    # Triton's statistics (perf_analyzer reads them): every request that reached the model, by outcome.
    good_requests = 4 + 1 + 2 + len(bad_cases)
    s = model_stats(client)
    assert s["inference_count"] - before["inference_count"] == good_requests, (s["inference_count"], good_requests)
    success = s["inference_stats"]["success"]["count"] - before["inference_stats"]["success"]["count"]
    assert success == good_requests, s
    fail = s["inference_stats"]["fail"]["count"] - before["inference_stats"]["fail"]["count"]
    assert fail == 2, s  # the wrong shape and the wrong dtype reached the model
    for stage in ("success", "compute_infer"):
        assert s["inference_stats"][stage]["ns"] > 0, s
    assert s["inference_stats"]["success"]["ns"] >= s["inference_stats"]["compute_infer"]["ns"], s
    names = [m["name"] for m in client.get_inference_statistics()["model_stats"]]
    assert sorted(names) == ["mobilenetv3", "tiny"], names
    print("ok  inference statistics count every request by outcome")


def check_gateway(client):
    """A gateway's http:// front: infer goes through to the server; the gateway knows no model metadata."""
    for binary in (True, False):
        x = tiny_input(20 + int(binary))
        np.testing.assert_allclose(infer(client, x, binary, binary).as_numpy("logits"), reference(x), **TOLERANCE)
    expect_error("model metadata from a gateway", 404, lambda: client.get_model_metadata("tiny"))
    expect_error("an unknown model through a gateway", 404, lambda: infer(client, tiny_input(1), model="nope"))
    print("ok  infer through a gateway's http:// front, binary and JSON")


def json_input(x):
    inp = httpclient.InferInput("input", list(x.shape), "FP32")
    inp.set_data_from_numpy(x, binary_data=False)
    return inp


def short_json(client, x):
    inp = httpclient.InferInput("input", [1, 3, 32, 32], "FP32")
    inp.set_data_from_numpy(x, binary_data=False)
    inp._data = inp._data[:100]  # the client checks shapes itself: tamper after it did
    return client.infer("tiny", [inp])


def short_binary(client, x, honest_size):
    inp = httpclient.InferInput("input", [1, 3, 32, 32], "FP32")
    inp.set_data_from_numpy(x, binary_data=True)
    inp._raw_data = inp._raw_data[:100]
    if honest_size:
        inp._parameters["binary_data_size"] = 100
    return client.infer("tiny", [inp])


def raw_post(client, body, headers):
    response = client._post("v2/models/tiny/infer", body, headers, None)
    http_utils._raise_if_error(response)
    return response


def client_id_of(client):
    return infer(client, tiny_input(7)).get_response()["parameters"]["edgeserve_client_id"]


def check_connections_are_clients(address):
    """A client that sends no edgeserve_client_id is numbered by its connection (smallest number free), so plain
    KServe clients are spread one per worker as edgeserve's own clients are: all of perf_analyzer's on one worker
    held 16 connections to one lane's throughput (H200, 2026-11-30)."""
    with httpclient.InferenceServerClient(url=address) as a, httpclient.InferenceServerClient(url=address) as b:
        first, second = client_id_of(a), client_id_of(b)
        assert {first, second} == {0, 1}, (first, second)
        assert client_id_of(a) == first and client_id_of(b) == second, "a connection keeps its number"
    deadline = time.time() + 10  # the server sees the connections close
    while True:
        with httpclient.InferenceServerClient(url=address) as c:
            if client_id_of(c) == 0:
                break
        assert time.time() < deadline, "a closed connection's number was not given back"
        time.sleep(0.05)
    print("ok  plain KServe clients: one client id per open connection (0, 1), given back on close")


def system_regions(client, x, out_bytes, prefix):
    """POSIX shared memory "in" holding `x` and "out" of `out_bytes` + 64, made with tritonclient's helpers and
    registered with `client` (http or grpc). Returns (shm module, in_key, out_key, in_handle, out_handle); the
    caller destroys both handles."""
    import tritonclient.utils.shared_memory as shm

    suffix = str(os.getpid())
    in_key, out_key = prefix + "_in_" + suffix, prefix + "_out_" + suffix
    in_handle = shm.create_shared_memory_region("in", in_key, x.nbytes)
    out_handle = shm.create_shared_memory_region("out", out_key, out_bytes + 64)
    try:
        shm.set_shared_memory_region(in_handle, [x])
        client.register_system_shared_memory("in", in_key, x.nbytes)
        client.register_system_shared_memory("out", out_key, out_bytes + 64)
    except BaseException:
        shm.destroy_shared_memory_region(in_handle)
        shm.destroy_shared_memory_region(out_handle)
        raise
    return shm, in_key, out_key, in_handle, out_handle


def check_system_shared_memory(client):
    """KServe's system shared memory extension through tritonclient's own helpers: the input is read from a POSIX
    shared memory region, the output written into another; neither crosses the HTTP connection."""
    x = tiny_input(11)
    in_bytes, out_bytes = x.nbytes, 10 * 4
    shm, in_key, out_key, in_handle, out_handle = system_regions(client, x, out_bytes, "/edgeserve_test")
    try:
        status = client.get_system_shared_memory_status()
        assert sorted((r["name"], r["key"], int(r["byte_size"])) for r in status) == [
            ("in", in_key, in_bytes), ("out", out_key, out_bytes + 64)], status

        def request(in_region="in", in_size=in_bytes, in_offset=0, out_region="out", out_size=out_bytes + 64):
            inp = httpclient.InferInput("input", list(x.shape), "FP32")
            inp.set_shared_memory(in_region, in_size, offset=in_offset)
            out = httpclient.InferRequestedOutput("logits", binary_data=True)
            out.set_shared_memory(out_region, out_size)
            return client.infer("tiny", [inp], outputs=[out])

        result = request()
        meta = result.get_output("logits")
        # Neither data nor parameters, as Triton answers: Triton's C++ client (perf_analyzer) fails a reply whose
        # output has "parameters" without "binary_data_size".
        assert "data" not in meta and "parameters" not in meta, meta
        assert meta["shape"] == [1, 10] and meta["datatype"] == "FP32", meta
        got = shm.get_contents_as_numpy(out_handle, np.float32, [1, 10])
        np.testing.assert_allclose(got, reference(x), **TOLERANCE)
        print("ok  system shared memory: input read from a region, output written into one, matches TorchScript")

        expect_error("an unregistered input region", 400, lambda: request(in_region="nope"))
        expect_error("an input range past its region's end", 400, lambda: request(in_offset=8))
        expect_error("an output region smaller than the output", 400, lambda: request(out_size=8))
        expect_error("a key no shared memory object has", 400,
                     lambda: client.register_system_shared_memory("x", "/edgeserve_no_such_key", 16))
        expect_error("a region name registered twice", 400,
                     lambda: client.register_system_shared_memory("in", in_key, in_bytes))
        expect_error("a range past the object's end at register", 400,
                     lambda: client.register_system_shared_memory("big", in_key, in_bytes * 2))
        expect_error("unregistering a name not registered", 400,
                     lambda: client.unregister_system_shared_memory("nope"))
        result = request()  # still served after each bad one
        np.testing.assert_allclose(shm.get_contents_as_numpy(out_handle, np.float32, [1, 10]), reference(x),
                                   **TOLERANCE)
        client.unregister_system_shared_memory("in")
        assert [r["name"] for r in client.get_system_shared_memory_status()] == ["out"]
        client.unregister_system_shared_memory()
        assert client.get_system_shared_memory_status() == []
        print("ok  system shared memory: status, unregister one and all")
    finally:
        shm.destroy_shared_memory_region(in_handle)
        shm.destroy_shared_memory_region(out_handle)


def check_cuda_shared_memory(client):
    """KServe's CUDA shared memory extension: with a GPU, the input is read from this process's cudaMalloc'd memory
    and the output written into another allocation, through their IPC handles; without one, each registration is
    refused, saying why."""
    import cuda_ipc

    supported = "cuda_shared_memory" in client.get_server_metadata()["extensions"]
    expect_error("a CUDA raw_handle that is not 64 bytes", 400,
                 lambda: client.register_cuda_shared_memory("c", cuda_ipc.b64(b"\0" * 8), 0, 64))
    expect_error("a CUDA handle nothing allocated", 400,
                 lambda: client.register_cuda_shared_memory("c", cuda_ipc.b64(b"\0" * 64), 0, 64))
    expect_error("a device_id past the server's GPUs", 400,
                 lambda: client.register_cuda_shared_memory("c", cuda_ipc.b64(b"\0" * 64), 4096, 64))
    expect_error("unregistering a CUDA region not registered", 400, lambda: client.unregister_cuda_shared_memory("c"))
    assert client.get_cuda_shared_memory_status() == []
    if not (supported and cuda_ipc.available()):
        print(f"ok  CUDA shared memory refused without a GPU (extension listed: {supported})")
        return
    x = tiny_input(12)
    out_bytes = 10 * 4
    cuda_in, cuda_out = cuda_ipc.registered_pair(client, x, out_bytes)
    try:
        status = client.get_cuda_shared_memory_status()
        assert sorted((r["name"], int(r["device_id"]), int(r["byte_size"])) for r in status) == [
            ("cin", 0, x.nbytes), ("cout", 0, out_bytes)], status
        expect_error("a CUDA region name registered twice", 400,
                     lambda: client.register_cuda_shared_memory("cin", cuda_in.b64_handle, 0, x.nbytes))
        inp = httpclient.InferInput("input", list(x.shape), "FP32")
        inp.set_shared_memory("cin", x.nbytes)
        out = httpclient.InferRequestedOutput("logits", binary_data=True)
        out.set_shared_memory("cout", out_bytes)
        result = client.infer("tiny", [inp], outputs=[out])
        assert "parameters" not in result.get_output("logits"), result.get_output("logits")
        got = np.frombuffer(cuda_out.read(out_bytes), dtype=np.float32).reshape(1, 10)
        np.testing.assert_allclose(got, reference(x), **TOLERANCE)
        client.unregister_cuda_shared_memory()
        assert client.get_cuda_shared_memory_status() == []
        print("ok  CUDA shared memory: input read from GPU memory, output written into GPU memory, matches TorchScript")
    finally:
        cuda_in.free()
        cuda_out.free()


def main():
    with tempfile.TemporaryDirectory() as workdir:
        proc, address, tcp_endpoint, log = start_server(workdir)
        gateway = None
        try:
            gateway, gateway_endpoints, gateway_log = start(
                ["gateway", "--listen", "http://127.0.0.1:0", "--backend", tcp_endpoint], workdir, "gateway")
            with httpclient.InferenceServerClient(url=gateway_endpoints[0][len("http://"):]) as client:
                check_gateway(client)
            check_connections_are_clients(address)
            with httpclient.InferenceServerClient(url=address, network_timeout=60) as client:
                check(client)
                check_system_shared_memory(client)
                check_cuda_shared_memory(client)
                assert proc.poll() is None, "the server exited"
                # SIGTERM while the client's keep-alive connections sit idle: the server ends them, it does not
                # wait out their keep-alive timeout (minutes).
                started = time.time()
                proc.terminate()
                code = proc.wait(timeout=10)
                assert code == 0, f"serve exited {code} on SIGTERM"
                print(f"ok  SIGTERM with idle keep-alive connections: exit 0 after {time.time() - started:.2f} s")
        except BaseException:
            traceback.print_exc()
            print("--- server log tail ---\n" + open(log).read()[-4000:])
            return 1
        finally:
            if gateway is not None:
                gateway.terminate()
                gateway.wait(timeout=30)
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        print("KServe tritonclient test passed")
        return 0


if __name__ == "__main__":
    sys.exit(main())
