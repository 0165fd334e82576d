#!/usr/bin/env bash
# The main job on an embedded default: set up, export a small model, start a server on a free loopback
# port, run the load generator against it over tcp, over ucx (UCX here runs over shared memory and TCP
# loopback, as its table's `link:` line says), and in-process (local), and print per-stage tables.
#
#   scripts/demo.sh                      tiny model, 1 client, 500 requests, raw 640x480 frames
#   MODEL=resnet50 CLIENTS=4 REQUESTS=200 scripts/demo.sh
#
# Results: results/demo-<model>-{tcp,ucx,local}/{requests.csv,summary.json}.
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

source scripts/lib/background_server.sh
log=$(mktemp)
echo "==> starting edgeserve serve (log: $log)"
start_server "$bin" "$log" --repo models --models "$MODEL" --workers "$CLIENTS" --listen ucx://127.0.0.1:0
echo "==> server ready on $endpoint and $ucx_endpoint"

common=(--model "$MODEL" --clients "$CLIENTS" --requests "$REQUESTS" --input "$INPUT" --repo models)
echo
"$bin" bench --target "$endpoint" "${common[@]}" --out "results/demo-$MODEL-tcp"
echo
"$bin" bench --target "$ucx_endpoint" "${common[@]}" --out "results/demo-$MODEL-ucx"
echo
"$bin" bench --target local "${common[@]}" --out "results/demo-$MODEL-local"
