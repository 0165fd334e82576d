#!/usr/bin/env python3
"""One side-by-side table of bench runs, and what each adds over a baseline run (`local`, by default).

    compare_runs.py tcp=results/demo-tiny-tcp ucx=results/demo-tiny-ucx local=results/demo-tiny-local

Reads each folder's summary.json (written by `edgeserve bench`) and prints the median (p50) of every stage, in
milliseconds, then one "+over local" column per other run. Standard library only.
"""
import json
import sys
from pathlib import Path

# The stages of one request's trip, in the order it makes it (README: "How to read one table").
STAGES = ["total-time", "request-time", "queue-time", "copy-time", "preprocessing-time", "inference-time",
          "response-time", "server-time", "transport-time"]


def p50(summary, metric):
    m = summary["metrics"].get(metric, {})
    return m.get("p50") if m.get("count") else None


def cell(v, signed=False):
    if v is None:
        return "—"
    return ("%+.3f" if signed else "%.3f") % v


def main(argv):
    runs = []
    for arg in argv:
        label, _, folder = arg.partition("=")
        runs.append((label, json.load(open(Path(folder) / "summary.json"))))
    base_label = "local" if any(label == "local" for label, _ in runs) else runs[-1][0]
    base = dict(runs)[base_label]
    others = [(label, s) for label, s in runs if label != base_label]
    first = runs[0][1]
    c = first["config"]
    print("%s, %d client(s) x %d requests, input %s — p50 per stage, ms (p50s need not add up)" %
          (c["model"], c["clients"], c["requests_per_client"], c["input"]))
    header = "%-20s" % "stage" + "".join("%10s" % label for label, _ in runs)
    header += "".join("%16s" % ("%s over %s" % (label, base_label)) for label, _ in others)
    print(header)
    for stage in STAGES:
        row = "%-20s" % stage + "".join("%10s" % cell(p50(s, stage)) for _, s in runs)
        for _, s in others:
            a, b = p50(s, stage), p50(base, stage)
            row += "%16s" % cell(None if a is None or b is None else a - b, signed=True)
        print(row)
    print("%-20s" % "total-time p99" + "".join("%10s" % cell(s["metrics"]["total-time"]["p99"]) for _, s in runs))
    for label, s in runs:
        link = s.get("link", {})
        lanes = ", ".join(link.get("client_transports") or [])
        over = ""
        if link.get("library"):
            over = "%s over %s%s | " % (link["kind"], link["library"], " [%s]" % lanes if lanes else "")
        elif link:
            over = "%s | " % link["kind"]
        print("  %-6s %s%d ok of %d | cpu-usage %s ms/request" % (
            label, over, s["requests"]["ok"], s["requests"]["sent"],
            cell(s.get("cpu-usage", {}).get("server_cpu_ms_per_request"))))


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    main(sys.argv[1:])
