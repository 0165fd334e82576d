#!/usr/bin/env python3
"""KServe v2 over grpc:// with the real client: Triton's tritonclient.grpc against a real `edgeserve serve`.

Usage: kserve_tritonclient_grpc_test.py EDGESERVE_BINARY TEST_MODELS_DIR
Exits 77 (ctest: skipped) when tritonclient.grpc is not importable: scripts/setup.sh makes build/venv with it.
Outputs are compared with TorchScript run in this process on the same model file, as the http:// test does (its
helpers are shared: kserve_tritonclient_test.py).
"""
import subprocess
import sys
import tempfile
import time
import traceback

try:
    import numpy as np
    import grpc
    import tritonclient.grpc as grpcclient
    from tritonclient.grpc import service_pb2, service_pb2_grpc
    from tritonclient.utils import InferenceServerException
    import kserve_tritonclient_test as kserve
except ImportError as e:  # the venv is made by scripts/setup.sh
    print(f"SKIP: {e} (run scripts/setup.sh: it makes build/venv with tritonclient[grpc,http])")
    sys.exit(77)

reference, tiny_input, TOLERANCE = kserve.reference, kserve.tiny_input, kserve.TOLERANCE


def infer(client, x, model="tiny", name="input", datatype="FP32", outputs=("logits",), raw=None):
    inp = grpcclient.InferInput(name, list(x.shape), datatype)
    inp.set_data_from_numpy(x)
    if raw is not None:  # the client checks sizes itself: tamper after it did
        inp._raw_content = raw
    outs = [grpcclient.InferRequestedOutput(o) for o in outputs]
    return client.infer(model, [inp], outputs=outs, request_id="42")


def expect_error(what, code, call):
    try:
        call()
    except InferenceServerException as e:
        assert e.status() == f"StatusCode.{code}", f"{what}: {e.status()}, expected {code}: {e.message()}"
        assert e.message(), f"{what}: the error says nothing"
        print(f"ok  {what}: {e.status()} {e.message()[:100]}")
        return e
    raise AssertionError(f"{what}: no error")


def check(client, url):
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("tiny") and not client.is_model_ready("no-such-model")
    server = client.get_server_metadata()
    assert server.name == "edgeserve" and {"statistics", "system_shared_memory"} <= set(server.extensions), server
    meta = client.get_model_metadata("tiny")
    assert meta.name == "tiny" and list(meta.versions) == ["1"] and meta.platform == "pytorch_libtorch", meta
    assert [(t.name, t.datatype, list(t.shape)) for t in meta.inputs] == [("input", "FP32", [1, 3, 32, 32])], meta
    assert [(t.name, t.datatype, list(t.shape)) for t in meta.outputs] == [("logits", "FP32", [1, 10])], meta
    config = client.get_model_config("tiny").config
    assert config.name == "tiny" and config.max_batch_size == 0, config
    assert config.input[0].data_type == grpcclient.model_config_pb2.TYPE_FP32, config
    assert list(config.input[0].dims) == [1, 3, 32, 32] and config.output[0].name == "logits", config
    print("ok  health, server and model metadata, model config")

    for seed in range(3):
        x = tiny_input(seed)
        result = infer(client, x)
        got = result.as_numpy("logits")
        assert got.shape == (1, 10) and got.dtype == np.float32, (got.shape, got.dtype)
        np.testing.assert_allclose(got, reference(x), **TOLERANCE)
        response = result.get_response()
        assert response.id == "42" and response.model_name == "tiny", response
        params = response.parameters
        assert params["edgeserve_inference_ns"].uint64_param > 0, params
        assert params["edgeserve_server_ns"].uint64_param >= params["edgeserve_inference_ns"].uint64_param, params
    # No outputs named: the model's default outputs.
    x = tiny_input(9)
    inp = grpcclient.InferInput("input", [1, 3, 32, 32], "FP32")
    inp.set_data_from_numpy(x)
    np.testing.assert_allclose(client.infer("tiny", [inp]).as_numpy("logits"), reference(x), **TOLERANCE)
    print("ok  infer (outputs named and not): matches TorchScript, stage times in the parameters")
    check_client_ids(client, url)

    good = tiny_input(5)
    bad_cases = [
        ("unknown model", "NOT_FOUND", lambda: infer(client, good, model="no-such-model")),
        ("unknown version", "NOT_FOUND", lambda: client.get_model_metadata("tiny", model_version="7")),
        ("unknown input name", "INVALID_ARGUMENT", lambda: infer(client, good, name="nope")),
        ("unknown output name", "INVALID_ARGUMENT", lambda: infer(client, good, outputs=("nope",))),
        ("wrong shape", "INVALID_ARGUMENT", lambda: infer(client, tiny_input(1)[:, :, :16, :16].copy())),
        ("wrong dtype (FP16 for an FP32 model)", "INVALID_ARGUMENT",
         lambda: infer(client, good.astype(np.float16), datatype="FP16")),
        ("a datatype edgeserve has no counterpart for (INT64)", "INVALID_ARGUMENT",
         lambda: infer(client, good.astype(np.int64), datatype="INT64")),
        ("raw_input_contents shorter than the shape says", "INVALID_ARGUMENT",
         lambda: infer(client, good, raw=good.tobytes()[:100])),
        ("a tensor over --max-payload-mb", "RESOURCE_EXHAUSTED",
         lambda: infer(client, np.zeros((1, 3, 320, 320), np.float32))),
        ("a message over the server's limit", "RESOURCE_EXHAUSTED",
         lambda: infer(client, np.zeros((1, 3, 600, 600), np.float32))),
        ("a stream (ModelStreamInfer)", "UNIMPLEMENTED", lambda: stream_infer(url)),
    ]
    for what, code, call in bad_cases:
        expect_error(what, code, call)
        # The server goes on serving, the same client on the same channel.
        np.testing.assert_allclose(infer(client, good).as_numpy("logits"), reference(good), **TOLERANCE)
    print("ok  a good request after each bad one")

    good_requests = 3 + 1 + 3 + len(bad_cases)
    stats = client.get_inference_statistics("tiny").model_stats
    assert len(stats) == 1 and stats[0].name == "tiny", stats
    s = stats[0]
    assert s.inference_count == good_requests, (s.inference_count, good_requests)
    assert s.inference_stats.success.count == good_requests, s
    assert s.inference_stats.fail.count == 2, s  # the wrong shape and the wrong dtype reached the model
    assert s.inference_stats.success.ns >= s.inference_stats.compute_infer.ns > 0, s
    names = sorted(m.name for m in client.get_inference_statistics().model_stats)
    assert names == ["mobilenetv3", "tiny"], names
    print("ok  inference statistics count every request by outcome")


def check_system_shared_memory(client):
    """KServe's system shared memory extension through tritonclient.grpc's own helpers, as the http:// test does it:
    the input read from one POSIX shared memory region, the output written into another."""
    x = tiny_input(12)
    in_bytes, out_bytes = x.nbytes, 10 * 4
    shm, in_key, out_key, in_handle, out_handle = kserve.system_regions(client, x, out_bytes, "/edgeserve_grpc_test")
    try:
        regions = client.get_system_shared_memory_status().regions
        assert sorted((n, r.name, r.key, r.offset, r.byte_size) for n, r in regions.items()) == [
            ("in", "in", in_key, 0, in_bytes), ("out", "out", out_key, 0, out_bytes + 64)], regions
        assert list(client.get_system_shared_memory_status("out").regions) == ["out"]

        def request(in_region="in", in_size=in_bytes, in_offset=0, out_region="out", out_size=out_bytes + 64):
            inp = grpcclient.InferInput("input", list(x.shape), "FP32")
            inp.set_shared_memory(in_region, in_size, offset=in_offset)
            out = grpcclient.InferRequestedOutput("logits")
            out.set_shared_memory(out_region, out_size)
            return client.infer("tiny", [inp], outputs=[out])

        shm.set_shared_memory_region(out_handle, [np.zeros(10, np.float32)])
        response = request().get_response()
        params = response.outputs[0].parameters
        assert params["shared_memory_region"].string_param == "out", params
        assert params["shared_memory_byte_size"].int64_param == out_bytes, params
        assert list(response.raw_output_contents) == [b""], "the output came back in the reply"
        got = shm.get_contents_as_numpy(out_handle, np.float32, [1, 10])
        np.testing.assert_allclose(got, reference(x), **TOLERANCE)
        print("ok  system shared memory: input read from a region, output written into one, matches TorchScript")

        bad_cases = [
            ("an unregistered input region", lambda: request(in_region="nope")),
            ("an input range past its region's end", lambda: request(in_offset=8)),
            ("an unregistered output region", lambda: request(out_region="nope")),
            ("an output region smaller than the output", lambda: request(out_size=8)),
            ("a key no shared memory object has",
             lambda: client.register_system_shared_memory("x", "/edgeserve_no_such_key", 16)),
            ("a region name registered twice", lambda: client.register_system_shared_memory("in", in_key, in_bytes)),
            ("a range past the object's end at register",
             lambda: client.register_system_shared_memory("big", in_key, in_bytes * 2)),
            ("the status of a name not registered", lambda: client.get_system_shared_memory_status("nope")),
            ("unregistering a name not registered", lambda: client.unregister_system_shared_memory("nope")),
        ]
        for what, call in bad_cases:
            expect_error(what, "INVALID_ARGUMENT", call)
        shm.set_shared_memory_region(out_handle, [np.zeros(10, np.float32)])
        request()  # still served after each bad one
        np.testing.assert_allclose(shm.get_contents_as_numpy(out_handle, np.float32, [1, 10]), reference(x),
                                   **TOLERANCE)
        client.unregister_system_shared_memory("in")
        assert list(client.get_system_shared_memory_status().regions) == ["out"]
        client.unregister_system_shared_memory()
        assert len(client.get_system_shared_memory_status().regions) == 0
        print("ok  system shared memory: status, unregister one and all")
    finally:
        shm.destroy_shared_memory_region(in_handle)
        shm.destroy_shared_memory_region(out_handle)


def stream_infer(url):
    with grpc.insecure_channel(url) as channel:
        try:
            stream = service_pb2_grpc.GRPCInferenceServiceStub(channel).ModelStreamInfer(
                iter([service_pb2.ModelInferRequest(model_name="tiny")]))
            return list(stream)
        except grpc.RpcError as e:
            raise InferenceServerException(msg=e.details(), status=str(e.code())) from None


def client_id_of(result):
    return result.get_response().parameters["edgeserve_client_id"].uint64_param


def check_client_ids(client, url):
    """A plain client is its connection for per-client scheduling: connections are numbered 0, 1, ... (perf_analyzer's
    concurrent contexts share a channel unless TRITON_CLIENT_GRPC_CHANNEL_MAX_SHARE_COUNT=1)."""
    x = tiny_input(3)
    assert client_id_of(infer(client, x)) == 0
    # A second connection (gRPC shares one among channels to the same address unless told otherwise).
    with grpcclient.InferenceServerClient(url=url, channel_args=[("grpc.use_local_subchannel_pool", 1)]) as other:
        assert client_id_of(infer(other, x)) == 1
    inp = grpcclient.InferInput("input", list(x.shape), "FP32")
    inp.set_data_from_numpy(x)
    assert client_id_of(client.infer("tiny", [inp], parameters={"edgeserve_client_id": 7})) == 7
    print("ok  client ids: a plain client is its connection (0, then 1), a named one keeps its own")


def check_gateway(client):
    """A gateway's grpc:// front: infer goes through to the server; the gateway knows no model metadata."""
    x = tiny_input(20)
    np.testing.assert_allclose(infer(client, x).as_numpy("logits"), reference(x), **TOLERANCE)
    expect_error("model metadata from a gateway", "UNAVAILABLE", lambda: client.get_model_metadata("tiny"))
    print("ok  infer through a gateway's grpc:// front")


def check_cuda_shared_memory(client):
    """CUDA shared memory over grpc://, as the http:// test checks it: with a GPU, tensors in this process's GPU
    memory through their IPC handles; without one, each registration refused, saying why."""
    import cuda_ipc

    supported = "cuda_shared_memory" in client.get_server_metadata().extensions
    for what, call in [
        ("a CUDA raw_handle that is not 64 bytes",
         lambda: client.register_cuda_shared_memory("c", cuda_ipc.b64(b"\0" * 8), 0, 64)),
        ("a CUDA handle nothing allocated",
         lambda: client.register_cuda_shared_memory("c", cuda_ipc.b64(b"\0" * 64), 0, 64)),
        ("a device_id past the server's GPUs",
         lambda: client.register_cuda_shared_memory("c", cuda_ipc.b64(b"\0" * 64), 4096, 64)),
        ("unregistering a CUDA region not registered", lambda: client.unregister_cuda_shared_memory("c")),
    ]:
        expect_error(what, "INVALID_ARGUMENT", call)
    assert not client.get_cuda_shared_memory_status().regions
    if not (supported and cuda_ipc.available()):
        print(f"ok  CUDA shared memory refused without a GPU (extension listed: {supported})")
        return
    x = tiny_input(13)
    out_bytes = 10 * 4
    cuda_in, cuda_out = cuda_ipc.registered_pair(client, x, out_bytes)
    try:
        regions = client.get_cuda_shared_memory_status().regions
        assert sorted((n, r.device_id, r.byte_size) for n, r in regions.items()) == [
            ("cin", 0, x.nbytes), ("cout", 0, out_bytes)], regions
        inp = grpcclient.InferInput("input", list(x.shape), "FP32")
        inp.set_shared_memory("cin", x.nbytes)
        out = grpcclient.InferRequestedOutput("logits")
        out.set_shared_memory("cout", out_bytes)
        client.infer("tiny", [inp], outputs=[out])
        got = np.frombuffer(cuda_out.read(out_bytes), dtype=np.float32).reshape(1, 10)
        np.testing.assert_allclose(got, reference(x), **TOLERANCE)
        client.unregister_cuda_shared_memory()
        assert not client.get_cuda_shared_memory_status().regions
        print("ok  CUDA shared memory: input read from GPU memory, output written into GPU memory, matches TorchScript")
    finally:
        cuda_in.free()
        cuda_out.free()


def main():
    with tempfile.TemporaryDirectory() as workdir:
        proc, endpoints, log = kserve.start(
            ["serve", "--repo", kserve.MODELS, "--models", "tiny,mobilenetv3", "--listen", "grpc://127.0.0.1:0",
             "--listen", "tcp://127.0.0.1:0", "--device", kserve.DEVICE, "--workers", "2", "--intra-op-threads", "1",
             "--max-payload-mb", str(kserve.MAX_PAYLOAD_MB)], workdir, "serve")
        gateway = None
        try:
            assert endpoints[0].startswith("grpc://") and endpoints[1].startswith("tcp://"), endpoints
            gateway, gateway_endpoints, _ = kserve.start(
                ["gateway", "--listen", "grpc://127.0.0.1:0", "--backend", endpoints[1]], workdir, "gateway")
            with grpcclient.InferenceServerClient(url=gateway_endpoints[0][len("grpc://"):]) as client:
                check_gateway(client)
            url = endpoints[0][len("grpc://"):]
            with grpcclient.InferenceServerClient(url=url) as client:
                check(client, url)
                check_system_shared_memory(client)
                check_cuda_shared_memory(client)
                assert proc.poll() is None, "the server exited"
                started = time.time()
                proc.terminate()
                code = proc.wait(timeout=10)
                assert code == 0, f"serve exited {code} on SIGTERM"
                print(f"ok  SIGTERM with an open channel: exit 0 after {time.time() - started:.2f} s")
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
        print("KServe tritonclient.grpc test passed")
        return 0


if __name__ == "__main__":
    sys.exit(main())
