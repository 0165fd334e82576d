#!/usr/bin/env python3
"""Tabulate every DIR/<run>/summary.json into DIR/summary.md (medians and p99 in ms).

usage: experiments/summarize_results.py DIR "MACHINE" "COMMAND"
"""
import json
import pathlib
import sys

STAGES = ["total-time", "request-time", "response-time", "copy-time", "preprocessing-time", "inference-time",
          "queue-time", "transport-time", "gateway-time", "backend-hop-time"]


def link_of(s: dict) -> str:
    """What the run's link really was: UCX lanes are named, so shared memory never passes for RDMA."""
    link = s.get("link") or {}
    kind = link.get("kind") or s["config"]["target"].split(":")[0]
    lanes = link.get("client_transports") or []
    return "%s (%s)" % (kind, ", ".join(lanes)) if lanes else kind


def main() -> int:
    out, machine, command = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    rows = ["| run | " + " | ".join(s + " p50" for s in STAGES) + " | total p99 | processing CoV | req/s | GPU MB | link |",
            "|---" * (len(STAGES) + 6) + "|"]
    for d in sorted(p for p in out.iterdir() if (p / "summary.json").exists()):
        s = json.load(open(d / "summary.json"))
        m = s["metrics"]
        if s["requests"]["ok"] == 0:
            rows.append("| %s | failed: %s |" % (d.name, s["requests"]))
            continue
        # Metrics a run does not have (no gateway; older result files) show as a dash, not as 0.
        cells = ["%.3f" % m[k]["p50"] if m.get(k, {}).get("count") else "—" for k in STAGES]
        gpu_mb = s["memory-usage"]["gpu_mem_mb_max"]  # null where not measured (a CPU server)
        rows.append("| %s | %s | %.3f | %.3f | %.1f | %s | %s |" % (
            d.name, " | ".join(cells), m["total-time"]["p99"], m["processing-time"]["cov"], s["throughput_rps"],
            "—" if gpu_mb is None else "%.0f" % gpu_mb, link_of(s)))
        for group, table in s.get("by_priority", {}).items():
            t = table["total-time"]
            if t["count"]:
                rows.append("| %s (%s clients) | %.3f |%s %.3f | | | | |" % (d.name, group, t["p50"], " |" * (len(STAGES) - 1),
                                                                           t["p99"]))
    extra = ""
    probe = out / "memcpy_probe.json"
    if probe.exists():
        extra = "\nPlain cudaMemcpy (experiments/memcpy_probe.cpp), microseconds:\n\n```\n%s```\n" % probe.read_text()
    (out / "summary.md").write_text("# %s\n\nMachine: %s. Command: `%s`.\n\n%s\n%s" % (
        out.name, machine, command, "\n".join(rows), extra))
    print((out / "summary.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
