#!/usr/bin/env bash
# The device command that made this folder (run from the repository root on the GPU host, OUT set, carry
# [".deps/debs", ".deps/wheels"]), on the tree of ../device-call.sh's run (d8af1ea, per-queue wake-ups) plus the
# manifest-parser fix (no scheduler or transport change). Tests off: the sweeps only.
set -u
OUT2=$OUT
OUT=build/h200s LOG_DIR=build/h200s/logs SWEEPS="experiments/ucx_scaling.toml experiments/ucx_scaling_resnet50.toml" \
  PACK=$OUT2/sweeps.tar.gz EDGESERVE_GIT_COMMIT=d8af1ea+ TESTS=0 MODELS=mobilenetv3,resnet50 MODELS_FP16=resnet50 \
  timeout -s INT 540 bash scripts/gpu_host_all.sh 2>&1 | tail -40
