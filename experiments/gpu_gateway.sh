#!/usr/bin/env bash
# The gateway's benchmarks (issue 5), on the GPU machine, after scripts/gpu_host_build.sh: the paper's proxied
# connections (Fig. 10 and 14) on one host. Two GPU servers (requests landing in host memory: tcp and rdma;
# in GPU memory: gdr), a gateway in front of each combination, MobileNetV3 raw 640×480, 1 and 16 clients:
#   direct:  tcp, rdma, gdr                       (client → server)
#   proxied: tcp/tcp, tcp/rdma, tcp/gdr, rdma/rdma, rdma/gdr   (client -front→ gateway -back→ server)
# Every summary.json names the UCX lanes its front link used; this host has no RDMA NIC (shared memory, CUDA
# IPC, TCP loopback), so "rdma"/"gdr" say where requests land, not that an RDMA NIC carried them.
# Writes results/gpu-gateway/<run>/summary.json and results/gpu-gateway/summary.md.
#   experiments/gpu_gateway.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source build/cuda/env.sh
bin=build/cuda/src/edgeserve
models=build/cuda/ucx-models
out=results/gpu-gateway
python=${EDGESERVE_PYTHON:-python3}
REQUESTS=${REQUESTS:-300}
mkdir -p "$out"
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$work"' EXIT

run() { echo "==> $*" >&2; "$@"; }
# wait_ready FILE PID LOG: until FILE exists (the process writes its endpoints there once serving).
wait_ready() {
  for _ in $(seq 1200); do
    [[ -s $1 ]] && return 0
    kill -0 "$2" 2>/dev/null || { tail -n 20 "$3" >&2; echo "!! process for $1 died" >&2; return 1; }
    sleep 0.1
  done
  echo "!! $1 never appeared" >&2
  return 1
}
# start NAME ARGS...: `edgeserve ARGS --ready-file ...` in the background; its endpoints in $work/NAME.
start() {
  local name=$1
  shift
  "$bin" "$@" --ready-file "$work/$name" >"$out/$name.log" 2>&1 &
  pids+=($!)
  wait_ready "$work/$name" "$!" "$out/$name.log"
}
endpoint() { grep -m1 "^$2://" "$work/$1"; }  # endpoint NAME SCHEME
bench() {  # bench RUN TARGET CLIENTS
  run "$bin" bench --repo "$models" --model mobilenetv3 --no-progress --requests "$REQUESTS" --clients "$3" \
    --target "$2" --out "$out/$1" | tail -n +2 || echo "!! $1 failed" >&2
}

[[ -f $models/manifest.json ]] || run "$python" tools/export_models.py --models resnet50,mobilenetv3 --out "$models"
serve=(serve --repo "$models" --models mobilenetv3 --device cuda:0 --workers 16 --io-threads 4)
start host "${serve[@]}" --listen tcp://127.0.0.1:0 --listen ucx://127.0.0.1:0 --landing host
start cuda "${serve[@]}" --listen ucx://127.0.0.1:0 --landing cuda
declare -A backend=([tcp]=$(endpoint host tcp) [rdma]=$(endpoint host ucx) [gdr]=$(endpoint cuda ucx))

for clients in 1 16; do
  for link in tcp rdma gdr; do bench "direct-$link-c$clients" "${backend[$link]}" "$clients"; done
done
for combo in tcp/tcp tcp/rdma tcp/gdr rdma/rdma rdma/gdr; do
  front=${combo%/*} back=${combo#*/}
  name=gateway-${front}-${back}
  front_uri=$([[ $front == tcp ]] && echo tcp://127.0.0.1:0 || echo ucx://127.0.0.1:0)
  start "$name" gateway --listen "$front_uri" --backend "${backend[$back]}" --workers 32 --io-threads 4
  front_scheme=$([[ $front == tcp ]] && echo tcp || echo ucx)
  for clients in 1 16; do bench "proxied-$front-$back-c$clients" "$(endpoint "$name" "$front_scheme")" "$clients"; done
  kill "${pids[-1]}"
  wait "${pids[-1]}" 2>/dev/null || true
  unset 'pids[-1]'
done

"$python" experiments/summarize_results.py "$out" \
  "$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | head -1), $(ucx_info -v | sed -n 's/^# Library version: /UCX /p')" \
  "experiments/gpu_gateway.sh (after scripts/gpu_host_build.sh)"
