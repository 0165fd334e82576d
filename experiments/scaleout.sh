#!/usr/bin/env bash
# Scale-out (issue 7): one server per GPU behind the balancing gateway, against one server alone, on the GPU
# machine after scripts/gpu_host_build.sh. ResNet50 and MobileNetV3, raw 640×480 frames, 1..32 clients through
# the gateway (tcp front, ucx backends landing in host memory):
#   GPUS="0 1"   experiments/scaleout.sh     the 2-GPU run (nvidia-h100-x2 or -h200-x2): one server on each GPU
#   GPUS="0 0"   experiments/scaleout.sh     multi-process mode on one GPU: two servers share cuda:0
# "1 server" runs go through the same gateway with one backend, so the two setups differ only in the backends.
# Knobs: SERVER_IO_THREADS (4: UCX workers per server), GATEWAY_WORKERS (64: forwarding threads); UCX_* and
# EDGESERVE_UCX_* variables reach every process (e.g. EDGESERVE_UCX_PEER_ERRORS=0 UCX_RNDV_SCHEME=put_zcopy).
# Writes results/scaleout-<gpus>/<run>/summary.json and summary.md.
set -euo pipefail
cd "$(dirname "$0")/.."
source build/cuda/env.sh
bin=build/cuda/src/edgeserve
models=build/cuda/ucx-models
read -r -a gpus <<<"${GPUS:-0 1}"
out=${OUT:-results/scaleout-$(IFS=-; echo "${gpus[*]}")}  # OUT=... keeps runs with other knobs apart
python=${EDGESERVE_PYTHON:-python3}
REQUESTS=${REQUESTS:-200}
CLIENTS=${CLIENTS:-1 8 16 32}
MODELS=${MODELS:-mobilenetv3 resnet50}
SERVER_IO_THREADS=${SERVER_IO_THREADS:-4}
GATEWAY_WORKERS=${GATEWAY_WORKERS:-64}
mkdir -p "$out"
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$work"' EXIT

run() { echo "==> $*" >&2; "$@"; }
start() {  # start NAME ARGS...: `edgeserve ARGS` in the background, waiting for its ready file
  local name=$1
  shift
  "$bin" "$@" --ready-file "$work/$name" >"$out/$name.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1200); do
    [[ -s $work/$name ]] && return 0
    kill -0 "${pids[-1]}" 2>/dev/null || { tail -n 20 "$out/$name.log" >&2; return 1; }
    sleep 0.1
  done
  return 1
}
stop_last() {
  kill "${pids[-1]}"
  wait "${pids[-1]}" 2>/dev/null || true
  unset 'pids[-1]'
}

[[ -f $models/manifest.json ]] || run "$python" tools/export_models.py --models resnet50,mobilenetv3 --out "$models"
nvidia-smi --query-gpu=index,name --format=csv,noheader >"$out/gpus.txt" || true
for model in $MODELS; do
  backends=()
  for i in "${!gpus[@]}"; do
    start "server-$model-$i" serve --repo "$models" --models "$model" --device "cuda:${gpus[$i]}" --workers 16 \
      --io-threads "$SERVER_IO_THREADS" --listen ucx://127.0.0.1:0
    backends+=("$(head -n1 "$work/server-$model-$i")")
  done
  for k in 1 "${#backends[@]}"; do
    args=()
    for b in "${backends[@]:0:$k}"; do args+=(--backend "$b"); done
    start "gateway-$model-k$k" gateway --listen tcp://127.0.0.1:0 --workers "$GATEWAY_WORKERS" --io-threads 4 "${args[@]}"
    for clients in $CLIENTS; do
      run "$bin" bench --repo "$models" --model "$model" --no-progress --requests "$REQUESTS" --clients "$clients" \
        --target "$(head -n1 "$work/gateway-$model-k$k")" --out "$out/$model-servers$k-c$clients" | tail -n +2 ||
        echo "!! $model-servers$k-c$clients failed" >&2
    done
    stop_last
  done
  for _ in "${backends[@]}"; do stop_last; done
done

"$python" experiments/summarize_results.py "$out" \
  "$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | head -1) × ${#gpus[@]} server(s) on GPUs ${gpus[*]}" \
  "GPUS=\"${gpus[*]}\" SERVER_IO_THREADS=$SERVER_IO_THREADS GATEWAY_WORKERS=$GATEWAY_WORKERS experiments/scaleout.sh"
