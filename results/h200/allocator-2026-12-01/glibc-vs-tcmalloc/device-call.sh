#!/usr/bin/env bash
# Kept as run on 2026-12-01 (tree 9066b2f plus this script): the allocators are switched by
# LD_PRELOAD (Debian 12's libtcmalloc-minimal4 2.10, `apt-get download` into .deps/extra) and GLIBC_TUNABLES.
# dev-faults.py (beside it) was in the repository root. Carry [".deps/debs", ".deps/wheels", ".deps/extra"].
# Device experiment: does the allocator decide DeepLabV3's tcp reply time (client page faults on 45 MB frames)?
set -uo pipefail
o=/tmp/o; mkdir -p $o
git log -1 --format=%H > $o/tree.txt 2>/dev/null; git status --short >> $o/tree.txt 2>/dev/null
cat /sys/kernel/mm/transparent_hugepage/enabled /sys/kernel/mm/transparent_hugepage/defrag > $o/thp.txt
ldd --version | head -1 >> $o/thp.txt
start=$SECONDS
bash scripts/gpu_host_build.sh > $o/build.log 2>&1 || { tail -30 $o/build.log; exit 1; }
echo "built in $((SECONDS-start)) s"
source build/cuda/env.sh
models=build/cuda/gpu-models bin=build/cuda/src/edgeserve
python3 tools/export_models.py --models deeplabv3,resnet50 --out $models --device cuda --half --channels-last > $o/export.log 2>&1 || { tail $o/export.log; exit 1; }
echo "exported at $((SECONDS-start)) s"
mkdir -p /tmp/tcm && dpkg -x .deps/extra/libtcmalloc-minimal4_*.deb /tmp/tcm
tcm=$(ls /tmp/tcm/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4)
declare -A envs=([default]="" [tcmalloc]="LD_PRELOAD=$tcm" [nommap]="GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=1073741824" [default2]="" [tcmalloc2]="LD_PRELOAD=$tcm"
  [thresholds]="GLIBC_TUNABLES=glibc.malloc.trim_threshold=1073741824:glibc.malloc.mmap_threshold=33554432")
summary() { python3 -c "import json,sys; j=json.load(open(sys.argv[1])); m=j['metrics']; \
print(' '.join(f\"{k.split('-')[0]} {m[k]['p50']:.3f}\" for k in ['total-time','request-time','response-time','copy-time','queue-time','inference-time']), \
f\"| p99 {m['total-time']['p99']:.3f} | {j['throughput_rps']:.0f} req/s | server cpu {j['cpu-usage']['server_cpu_ms_per_request']:.2f}\")" "$1/summary.json" 2>/dev/null; }
sfaults() { awk '{print $10}' /proc/$1/stat; }
for v in default tcmalloc nommap default2 tcmalloc2; do
  ready=$(mktemp); rm -f $ready
  env ${envs[$v]} $bin serve --repo $models --models deeplabv3-fp16-cl,resnet50-fp16-cl --device cuda:0 --workers 16 \
    --ready-file $ready --listen tcp://127.0.0.1:5555 --listen grpc://127.0.0.1:8001 --listen http://127.0.0.1:8000 > $o/server-$v.log 2>&1 &
  server=$!
  for _ in $(seq 240); do [[ -s $ready ]] && break; sleep 0.5; done
  [[ -s $ready ]] || { echo "$v: serve did not start"; tail -5 $o/server-$v.log; kill $server; continue; }
  for run in "deeplabv3-fp16-cl tcp://127.0.0.1:5555 300 --output-dtype=float32" "resnet50-fp16-cl tcp://127.0.0.1:5555 3000" \
             "resnet50-fp16-cl grpc://127.0.0.1:8001 3000" "resnet50-fp16-cl http://127.0.0.1:8000 3000"; do
    set -- $run; name=$v-${1%%-*}-${2%%:*}
    f0=$(sfaults $server)
    env ${envs[$v]} python3 dev-faults.py $bin bench --target $2 --repo $models --model $1 --input preprocessed ${4:-} \
      --requests $3 --warmup 30 --no-progress --out $o/$name > $o/$name.log 2>&1
    f1=$(sfaults $server)
    echo "$name: $(summary $o/$name) | server faults/req $(( (f1-f0)/($3+30) )) | $(grep client-faults $o/$name.log)"
    rm -f $o/$name/requests.csv
  done
  kill -INT $server; wait $server
done
echo "done at $((SECONDS-start)) s"
tar -czf $OUT/malloc.tar.gz -C /tmp o
