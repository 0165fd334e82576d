#!/usr/bin/env bash
# The main job on an embedded default: set up, export a small model, start a server on a free loopback
# port, run the load generator against it over tcp and in-process (local), and print per-stage tables.
#
#   scripts/demo.sh                      tiny model, 1 client, 500 requests, raw 640x480 frames
#   MODEL=resnet50 CLIENTS=4 REQUESTS=200 scripts/demo.sh
#
# Results: results/demo-<model>-{tcp,local}/{requests.csv,summary.json}.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${MODEL:-tiny}
CLIENTS=${CLIENTS:-1}
REQUESTS=${REQUESTS:-500}
INPUT=${INPUT:-raw}

scripts/setup.sh
bin=build/cpu/src/edgeserve

echo "==> exporting model '$MODEL' into models/ (skipped if already there)"
/usr/bin/python3 tools/export_models.py --models "$MODEL" --out models

workdir=$(mktemp -d)
server_pid=
cleanup() {
  [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$workdir"
}
trap cleanup EXIT

echo "==> starting edgeserve serve (log: $workdir/server.log)"
"$bin" serve --repo models --models "$MODEL" --listen tcp://127.0.0.1:0 --workers "$CLIENTS" \
  --ready-file "$workdir/ready" >"$workdir/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 600); do
  [[ -s $workdir/ready ]] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$workdir/server.log"; echo "server failed to start" >&2; exit 1; }
  sleep 0.1
done
endpoint=$(head -n1 "$workdir/ready")
echo "==> server ready on $endpoint"

common=(--model "$MODEL" --clients "$CLIENTS" --requests "$REQUESTS" --input "$INPUT" --repo models)
echo
"$bin" bench --target "$endpoint" "${common[@]}" --out "results/demo-$MODEL-tcp"
echo
"$bin" bench --target local "${common[@]}" --out "results/demo-$MODEL-local"
