#!/usr/bin/env bash
# The UCX transport's benchmarks (issue 4), on the GPU machine, after scripts/gpu_host_build.sh:
#   fig5   ResNet50, 1 client, raw and preprocessed: local, gdr (ucx, GPU landing), rdma (ucx, host landing), tcp
#          (the paper's Fig. 5/6), then rdma and gdr again with client and server busy-polling
#          (EDGESERVE_UCX_SPIN_US=20000: no sleep while waiting, as RDMA benchmarks usually run), then busy-polling
#          without peer-failure detection (EDGESERVE_UCX_PEER_ERRORS=0), which lets UCX use CMA on one host
#   fig11  MobileNetV3 raw, 1/2/4/8/16 clients over tcp, rdma and gdr, one lane per client (the paper's Fig. 11),
#          4 I/O threads per listener (ZeroMQ I/O threads; UCX workers sharing the clients)
# Every summary.json names the UCX lanes each side used ("link"). This host has no RDMA NIC: UCX runs over
# shared memory, CUDA copy/IPC or TCP loopback here, and the results say which.
# Writes results/gpu-ucx/<run>/summary.json, results/gpu-ucx/ucx_info.txt and results/gpu-ucx/summary.md.
#   experiments/gpu_ucx.sh [export|fig5|fig11|report|all]     (default all)
set -euo pipefail
cd "$(dirname "$0")/.."
phase=${1:-all}
source build/cuda/env.sh
bin=build/cuda/src/edgeserve
models=build/cuda/ucx-models
out=results/gpu-ucx
python=${EDGESERVE_PYTHON:-python3}
REQUESTS=${REQUESTS:-1000}
SCALE_REQUESTS=${SCALE_REQUESTS:-300}
mkdir -p "$out"

run() { echo "==> $*" >&2; "$@"; }
bench() {  # bench NAME ARGS...: one run into $out/NAME, table to the log
  local name=$1
  shift
  run "$bin" bench --repo "$models" --no-progress --out "$out/$name" "$@" | tail -n +2 || echo "!! $name failed" >&2
}
source scripts/lib/background_server.sh
# start_gpu_server LANDING ARGS...: tcp and ucx listeners on cuda:0; sets $endpoint (tcp) and $ucx_endpoint.
start_gpu_server() {
  local landing=$1
  shift
  start_server "$bin" "$out/server-$landing-$(date +%s%N).log" --repo "$models" --device cuda:0 \
    --listen ucx://127.0.0.1:0 --landing "$landing" "$@"
}

if [[ $phase == export || $phase == all ]]; then
  [[ -f $models/manifest.json ]] || run "$python" tools/export_models.py --models resnet50,mobilenetv3 --out "$models"
  {
    echo "# ucx_info -v"
    ucx_info -v
    echo "# ucx_info -d | grep -E 'Transport|Device|Memory domain'"
    ucx_info -d | grep -E 'Memory domain|Transport|Device' || true
  } >"$out/ucx_info.txt" 2>&1
fi

if [[ $phase == fig5 || $phase == all ]]; then
  for input in raw preprocessed; do
    bench "fig5-resnet50-local-$input" --target local --device cuda:0 --model resnet50 --input "$input" --requests "$REQUESTS"
  done
  # UCX_PROTO_INFO: the servers log the protocol UCX picks for each message size and memory type.
  export UCX_PROTO_INFO=y
  start_gpu_server host --models resnet50 --workers 1 --io-threads 1
  for input in raw preprocessed; do
    bench "fig5-resnet50-tcp-$input" --target "$endpoint" --model resnet50 --input "$input" --requests "$REQUESTS"
    bench "fig5-resnet50-rdma-$input" --target "$ucx_endpoint" --model resnet50 --input "$input" --requests "$REQUESTS"
  done
  stop_server
  start_gpu_server cuda --models resnet50 --workers 1 --io-threads 1
  for input in raw preprocessed; do
    bench "fig5-resnet50-gdr-$input" --target "$ucx_endpoint" --model resnet50 --input "$input" --requests "$REQUESTS"
  done
  stop_server
  export EDGESERVE_UCX_SPIN_US=20000
  for variant in spin spin-nodetect; do
    [[ $variant == spin-nodetect ]] && export EDGESERVE_UCX_PEER_ERRORS=0
    for landing in host cuda; do
      name=$([[ $landing == host ]] && echo rdma || echo gdr)
      start_gpu_server "$landing" --models resnet50 --workers 1 --io-threads 1
      for input in raw preprocessed; do
        bench "fig5-resnet50-$name-$variant-$input" --target "$ucx_endpoint" --model resnet50 --input "$input" \
          --requests "$REQUESTS"
      done
      stop_server
    done
  done
  unset EDGESERVE_UCX_SPIN_US EDGESERVE_UCX_PEER_ERRORS UCX_PROTO_INFO
fi

if [[ $phase == fig11 || $phase == all ]]; then
  # fig11_series NAME LANDING [ENV=VALUE...]: a server with that landing and environment, 1..16 clients over
  # its ucx endpoint (and, for NAME rdma, over its tcp endpoint too).
  fig11_series() {
    local name=$1 landing=$2
    shift 2
    (
      for assignment in "$@"; do export "${assignment?}"; done
      start_gpu_server "$landing" --models mobilenetv3 --workers 16 --io-threads 4
      for clients in 1 2 4 8 16; do
        [[ $name == rdma ]] && bench "fig11-mobilenetv3-tcp-c$clients" --target "$endpoint" --model mobilenetv3 \
          --clients "$clients" --requests "$SCALE_REQUESTS"
        bench "fig11-mobilenetv3-$name-c$clients" --target "$ucx_endpoint" --model mobilenetv3 --clients "$clients" \
          --requests "$SCALE_REQUESTS"
      done
      stop_server
    )
  }
  fig11_series rdma host
  fig11_series gdr cuda
  fig11_series rdma-nodetect host EDGESERVE_UCX_PEER_ERRORS=0
  # The rendezvous the other way round: each client writes its payload into the server's landing buffer
  # (process_vm_writev over CMA) instead of the server's I/O threads reading it.
  fig11_series rdma-nodetect-put host EDGESERVE_UCX_PEER_ERRORS=0 UCX_RNDV_SCHEME=put_zcopy
fi

if [[ $phase == report || $phase == all ]]; then
  "$python" experiments/summarize_results.py "$out" \
    "$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | head -1), $(ucx_info -v | sed -n 's/^# Library version: /UCX /p')" \
    "experiments/gpu_ucx.sh (after scripts/gpu_host_build.sh)"
fi
