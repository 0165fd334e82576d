#!/usr/bin/env bash
set -u
t0=$SECONDS
bash scripts/gpu_host_build.sh > $OUT/build.log 2>&1 || { tail -30 $OUT/build.log; exit 1; }
echo "build $((SECONDS-t0)) s; commit $(git rev-parse --short HEAD)"
W=/tmp/h200-kserve/run-$(date +%Y%m%d-%H%M)
CLIENTS=1 ROUNDS=0 bash scripts/gpu_host_kserve.sh $W > $OUT/kserve.log 2>&1; echo "kserve rc $? $((SECONDS-t0)) s"
cat $OUT/kserve.log; cp $W.tar.gz $OUT/
