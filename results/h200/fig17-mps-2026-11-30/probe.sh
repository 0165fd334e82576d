#!/usr/bin/env bash
set -u
exec > $OUT/dev3.log 2>&1
source build/cuda/env.sh
M=build/cuda/gpu-models; E=build/cuda/src/edgeserve
mps_probe() { # NAME LISTEN ENV...
  local name=$1 listen=$2; shift 2
  local d=/tmp/mps3-$name; rm -rf $d; mkdir -p $d/pipe $d/log
  export CUDA_MPS_PIPE_DIRECTORY=$d/pipe CUDA_MPS_LOG_DIRECTORY=$d/log
  nvidia-cuda-mps-control -d
  local pids=() ok=0
  for i in 0 1 2 3 4 5 6 7; do
    env "$@" $E serve --repo $M --models efficientnetb0 --device cuda:0 --listen $listen --workers 1 --io-threads 1 --ready-file $d/r$i > $d/server-$i.log 2>&1 &
    pids+=($!)
    for k in $(seq 60); do [[ -f $d/r$i ]] && break; kill -0 ${pids[-1]} 2>/dev/null || break; sleep 0.5; done
    [[ -f $d/r$i ]] && ok=$((ok+1)) || { echo "  server $i failed: $(grep -m1 -o 'error.*' $d/server-$i.log | cut -c1-120)"; break; }
  done
  echo "MPS $name ($listen $*): $ok servers up"
  kill ${pids[@]} 2>/dev/null; for p in ${pids[@]}; do wait $p 2>/dev/null; done
  echo quit | nvidia-cuda-mps-control; sleep 1
  unset CUDA_MPS_PIPE_DIRECTORY CUDA_MPS_LOG_DIRECTORY
}
mps_probe ucx2 ucx://127.0.0.1:0 CUDA_DEVICE_MAX_CONNECTIONS=2
mps_probe ucx1 ucx://127.0.0.1:0 CUDA_DEVICE_MAX_CONNECTIONS=1
mps_probe ucx1-nocuda ucx://127.0.0.1:0 CUDA_DEVICE_MAX_CONNECTIONS=1 UCX_TLS=^cuda_ipc
mps_probe tcp2 tcp://127.0.0.1:0 CUDA_DEVICE_MAX_CONNECTIONS=2
grep -h -i "connections\|channel\|error\|fail" /tmp/mps3-ucx2/log/server.log | head -8
