#!/usr/bin/env python3
"""On a GPU host: a served model's reply through KServe's CUDA shared memory equals its reply over plain http://.

perf_analyzer's --shared-memory cuda measures the path but never looks at the outputs; this looks. The input is
written into this process's cudaMalloc'd memory and registered by its IPC handle (tests/integration/cuda_ipc.py:
the CUDA runtime through ctypes), the output comes back in a second allocation; the same input is then sent as
bytes in the request (the binary tensor extension) and the two outputs compared. Standard library, numpy and
libcudart only: the GPU host has no tritonclient.

    scripts/check_cuda_shared_memory.py HOST:PORT MODEL      (exit 0: equal; 1: they differ or a call failed)
"""
import http.client
import json
import os
import sys

try:
    import numpy as np
except ImportError:
    print("skipped: no numpy for python3 here")
    sys.exit(77)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
import cuda_ipc  # noqa: E402

DTYPES = {"FP32": np.float32, "FP16": np.float16, "UINT8": np.uint8, "INT32": np.int32}


def call(conn, method, path, body=None, headers=None):
    conn.request(method, path, body=body, headers=headers or {})
    reply = conn.getresponse()
    data = reply.read()
    if reply.status != 200:
        raise RuntimeError(f"{method} {path}: HTTP {reply.status}: {data[:300]!r}")
    return reply, data


def main(address, model):
    host, port = address.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    _, meta = call(conn, "GET", f"/v2/models/{model}")
    meta = json.loads(meta)
    tin, tout = meta["inputs"][0], meta["outputs"][0]
    x = np.random.default_rng(7).standard_normal(tin["shape"]).astype(DTYPES[tin["datatype"]])
    out_dtype = DTYPES[tout["datatype"]]
    out_bytes = int(np.prod(tout["shape"])) * np.dtype(out_dtype).itemsize

    # The reference: the tensor's bytes in the request, the output's in the reply.
    head = json.dumps({"inputs": [{"name": tin["name"], "shape": tin["shape"], "datatype": tin["datatype"],
                                   "parameters": {"binary_data_size": x.nbytes}}],
                       "outputs": [{"name": tout["name"], "parameters": {"binary_data": True}}]}).encode()
    reply, data = call(conn, "POST", f"/v2/models/{model}/infer", head + x.tobytes(),
                       {"Inference-Header-Content-Length": str(len(head)), "Content-Type": "application/octet-stream"})
    json_size = int(reply.getheader("Inference-Header-Content-Length"))
    expected = np.frombuffer(data[json_size:json_size + out_bytes], dtype=out_dtype)

    cuda_in, cuda_out = cuda_ipc.Allocation(x.nbytes), cuda_ipc.Allocation(out_bytes)
    try:
        cuda_in.write(x)
        for name, alloc in (("cin", cuda_in), ("cout", cuda_out)):
            call(conn, "POST", f"/v2/cudasharedmemory/region/{name}/register",
                 json.dumps({"raw_handle": {"b64": alloc.b64_handle}, "device_id": 0,
                             "byte_size": alloc.byte_size}).encode())
        for round_ in range(3):  # the same region read again: each request reads it in place
            body = json.dumps({"inputs": [{"name": tin["name"], "shape": tin["shape"], "datatype": tin["datatype"],
                                           "parameters": {"shared_memory_region": "cin",
                                                          "shared_memory_byte_size": x.nbytes}}],
                               "outputs": [{"name": tout["name"],
                                            "parameters": {"shared_memory_region": "cout",
                                                           "shared_memory_byte_size": out_bytes}}]}).encode()
            call(conn, "POST", f"/v2/models/{model}/infer", body)
            got = np.frombuffer(cuda_out.read(out_bytes), dtype=out_dtype)
            if not np.allclose(got.astype(np.float32), expected.astype(np.float32), rtol=1e-2, atol=1e-2):
                worst = np.max(np.abs(got.astype(np.float32) - expected.astype(np.float32)))
                print(f"FAIL: round {round_}: the CUDA shared memory reply differs from the plain one (max |diff| "
                      f"{worst})")
                return 1
        for name in ("cin", "cout"):
            call(conn, "POST", f"/v2/cudasharedmemory/region/{name}/unregister")
    finally:
        cuda_in.free()
        cuda_out.free()
    print(f"ok: {model}'s {tout['name']} through CUDA shared memory equals its plain http:// reply "
          f"({out_bytes} bytes, 3 requests)")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
