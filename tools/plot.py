#!/usr/bin/env python3
"""Draw one figure of an `edgeserve report` in the paper's form (matplotlib, Agg backend).

usage: tools/plot.py SPEC.json

SPEC is a [[plot]] table of an experiment file (see experiments/README.md) plus the paths `csv` (the figure's
table, one row per point), `png` (where to draw) and `results` (the sweep folder, for per-request CSVs).
Kinds: bars (one metric per x, grouped by series; `baseline` turns it into overhead over one series value),
stacked (stage metrics stacked per x; `normalize` = fractions), lines (metric vs a numeric x, one line per
series; `slo_ms` draws the SLO), cdf (total-time CDF of priority vs normal clients, per point).
Exits 3 when matplotlib cannot be imported, 2 on a bad spec.
"""
import csv
import json
import math
import os
import sys
import textwrap
from collections import OrderedDict, defaultdict

try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker
except ImportError as e:  # report says why there is no PNG
    print("no PNG: cannot import matplotlib: %s (apt-get install python3-matplotlib)" % e, file=sys.stderr)
    sys.exit(3)

AXES = ["transport", "model", "input", "clients", "lanes", "policy", "variant", "rate", "servers"]
NUMERIC = {"clients", "lanes", "rate", "servers"}
# The paper's stage names and colours (Fig. 6: Request, Preprocess, Inference, Response, Copy).
STAGE_LABEL = {"request-time": "Request", "preprocessing-time": "Preprocess", "inference-time": "Inference",
               "postprocessing-time": "Postprocess", "response-time": "Response", "copy-time": "Copy", "queue-time": "Queue",
               "gateway-time": "Gateway", "backend-hop-time": "Backend hop", "transport-time": "Transport"}
# One colour per stage in every figure, so that stacks can be compared across figures.
STAGE_COLOUR = {"request-time": "#1f77b4", "queue-time": "#7f7f7f", "preprocessing-time": "#2ca02c",
                "inference-time": "#d62728", "postprocessing-time": "#bcbd22", "response-time": "#9467bd", "copy-time": "#ff7f0e",
                "gateway-time": "#8c564b", "backend-hop-time": "#e377c2", "transport-time": "#17becf"}
AXIS_LABEL = {"clients": "clients", "lanes": "lanes (CUDA streams)", "rate": "offered load (requests/s)",
              "servers": "servers", "transport": "transport", "model": "model", "input": "input",
              "policy": "policy", "variant": "variant"}


def fnum(s):
    try:
        v = float(s)
        return v if math.isfinite(v) else None
    except (TypeError, ValueError):
        return None


def column(metric, stat):
    if metric == "cpu-usage":
        return "cpu-usage-ms-per-request"
    if metric == "throughput":
        return "throughput-rps"
    return "%s-cov" % metric if stat == "cov" else "%s-%s-ms" % (metric, stat)


def ylabel_of(spec, metric, stat):
    if spec.get("ylabel"):
        return spec["ylabel"]
    if metric == "cpu-usage":
        return "server CPU time per request (ms)"
    if metric == "throughput":
        return "throughput (requests/s)"
    if stat == "cov":
        return "CoV of %s" % metric
    return "%s %s (ms)" % (metric, stat)


def order(values, axis):
    vals = list(OrderedDict.fromkeys(values))
    if axis in NUMERIC:
        return sorted(vals, key=lambda v: fnum(v) or 0)
    return vals


def mean(vals):
    vals = [v for v in vals if v is not None]
    return sum(vals) / len(vals) if vals else None


def grouped(rows, keys, col):
    """Mean of `col` over rows with equal `keys` (repetitions are averaged)."""
    acc = defaultdict(list)
    for r in rows:
        acc[tuple(r.get(k, "") for k in keys)].append(fnum(r.get(col)))
    return {k: mean(v) for k, v in acc.items()}


def panels_of(spec, rows):
    axis = spec.get("panels")
    if not axis:
        return [("", rows)]
    return [(v, [r for r in rows if r[axis] == v]) for v in order([r[axis] for r in rows], axis)]


def new_figure(n):
    cols = min(n, 3)
    rowsn = int(math.ceil(n / cols))
    fig, axs = plt.subplots(rowsn, cols, figsize=(4.8 * cols, 3.6 * rowsn), squeeze=False)
    for extra in axs.flat[n:]:
        extra.set_visible(False)
    return fig, list(axs.flat[:n])


def panel_title(spec, value):
    return "%s = %s" % (spec["panels"], value) if spec.get("panels") else ""


def draw_bars(spec, rows, ax, title):
    x, series = spec["x"], spec.get("series")
    metric, stat = spec.get("metric", "total-time"), spec.get("stat", "p50")
    col = column(metric, stat)
    xs = order([r[x] for r in rows], x)
    ss = order([r[series] for r in rows], series) if series else [""]
    keys = [x] + ([series] if series else [])
    vals = grouped(rows, keys, col)
    err = grouped(rows, keys, column(metric, "std")) if spec.get("error") == "std" else {}
    baseline = spec.get("baseline")
    width = 0.8 / max(1, len(ss) - (1 if baseline in ss else 0))
    i = 0
    for s in ss:
        if baseline and s == baseline:
            continue
        ys, es = [], []
        for xv in xs:
            k = (xv, s) if series else (xv,)
            v = vals.get(k)
            if baseline and v is not None:
                b = vals.get((xv, baseline))
                v = (v - b) / b * 100 if b else None
            ys.append(float("nan") if v is None else v)
            es.append(err.get(k) or 0)
        pos = [j + (i - (len(ss) - 1 - (1 if baseline in ss else 0)) / 2) * width for j in range(len(xs))]
        ax.bar(pos, ys, width, label=s or None, yerr=es if err else None, capsize=3)
        i += 1
    ax.set_xticks(range(len(xs)))
    ax.set_xticklabels(xs, rotation=30 if max((len(v) for v in xs), default=0) > 6 else 0)
    ax.set_xlabel(spec.get("xlabel") or AXIS_LABEL.get(x, x))
    ax.set_ylabel("overhead over %s (%%)" % baseline if baseline else ylabel_of(spec, metric, stat))
    if series:
        ax.legend(title=AXIS_LABEL.get(series, series), fontsize=8)
    ax.set_title(title, fontsize=10)


def draw_stacked(spec, rows, ax, title):
    x = spec["x"]
    stages = spec.get("metrics") or ["request-time", "copy-time", "preprocessing-time", "inference-time",
                                     "postprocessing-time", "response-time"]
    stat = spec.get("stat", "mean")
    xs = order([r[x] for r in rows], x)
    per = {m: grouped(rows, [x], column(m, stat)) for m in stages}
    totals = [sum(per[m].get((xv,)) or 0 for m in stages) for xv in xs]
    bottom = [0.0] * len(xs)
    for m in stages:
        ys = [per[m].get((xv,)) or 0 for xv in xs]
        if spec.get("normalize"):
            ys = [y / t * 100 if t else 0 for y, t in zip(ys, totals)]
        ax.bar(range(len(xs)), ys, 0.6, bottom=bottom, label=STAGE_LABEL.get(m, m), color=STAGE_COLOUR.get(m))
        bottom = [b + y for b, y in zip(bottom, ys)]
    ax.set_xticks(range(len(xs)))
    ax.set_xticklabels(xs, rotation=30 if max((len(v) for v in xs), default=0) > 6 else 0)
    ax.set_xlabel(spec.get("xlabel") or AXIS_LABEL.get(x, x))
    ax.set_ylabel(spec.get("ylabel") or ("fraction of time (%)" if spec.get("normalize") else "time (ms, %s)" % stat))
    ax.set_title(title, fontsize=10)
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles[::-1], labels[::-1], fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))


def draw_lines(spec, rows, ax, title):
    x, series = spec["x"], spec.get("series")
    stat = spec.get("stat", "p50")
    metrics = spec.get("metrics") or [spec.get("metric", "total-time")]
    ss = order([r[series] for r in rows], series) if series else [""]
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    xs_seen = set()
    for metric in metrics:
        col = column(metric, stat)
        for i, s in enumerate(ss):
            sub = [r for r in rows if not series or r[series] == s]
            vals = grouped(sub, [x], col)
            pts = sorted((fnum(k[0]), v) for k, v in vals.items() if v is not None and fnum(k[0]) is not None)
            name = metric.replace("-total-time", " clients") if metric.endswith("-total-time") else metric
            label = " ".join(p for p in (s, name if len(metrics) > 1 else "") if p) or None
            if pts:
                xs_seen.update(p[0] for p in pts)
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=label,
                        color=colours[i % len(colours)], linestyle="--" if metric.startswith("normal") else "-")
    if spec.get("slo_ms"):
        ax.axhline(spec["slo_ms"], color="red", linestyle="--", linewidth=1, label="SLO %g ms" % spec["slo_ms"])
    if x in ("clients", "lanes", "rate") and xs_seen and min(xs_seen) > 0:
        ax.set_xscale("log", base=2)
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        ax.set_xticks(sorted(xs_seen))
        ax.set_xticklabels(["%g" % v for v in sorted(xs_seen)])
    if spec.get("logy"):
        ax.set_yscale("log")
    ax.set_xlabel(spec.get("xlabel") or AXIS_LABEL.get(x, x))
    ax.set_ylabel(ylabel_of(spec, metrics[0] if len(metrics) == 1 else "total-time", stat))
    ax.set_title(title, fontsize=10)
    if series or spec.get("slo_ms") or len(metrics) > 1:
        ax.legend(title=AXIS_LABEL.get(series, series) if series else None, fontsize=8)
    ax.grid(alpha=0.3)


def draw_cdf(spec, rows, ax, title):
    series = spec.get("series")
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for n, r in enumerate(rows):
        path = os.path.join(spec["results"], r["point"], "requests.csv")
        if r.get("status") != "ok" or not os.path.exists(path):
            continue
        groups = defaultdict(list)
        with open(path) as f:
            for req in csv.DictReader(f):
                t = fnum(req.get("total-time"))
                if req.get("status") == "ok" and t is not None:
                    groups["priority" if req.get("priority", "0") not in ("", "0") else "normal"].append(t)
        for g, ts in sorted(groups.items()):
            ts.sort()
            label = "%s (%s)" % (r[series], g) if series else g
            ax.plot(ts, [(i + 1) / len(ts) for i in range(len(ts))], label=label,
                    color=colours[n % len(colours)], linestyle="-" if g == "priority" else "--")
    ax.set_xlabel(spec.get("xlabel") or "total-time (ms)")
    ax.set_ylabel("CDF")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    spec = json.load(open(sys.argv[1]))
    with open(spec["csv"]) as f:
        rows = [r for r in csv.DictReader(f) if r.get("status") == "ok"]
    draw = {"bars": draw_bars, "stacked": draw_stacked, "lines": draw_lines, "cdf": draw_cdf}.get(spec.get("kind"))
    if not draw:
        print("unknown kind %r" % spec.get("kind"), file=sys.stderr)
        return 2
    panels = panels_of(spec, rows) or [("", [])]
    fig, axs = new_figure(len(panels))
    for ax, (value, sub) in zip(axs, panels):
        if sub:
            draw(spec, sub, ax, panel_title(spec, value))
        else:
            ax.text(0.5, 0.5, "no results", ha="center", va="center", transform=ax.transAxes)
    # Wrapped to the figure's width (about 11 characters per inch at this size): a long title is never clipped.
    title = "Fig. %s: %s" % (spec.get("figure", "?"), spec.get("title", ""))
    width = fig.get_size_inches()[0]
    fig.suptitle(textwrap.fill(title, max(40, int(width * 11))), fontsize=11)
    fig.tight_layout()
    fig.savefig(spec["png"], dpi=110)
    print("wrote %s" % spec["png"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
