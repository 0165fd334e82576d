#!/usr/bin/env bash
# Two edgeserve binaries side by side on this machine: one model (tiny by default; preprocessed input, 2000
# requests, one intra-op thread) over tcp, ucx and local with 1 and 4 clients, each binary serving and benching
# itself, the pair repeated ROUNDS times alternating which goes first. Prints one line per point and the medians.
#   scripts/compare_builds.sh OLD/edgeserve NEW/edgeserve [OUT]     (ROUNDS=4; needs models/ with tiny)
#   MODEL=resnet50-fp16-cl REPO=build/cuda/gpu-models DEVICE=cuda:0 scripts/compare_builds.sh OLD NEW OUT   # GPU
#   (REQUESTS=N per client and point, CLIENTS="1 4", WORKERS=4 lanes, LINKS="tcp ucx local", READY_WAIT_S=60 for a
#   server to start: many lanes on a GPU capture many CUDA graphs)
# On a shared or 2-core machine the spread is wide (±40 % between rounds of one binary): read the medians.
set -euo pipefail
cd "$(dirname "$0")/.."
old=${1:?usage: $0 OLD_BINARY NEW_BINARY [OUT]} new=${2:?usage: $0 OLD_BINARY NEW_BINARY [OUT]}
out=${3:-results/compare-builds}
rounds=${ROUNDS:-4} model=${MODEL:-tiny} repo=${REPO:-models} device=${DEVICE:-cpu} requests=${REQUESTS:-2000}
workers=${WORKERS:-4} links=${LINKS:-tcp ucx local} ready_wait_s=${READY_WAIT_S:-60}
mkdir -p "$out"
lines=$out/points.txt
: >"$lines"
run() {  # run BINARY TAG
  local bin=$1 tag=$2 dir=$out/$2 server tcp ucx
  mkdir -p "$dir"
  rm -f "$dir/ready.json"
  "$bin" serve --repo "$repo" --models "$model" --device "$device" --listen tcp://127.0.0.1:0 --listen ucx://127.0.0.1:0 --workers "$workers" \
    --intra-op-threads 1 --ready-file "$dir/ready.json" >"$dir/server.log" 2>&1 &
  server=$!
  for _ in $(seq $((ready_wait_s * 5))); do [[ -s $dir/ready.json ]] && break; sleep 0.2; done
  [[ -s $dir/ready.json ]] || { echo "$tag: the server did not start (see $dir/server.log)" >&2; kill "$server"; exit 1; }
  tcp=$(grep -o 'tcp://[0-9.:]*' "$dir/ready.json" | head -1)
  ucx=$(grep -o 'ucx://[0-9.:]*' "$dir/ready.json" | head -1)
  for clients in ${CLIENTS:-1 4}; do
    for name in $links; do
      target=local
      [[ $name == tcp ]] && target=$tcp
      [[ $name == ucx ]] && target=$ucx
      "$bin" bench --target "$target" --repo "$repo" --model "$model" --device "$device" --clients "$clients" \
        --requests "$requests" --warmup 50 --input preprocessed --intra-op-threads 1 --no-progress --out "$dir/$name-c$clients" >/dev/null 2>&1
      python3 -c "import json,sys; s=json.load(open(sys.argv[1])); m=s['metrics']['total-time']
q=s['metrics']['queue-time']['p50']
print('%s %s c%s p50 %.3f p99 %.3f rps %.0f queue %.3f' % (sys.argv[2], sys.argv[3], sys.argv[4], m['p50'], m['p99'],
      s['throughput_rps'], q))" \
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
    f = line.split()
    tag, link, clients = f[:3]
    d[(link, clients, tag)].append({k: float(v) for k, v in zip(f[3::2], f[4::2])})
print("medians over the rounds: total-time p50 and p99, queue-time p50 (ms), req/s; each round's p50 in brackets")
for link, clients in sorted({(k[0], k[1]) for k in d}, key=lambda k: (k[0], int(k[1][1:]))):
    row = []
    for tag in ("old", "new"):
        r = d[(link, clients, tag)]
        med = lambda k: statistics.median(x[k] for x in r)
        row.append("%s p50 %.3f p99 %.3f queue %.3f %5.0f req/s %s" % (tag, med("p50"), med("p99"), med("queue"),
                   med("rps"), [round(x["p50"], 3) for x in r]))
    print("%-6s %-4s %s | %s" % (link, clients, *row))
PY
