#!/usr/bin/env bash
# What Prometheus metrics and request traces cost: the same server without them (off), with --metrics (metrics),
# and with --metrics plus --trace of every request (trace), each round a fresh server per variant, variants
# alternating within a round so drift (clocks, thermals, other load) spreads over all of them; `bench` at CLIENTS
# closed-loop clients over tcp://. Prints the median throughput per variant and its cost against off (issue 15's
# target: < 2 %), and writes OUT_DIR/overhead.md.
#   scripts/metrics_overhead.sh OUT_DIR [MODEL] [DEVICE] [INPUT]      (defaults: tiny cpu raw)
#   scripts/metrics_overhead.sh results/metrics-overhead resnet50-fp16-cl cuda:0 preprocessed   # the H200
# Environment: CLIENTS (16), REQUESTS per client (300), WARMUP per client (20), ROUNDS (5), EDGESERVE (default
# build/cuda/src/edgeserve, else build/cpu/src/edgeserve), REPO (models).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: $0 OUT_DIR [MODEL] [DEVICE] [INPUT]}
model=${2:-tiny} device=${3:-cpu} input=${4:-raw}
clients=${CLIENTS:-16} requests=${REQUESTS:-300} warmup=${WARMUP:-20} rounds=${ROUNDS:-5}
bin=${EDGESERVE:-$([[ -x build/cuda/src/edgeserve ]] && echo build/cuda/src/edgeserve || echo build/cpu/src/edgeserve)}
repo=${REPO:-models}
mkdir -p "$out"
server=""
trap '[[ -n $server ]] && kill $server 2>/dev/null; wait 2>/dev/null' EXIT

variant_args() {
  case $1 in
    off) ;;
    metrics) echo "--metrics 127.0.0.1:0" ;;
    trace) echo "--metrics 127.0.0.1:0 --trace $out/$2/trace.json --trace-sample 1" ;;
  esac
}

for round in $(seq "$rounds"); do
  for variant in off metrics trace; do
    dir="$out/round$round-$variant"
    mkdir -p "$dir"
    ready="$dir/ready"
    rm -f "$ready"
    # shellcheck disable=SC2046  # the variant's flags are words
    "$bin" serve --repo "$repo" --models "$model" --device "$device" --workers "$clients" \
      --listen tcp://127.0.0.1:0 --ready-file "$ready" $(variant_args $variant "round$round-$variant") \
      >"$dir/server.log" 2>&1 &
    server=$!
    for _ in $(seq 1200); do [[ -s $ready ]] && break; kill -0 $server 2>/dev/null || break; sleep 0.1; done
    [[ -s $ready ]] || { echo "metrics_overhead: the server did not start:" >&2; tail "$dir/server.log" >&2; exit 1; }
    "$bin" bench --target "$(head -1 "$ready")" --repo "$repo" --model "$model" --input "$input" \
      --clients "$clients" --requests "$requests" --warmup "$warmup" --no-progress --out "$dir" >"$dir/bench.log" 2>&1
    # The scrape an operator would see (metrics and trace variants).
    url=$(grep -o 'metrics at http://[0-9.:]*/metrics' "$dir/server.log" | head -1 | cut -d' ' -f3 || true)
    [[ -n $url ]] && curl -s "$url" >"$dir/metrics.txt"
    kill -TERM $server
    wait $server || true
    server=""
    printf 'round %s %-8s %s req/s\n' "$round" "$variant" \
      "$(python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["throughput_rps"], 1))' "$dir/summary.json")"
  done
done

python3 - "$out" "$model" "$device" "$input" "$clients" "$rounds" <<'PY'
import json, pathlib, statistics, sys
out, model, device, inp, clients, rounds = sys.argv[1:]
rows = {}
for v in ("off", "metrics", "trace"):
    rows[v] = [json.load(open(p))["throughput_rps"] for p in sorted(pathlib.Path(out).glob(f"round*-{v}/summary.json"))]
base = statistics.median(rows["off"])
lines = [f"Metrics and trace overhead: {model} on {device}, {inp} input, {clients} clients over tcp, {rounds} rounds",
         "", "| variant | median req/s | min | max | cost vs off |", "|---|---|---|---|---|"]
for v, xs in rows.items():
    m = statistics.median(xs)
    lines.append(f"| {v} | {m:.1f} | {min(xs):.1f} | {max(xs):.1f} | {100 * (base - m) / base:+.2f} % |")
text = "\n".join(lines) + "\n"
pathlib.Path(out, "overhead.md").write_text(text)
print(text)
PY
