#!/usr/bin/env bash
# Which UCX protocol carries each edgeserve message on this host: starts `serve` on a ucx:// port with
# UCX_PROTO_INFO=y, sends a few requests with `bench`, and keeps UCX's protocol tables of both sides.
#   scripts/ucx_proto_info.sh OUT_DIR [MODEL] [LANDING] [DEVICE]     (defaults: tiny host cpu)
#   scripts/ucx_proto_info.sh results/proto mobilenetv3 cuda cuda:0    # the gdr path on a GPU host
# Needs EDGESERVE (default build/cuda/src/edgeserve, else build/cpu/src/edgeserve) and REPO (default models).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: $0 OUT_DIR [MODEL] [LANDING] [DEVICE]}
model=${2:-tiny} landing=${3:-host} device=${4:-cpu}
bin=${EDGESERVE:-$([[ -x build/cuda/src/edgeserve ]] && echo build/cuda/src/edgeserve || echo build/cpu/src/edgeserve)}
repo=${REPO:-models}
mkdir -p "$out"
ready=$(mktemp -u)
UCX_PROTO_INFO=y "$bin" serve --repo "$repo" --models "$model" --device "$device" --landing "$landing" \
  --listen ucx://127.0.0.1:0 --ready-file "$ready" >"$out/server-$landing.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -f "$ready"' EXIT
for _ in $(seq 600); do [[ -s $ready ]] && break; kill -0 $server 2>/dev/null || break; sleep 0.1; done
[[ -s $ready ]] || { echo "ucx_proto_info: the server did not start:" >&2; tail "$out/server-$landing.log" >&2; exit 1; }
target=$(grep -o 'ucx://[0-9.:]*' "$ready" | head -1)
UCX_PROTO_INFO=y "$bin" bench --target "$target" --repo "$repo" --model "$model" --requests 20 --warmup 2 \
  --out "$out/bench-$landing" >"$out/bench-$landing.log" 2>&1
# The tables: UCX prints them with a timestamp prefix; keep the table lines only.
for side in server bench; do
  grep -E '\| ' "$out/$side-$landing.log" | sed 's/^\[[0-9.]*\] \[[^]]*\] *//' >"$out/proto-$side-$landing.txt" || true
done
echo "lanes: $(grep -o 'UCX lanes \[[^]]*\]' "$out/server-$landing.log" | head -1)"
echo "protocol tables: $out/proto-server-$landing.txt, $out/proto-bench-$landing.txt"
