#!/usr/bin/env bash
# The second device command of this folder (repository root on the GPU host, OUT set, carry
# [".deps/debs", ".deps/wheels"]): the build, the YOLOv4 fp16-cl export and fifo_check.toml. Each finished
# point is packed into $OUT as it goes, so a call cut short still brings back what it measured.
set -u
export OUT2=$OUT
( while sleep 20; do tar czf "$OUT2/fifo.tar.gz" build/fifo 2>/dev/null; done ) &
OUT=build/fifo LOG_DIR=build/fifo/logs SWEEPS="results/gpu-priority-limit/fifo_check.toml" PACK=$OUT2/fifo.tar.gz \
  EDGESERVE_GIT_COMMIT=${EDGESERVE_GIT_COMMIT:-unknown} TESTS=0 FP32=0 MODELS=yolov4 MODELS_FP16=yolov4 \
  bash scripts/gpu_host_all.sh 2>&1 | tail -12
kill %1 2>/dev/null
