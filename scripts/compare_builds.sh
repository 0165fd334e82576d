#!/usr/bin/env bash
# Two edgeserve binaries side by side on this machine: one model (tiny by default; preprocessed input, 2000
# requests, one intra-op thread) over tcp, ucx and local with 1 and 4 clients, each binary serving and benching
# itself, the pair repeated ROUNDS times alternating which goes first. Prints one line per point and the medians.
#   scripts/compare_builds.sh OLD/edgeserve NEW/edgeserve [OUT]     (ROUNDS=4; needs models/ with tiny)
#   MODEL=resnet50-fp16-cl REPO=build/cuda/gpu-models DEVICE=cuda:0 scripts/compare_builds.sh OLD NEW OUT   # GPU
#   (REQUESTS=N per point, CLIENTS="1 4")
# On a shared or 2-core machine the spread is wide (±40 % between rounds of one binary): read the medians.
set -euo pipefail
cd "$(dirname "$0")/.."
old=${1:?usage: $0 OLD_BINARY NEW_BINARY [OUT]} new=${2:?usage: $0 OLD_BINARY NEW_BINARY [OUT]}
out=${3:-results/compare-builds}
rounds=${ROUNDS:-4} model=${MODEL:-tiny} repo=${REPO:-models} device=${DEVICE:-cpu} requests=${REQUESTS:-2000}
mkdir -p "$out"
lines=$out/points.txt
: >"$lines"
run() {  # run BINARY TAG
  local bin=$1 tag=$2 dir=$out/$2 server tcp ucx
  mkdir -p "$dir"
  rm -f "$dir/ready.json"
  "$bin" serve --repo "$repo" --models "$model" --device "$device" --listen tcp://127.0.0.1:0 --listen ucx://127.0.0.1:0 --workers 4 \
    --intra-op-threads 1 --ready-file "$dir/ready.json" >"$dir/server.log" 2>&1 &
  server=$!
  for _ in $(seq 300); do [[ -s $dir/ready.json ]] && break; sleep 0.2; done
  [[ -s $dir/ready.json ]] || { echo "$tag: the server did not start (see $dir/server.log)" >&2; kill "$server"; exit 1; }
  tcp=$(grep -o 'tcp://[0-9.:]*' "$dir/ready.json" | head -1)
  ucx=$(grep -o 'ucx://[0-9.:]*' "$dir/ready.json" | head -1)
  for clients in ${CLIENTS:-1 4}; do
    for target in "$tcp" "$ucx" local; do
      local name=${target%%:*}
      "$bin" bench --target "$target" --repo "$repo" --model "$model" --device "$device" --clients "$clients" \
        --requests "$requests" --warmup 50 --input preprocessed --intra-op-threads 1 --no-progress --out "$dir/$name-c$clients" >/dev/null 2>&1
      python3 -c "import json,sys; s=json.load(open(sys.argv[1])); m=s['metrics']['total-time']
print('%s %s c%s p50 %.3f p99 %.3f rps %.0f' % (sys.argv[2], sys.argv[3], sys.argv[4], m['p50'], m['p99'], s['throughput_rps']))" \
        "$dir/$name-c$clients/summary.json" "${tag%%-*}" "$name" "$clients" | tee -a "$lines"
    done
  done
  kill "$server"
  wait "$server" 2>/dev/null || true
}
for r in $(seq "$rounds"); do
  if ((r % 2)); then run "$old" "old-$r"; run "$new" "new-$r"; else run "$new" "new-$r"; run "$old" "old-$r"; fi
done
python3 - "$lines" <<'PY'
import collections, statistics, sys
d = collections.defaultdict(list)
for line in open(sys.argv[1]):
    tag, link, clients, _, p50, *_ = line.split()
    d[(link, clients, tag)].append(float(p50))
print("total-time p50 medians, ms (each round's value in brackets)")
for link, clients in sorted({(k[0], k[1]) for k in d}):
    o, n = d[(link, clients, "old")], d[(link, clients, "new")]
    print("%-6s %-3s old %.2f %s | new %.2f %s" % (link, clients, statistics.median(o), [round(x, 2) for x in o],
                                                  statistics.median(n), [round(x, 2) for x in n]))
PY
