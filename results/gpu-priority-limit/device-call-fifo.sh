#!/usr/bin/env bash
# The second device command of this folder (repository root on the GPU host, OUT set, carry
# [".deps/debs", ".deps/wheels"]): the build, the YOLOv4 fp16-cl export and fifo_check.toml. What has finished
# is packed into $OUT every 20 s, so a call cut short still brings back what it measured.
set -u
pack() { mkdir -p build/fifo && tar czf "$OUT/fifo.tmp.tar.gz" build/fifo && mv "$OUT/fifo.tmp.tar.gz" "$OUT/fifo.tar.gz"; }
( while sleep 20; do pack; done ) &
packer=$!
OUT=build/fifo LOG_DIR=build/fifo/logs SWEEPS="results/gpu-priority-limit/fifo_check.toml" \
  EDGESERVE_GIT_COMMIT=${EDGESERVE_GIT_COMMIT:-unknown} TESTS=0 FP32=0 MODELS=yolov4 MODELS_FP16=yolov4 \
  bash scripts/gpu_host_all.sh 2>&1 | tail -12
kill $packer 2>/dev/null
wait $packer 2>/dev/null
pack
