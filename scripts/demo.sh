#!/usr/bin/env bash
# The main job on an embedded default: set up, export a small model, start a server on a free loopback
# port, run the load generator against it over tcp, over ucx (UCX here runs over shared memory and TCP
# loopback, as the table's last lines say) and in-process (local), and print ONE table: each stage side by
# side, and what the network added over local.
#
#   scripts/demo.sh                      tiny model, 1 client, 500 requests, raw 640x480 frames
#   MODEL=resnet50 CLIENTS=4 REQUESTS=200 INPUT=preprocessed scripts/demo.sh
#
# Quiet: set-up (apt-get, the build), the export and the server write to results/demo-logs/; on a failure
# the end of that log is shown. Results: results/demo-<model>-{tcp,ucx,local}/{requests.csv,summary.json}.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${MODEL:-tiny}
CLIENTS=${CLIENTS:-1}
REQUESTS=${REQUESTS:-500}
INPUT=${INPUT:-raw}
logs=results/demo-logs
mkdir -p "$logs"

# step "what" LOG command...: runs the command into LOG, prints one line, or the log's end when it fails.
step() {
  local what=$1 log=$2 start=$SECONDS
  shift 2
  printf '==> %s ... ' "$what"
  if "$@" >"$log" 2>&1; then
    echo "ok ($((SECONDS - start)) s, log: $log)"
  else
    echo "FAILED (log: $log)"
    tail -n 25 "$log" >&2
    exit 1
  fi
}

step "set-up: packages (apt-get) and the build" "$logs/setup.log" scripts/setup.sh
grep -m1 '^==> installing' "$logs/setup.log" || echo "    (all packages were already installed)"
bin=build/cpu/src/edgeserve
step "exporting model '$MODEL' into models/" "$logs/export.log" \
  /usr/bin/python3 tools/export_models.py --models "$MODEL" --out models

source scripts/lib/background_server.sh
printf '==> starting edgeserve serve ... '
start_server "$bin" "$logs/server.log" --repo models --models "$MODEL" --workers "$CLIENTS" --listen ucx://127.0.0.1:0
echo "serving on $endpoint and $ucx_endpoint (log: $logs/server.log)"

common=(--model "$MODEL" --clients "$CLIENTS" --requests "$REQUESTS" --input "$INPUT" --repo models --no-progress)
for t in tcp ucx local; do
  case $t in tcp) target=$endpoint ;; ucx) target=$ucx_endpoint ;; local) target=local ;; esac
  step "bench over $t ($CLIENTS client(s) x $REQUESTS requests)" "$logs/bench-$t.log" \
    "$bin" bench --target "$target" "${common[@]}" --out "results/demo-$MODEL-$t"
done
stop_server

echo
/usr/bin/python3 scripts/lib/compare_runs.py "tcp=results/demo-$MODEL-tcp" "ucx=results/demo-$MODEL-ucx" \
  "local=results/demo-$MODEL-local"
echo
echo "Each run's own table: $logs/bench-{tcp,ucx,local}.log; every request: results/demo-$MODEL-tcp/requests.csv."
echo "Next steps: a real model (MODEL=resnet50 CLIENTS=4 scripts/demo.sh), two hosts (README: \"Two hosts\"),"
echo "a GPU (README: \"On a GPU\"), the stage names (README: \"How to read one table\")."
