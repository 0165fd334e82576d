#!/usr/bin/env python3
"""Issue 19, the rdma case: does a high-priority stream's copy wait behind the normal streams' copies on the copy
engines while its kernels do not wait behind theirs? A reproduction with the served model and its sizes (YOLOv4
fp16-cl: its input host-to-device, the forward pass, its outputs device-to-host), traced with torch.profiler
(CUPTI), not a trace of edgeserve itself (which replays CUDA graphs; this runs the kernels eagerly). One thread per
stream, stream 0 at high priority, as edgeserve's per-client lanes. For every GPU operation: how long it was ready
(launched, and the previous operation of its stream finished) before the GPU started it, by stream priority and kind.

usage: copy_engine_trace.py REPO MODEL [--streams 16] [--iters 20] [--out FILE.json]
"""
import argparse
import json
import os
import statistics
import tempfile
import threading

import torch


def run(module, shape, streams, iters, out_shapes):
    """Runs `streams` threads (thread 0 on a high-priority stream), each copying its input in, running the model
    and copying the outputs out, `iters` times; returns the profiler's trace as a dict."""
    low, high = torch.cuda.Stream.priority_range()  # (0, -N): lower numbers are higher priority
    work = []
    for i in range(streams):
        s = torch.cuda.Stream(priority=high if i == 0 else low)
        dev_in = torch.empty(shape, dtype=torch.half, device="cuda").contiguous(memory_format=torch.channels_last)
        host_in = torch.empty_strided(dev_in.shape, dev_in.stride(), dtype=torch.half, pin_memory=True).normal_()
        host_out = [torch.empty(o, dtype=dtype, pin_memory=True) for o, dtype in out_shapes]
        work.append((s, host_in, dev_in, host_out))
    barrier = threading.Barrier(streams)

    def lane(i):
        s, host_in, dev_in, host_out = work[i]
        label = "priority" if i == 0 else "normal"
        with torch.cuda.stream(s), torch.inference_mode():
            barrier.wait()
            for _ in range(iters):
                with torch.profiler.record_function(label):
                    dev_in.copy_(host_in, non_blocking=True)
                    outs = module(dev_in)
                    outs = outs if isinstance(outs, (tuple, list)) else [outs]
                    for h, o in zip(host_out, outs):
                        h.copy_(o, non_blocking=True)
                    s.synchronize()

    # warm-up outside the trace (cuDNN autotuning, allocator)
    threads = [threading.Thread(target=lane, args=(i,)) for i in range(streams)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU,
                                            torch.profiler.ProfilerActivity.CUDA]) as prof:
        threads = [threading.Thread(target=lane, args=(i,)) for i in range(streams)]
        [t.start() for t in threads]
        [t.join() for t in threads]
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        path = f.name
    prof.export_chrome_trace(path)
    with open(path) as f:
        trace = json.load(f)
    os.unlink(path)
    return trace


def waits(trace):
    """{(label, kind): [µs ready before started]} from a chrome trace: a GPU op is ready when its runtime call
    returned and the previous op of its stream ended; its label is the record_function range its call ran in."""
    events = [e for e in trace["traceEvents"] if e.get("ph") == "X"]
    ranges = {}  # tid -> [(start, end, label)]
    for e in events:
        if e.get("cat") == "user_annotation" and e["name"] in ("priority", "normal"):
            ranges.setdefault(e["tid"], []).append((e["ts"], e["ts"] + e["dur"], e["name"]))
    launch = {}  # correlation -> (end of the runtime call, label)
    for e in events:
        if e.get("cat") == "cuda_runtime" and "correlation" in e.get("args", {}):
            for start, end, label in ranges.get(e["tid"], []):
                if start <= e["ts"] <= end:
                    launch[e["args"]["correlation"]] = (e["ts"] + e["dur"], label)
                    break
    gpu = sorted((e for e in events if e.get("cat") in ("kernel", "gpu_memcpy")), key=lambda e: e["ts"])
    previous_end = {}  # stream -> end of its last op
    out = {}
    for e in gpu:
        stream = e["args"].get("stream")
        called = launch.get(e["args"].get("correlation"))
        if called is not None:
            kind = "kernel" if e["cat"] == "kernel" else ("HtoD" if "HtoD" in e["name"] else "DtoH" if "DtoH" in e["name"] else "copy")
            ready = max(called[0], previous_end.get(stream, 0.0))
            out.setdefault((called[1], kind), []).append(max(0.0, e["ts"] - ready))
            if kind != "kernel":
                out.setdefault((called[1], kind + " duration"), []).append(e["dur"])
        previous_end[stream] = e["ts"] + e["dur"]
    return out


def summary(w):
    def pct(v, q):
        v = sorted(v)
        return v[min(len(v) - 1, int(q * len(v)))]
    return {f"{label} {kind}": {"n": len(v), "p50_us": round(statistics.median(v), 1), "p90_us": round(pct(v, 0.9), 1),
                                "mean_us": round(statistics.fmean(v), 1)} for (label, kind), v in sorted(w.items())}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("repo")
    p.add_argument("model")
    p.add_argument("--streams", type=int, default=16)
    p.add_argument("--iters", type=int, default=20)
    p.add_argument("--out")
    a = p.parse_args()
    with open(os.path.join(a.repo, "manifest.json")) as f:
        spec = next(m for m in json.load(f)["models"] if m["name"] == a.model)
    module = torch.jit.load(os.path.join(a.repo, spec["file"]), map_location="cuda").eval()
    shape = spec["input"]["shape"]
    with torch.inference_mode():
        x = torch.zeros(shape, dtype=torch.half, device="cuda").contiguous(memory_format=torch.channels_last)
        outs = module(x)
        outs = outs if isinstance(outs, (tuple, list)) else [outs]
        out_shapes = [(o.shape, o.dtype) for o in outs]
    torch.cuda.synchronize()
    result = {"gpu": torch.cuda.get_device_name(), "torch": torch.__version__, "model": a.model, "input": shape,
              "iters": a.iters, "note": "ready-to-start waits in µs: a reproduction with eager kernels, not edgeserve"}
    for n in (1, a.streams):
        result[f"streams={n}"] = summary(waits(run(module, shape, n, a.iters, out_shapes)))
    text = json.dumps(result, indent=1)
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
