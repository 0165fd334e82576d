#!/usr/bin/env bash
# The device command that made this folder (repository root on the GPU host, OUT set, carry
# [".deps/debs", ".deps/wheels"]), tree 7ec6da4 plus the manifest and KServe range checks (no serving change).
set -u
OUT2=$OUT
OUT=build/h200s LOG_DIR=build/h200s/logs SWEEPS="experiments/ucx_paths_resnet50.toml" PACK=$OUT2/sweeps.tar.gz \
  EDGESERVE_GIT_COMMIT=7ec6da4+ TESTS=0 FP32=0 MODELS_FP16=resnet50 timeout -s INT 470 bash scripts/gpu_host_all.sh 2>&1 |
  tail -25
nvidia-smi --query-gpu=name --format=csv,noheader
