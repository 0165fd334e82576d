#!/usr/bin/env bash
set -u
t0=$SECONDS
bash scripts/gpu_host_build.sh > $OUT/build.log 2>&1 || { tail -30 $OUT/build.log; exit 1; }
echo "build $((SECONDS-t0)) s; commit $(git rev-parse --short HEAD)"; source build/cuda/env.sh
M=build/cuda/gpu-models
[[ -f $M/efficientnetb0.pt ]] || python3 tools/export_models.py --models efficientnetb0 --out $M > $OUT/export.log 2>&1 &
W=/tmp/h200-kserve/run-$(date +%Y%m%d-%H%M)
bash scripts/gpu_host_kserve.sh $W > $OUT/kserve.log 2>&1; echo "kserve rc $? $((SECONDS-t0)) s"
cat $OUT/kserve.log; cp $W.tar.gz $OUT/; wait
