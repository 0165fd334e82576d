#!/usr/bin/env bash
# The device command that made this folder (run from the repository root on the GPU host with OUT set and
# carry [".deps/debs", ".deps/wheels"]): the cuda build, the YOLOv4 fp16-cl export, and
# experiments/priority_gpu.toml (streams, gate, gate-limit1, gate-limit4; gdr, rdma, tcp; 1, 8, 16 clients),
# every variant side by side in one run. Tests off: the sweep only.
set -u
OUT2=$OUT
OUT=build/prio LOG_DIR=build/prio/logs SWEEPS="experiments/priority_gpu.toml" PACK=$OUT2/sweeps.tar.gz \
  EDGESERVE_GIT_COMMIT=${EDGESERVE_GIT_COMMIT:-unknown} TESTS=0 FP32=0 MODELS=yolov4 MODELS_FP16=yolov4 \
  timeout -s INT 555 bash scripts/gpu_host_all.sh 2>&1 | tail -30
