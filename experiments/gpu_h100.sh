#!/usr/bin/env bash
# The GPU data path's benchmarks (issue 3), on the GPU machine, after scripts/gpu_host_build.sh:
#   1. plain cudaMemcpy of the request/response sizes (the reference for copy-time)
#   2. ResNet50, 1 client, 1000 requests, raw and preprocessed, local vs tcp (paper Fig. 5/6)
#   3. the six paper models' inference-time: PyTorch eager fp32 vs CUDA graph fp32 vs CUDA graph fp16
#      channels-last (local, preprocessed)
#   4. ResNet50 raw over tcp, 1/4/16 clients: per-client lanes (16 workers) vs a pool of 1 lane (Fig. 15)
#   5. YOLOv4 preprocessed over tcp, 8 clients of which 1 flags priority, policy priority on 4 lanes (Fig. 16)
# `local` on the GPU places the input in device memory once (no data movement, the paper's lower bound);
# fig5-*-local-host-input runs show the same pipeline with the input copied from host memory.
# Writes results/gpu-h100/<run>/summary.json (+ requests.csv) and results/gpu-h100/summary.md.
#   experiments/gpu_h100.sh [export|fig5|models|fig15|fig16|report|all]     (default all)
set -euo pipefail
cd "$(dirname "$0")/.."
phase=${1:-all}
source build/cuda/env.sh
bin=build/cuda/src/edgeserve
models=build/cuda/gpu-models
out=results/gpu-h100
python=${EDGESERVE_PYTHON:-python3}
mkdir -p "$out"
REQUESTS=${REQUESTS:-1000}
MODEL_REQUESTS=${MODEL_REQUESTS:-300}
SCALE_REQUESTS=${SCALE_REQUESTS:-300}
paper_models=(mobilenetv3 resnet50 efficientnetb0 wideresnet101 yolov4 deeplabv3)

run() { echo "==> $*" >&2; "$@"; }
bench() {  # bench NAME ARGS...: one run into $out/NAME, table to the log
  local name=$1
  shift
  run "$bin" bench --repo "$models" --no-progress --out "$out/$name" "$@" | tail -n +2 || echo "!! $name failed" >&2
}

source scripts/lib/background_server.sh
# start_gpu_server ARGS...: a server on cuda:0 with the benchmark models; sets $endpoint.
start_gpu_server() { start_server "$bin" "$out/server-$(date +%s%N).log" --repo "$models" --device cuda:0 "$@"; }

if [[ $phase == export || $phase == all ]]; then
  run "$python" tools/export_models.py --models paper --out "$models"
  run "$python" tools/export_models.py --models paper --out "$models" --device cuda --half --channels-last ||
    echo "!! fp16 export failed: the fp16-cl runs of the models it did not reach will fail" >&2
fi

if [[ $phase == fig5 || $phase == all ]]; then
  run build/cuda/edgeserve_memcpy_probe 602112 921600 4000 | tee "$out/memcpy_probe.json"
  for input in raw preprocessed; do
    bench "fig5-resnet50-local-$input" --target local --device cuda:0 --model resnet50 --input "$input" --requests "$REQUESTS"
    bench "fig5-resnet50-local-host-input-$input" --target local --device cuda:0 --model resnet50 --input "$input" \
      --requests "$REQUESTS" --local-input-on-host
  done
  start_gpu_server --models resnet50 --workers 1
  for input in raw preprocessed; do
    bench "fig5-resnet50-tcp-$input" --target "$endpoint" --model resnet50 --input "$input" --requests "$REQUESTS"
  done
  stop_server
fi

if [[ $phase == models || $phase == all ]]; then
  for m in "${paper_models[@]}"; do
    bench "models-$m-eager" --target local --device cuda:0 --model "$m" --input preprocessed --requests "$MODEL_REQUESTS" --no-cuda-graphs
    bench "models-$m-graph" --target local --device cuda:0 --model "$m" --input preprocessed --requests "$MODEL_REQUESTS"
    bench "models-$m-fp16-cl-graph" --target local --device cuda:0 --model "$m-fp16-cl" --input preprocessed --requests "$MODEL_REQUESTS"
  done
fi

if [[ $phase == fig15 || $phase == all ]]; then
  for setup in "per-client 16" "pool 1"; do
    read -r policy workers <<<"$setup"
    start_gpu_server --models resnet50 --workers "$workers" --policy "$policy"
    for clients in 1 4 16; do
      bench "fig15-resnet50-$policy$workers-c$clients" --target "$endpoint" --model resnet50 --clients "$clients" \
        --requests "$SCALE_REQUESTS"
    done
    stop_server
  done
fi

if [[ $phase == fig16 || $phase == all ]]; then
  start_gpu_server --models yolov4 --workers 4 --policy priority
  bench "fig16-yolov4-priority4-c8-p1" --target "$endpoint" --model yolov4 --clients 8 --priority-clients 1 \
    --input preprocessed --requests 200
  stop_server
fi

if [[ $phase == report || $phase == all ]]; then
  "$python" experiments/summarize_results.py "$out" "$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | head -1)" \
    "experiments/gpu_h100.sh (after scripts/gpu_host_build.sh)"
fi
