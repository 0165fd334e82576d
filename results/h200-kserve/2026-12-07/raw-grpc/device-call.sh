#!/usr/bin/env bash
# The device command of this folder (tree 85f45ca: grpc:// ModelInfer as raw byte buffers; CUDA regions read in place), run from the repository
# root on the GPU host with OUT set: build, then scripts/gpu_host_kserve.sh at 1 client (no overhead rounds).
set -u
t0=$SECONDS
echo "tree 85f45ca (grpc:// raw ModelInfer, CUDA regions in place); $(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)"
bash scripts/gpu_host_build.sh > $OUT/build.log 2>&1 || { tail -30 $OUT/build.log; exit 1; }
echo "build $((SECONDS-t0)) s"
# Straight into OUT, so that a call cut short still brings back what ran. One client, perf_analyzer without, with system and with CUDA shared memory.
CLIENTS=1 ROUNDS=0 PA_MEMORY="none system cuda" bash scripts/gpu_host_kserve.sh $OUT/run > $OUT/kserve.log 2>&1; echo "kserve rc $? $((SECONDS-t0)) s"
cat $OUT/kserve.log
# run.tar.gz stays: the transfer brings back a limited number of files, and the tarball holds them all.
