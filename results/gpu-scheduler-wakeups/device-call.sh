#!/usr/bin/env bash
# The device command of this folder, run from the repository root on the GPU host with OUT set and
# carry [".deps/debs", ".deps/wheels", ".deps/old"] (.deps/old: src/server/scheduler.{h,cpp} of f124690, the tree
# before per-queue wake-ups). Builds the tree (NEW), rebuilds it with the old scheduler (OLD), exports ResNet50
# fp16-cl, then scripts/compare_builds.sh: 16 lanes at 1 and 16 clients (issue 12's set-up), 64 lanes at 64 clients
# (issue 13's collapse). Everything lands in OUT/run.tar.gz (the transfer brings back few files).
set -u
t0=$SECONDS
echo "tree $(cat .deps/old/TREE 2>/dev/null || echo '?'); $(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)"
bash scripts/gpu_host_build.sh >"$OUT/build.log" 2>&1 || { tail -30 "$OUT/build.log"; exit 1; }
source build/cuda/env.sh
mkdir -p /tmp/ab/new /tmp/ab/old
cp build/cuda/src/edgeserve /tmp/ab/new/ && cp src/server/scheduler.h src/server/scheduler.cpp /tmp/ab/
cp .deps/old/scheduler.h .deps/old/scheduler.cpp src/server/
cmake --build --preset cuda --target edgeserve >>"$OUT/build.log" 2>&1 || { tail -30 "$OUT/build.log"; exit 1; }
cp build/cuda/src/edgeserve /tmp/ab/old/ && cp /tmp/ab/scheduler.h /tmp/ab/scheduler.cpp src/server/
# Rebuilt now so that build/cuda ends as the tree says: the next call's copy of the tree gives these files their
# old mtimes back, older than OLD's objects, and ninja would link OLD's scheduler into the next build.
cmake --build --preset cuda >>"$OUT/build.log" 2>&1 || { tail -30 "$OUT/build.log"; exit 1; }
echo "builds $((SECONDS - t0)) s"
models=build/cuda/gpu-models
python3 tools/export_models.py --models resnet50 --out $models --device cuda --half --channels-last \
  >"$OUT/export.log" 2>&1 || { tail -20 "$OUT/export.log"; exit 1; }
echo "export $((SECONDS - t0)) s"
r=$OUT/run
mkdir -p "$r"
ab() {  # ab NAME [VAR=VALUE ...]: one compare_builds.sh run
  local name=$1
  shift
  env MODEL=resnet50-fp16-cl REPO=$models DEVICE=cuda:0 ROUNDS=2 "$@" \
    scripts/compare_builds.sh /tmp/ab/old/edgeserve /tmp/ab/new/edgeserve "$r/$name" >"$r/$name.log" 2>&1
  echo "== $name (rc $?, $((SECONDS - t0)) s)"
  tail -6 "$r/$name.log"
  find "$r/$name" -name requests.csv -delete
}
ab lanes16 WORKERS=16 CLIENTS="1 16" REQUESTS=1000 LINKS="tcp ucx local"
ab lanes64 WORKERS=64 CLIENTS=64 REQUESTS=150 LINKS="tcp ucx" READY_WAIT_S=240
tar -czf "$OUT/run.tar.gz" -C "$OUT" run && rm -rf "$r"
