#!/usr/bin/env bash
# Run on 2026-12-01 on tree b346749 (the binary says 9066b2f-dirty: the device copy's git metadata lags).
# Carry [".deps/debs", ".deps/wheels"] from scripts/gather_gpu_host_deps.sh (which now ships tcmalloc); then the
# server gives freed memory back every second (b346749). DeepLabV3 fp32 and ResNet50 at 1 and 16 clients.
set -uo pipefail
o=/tmp/v; mkdir -p $o
start=$SECONDS
bash scripts/gpu_host_build.sh > $o/build.log 2>&1 || { tail -30 $o/build.log; exit 1; }
echo "built in $((SECONDS-start)) s"
source build/cuda/env.sh
models=build/cuda/gpu-models bin=build/cuda/src/edgeserve
ldd $bin | grep -E "tcmalloc" ; $bin info | grep -E "^edgeserve|allocator"
python3 tools/export_models.py --models deeplabv3,resnet50 --out $models --device cuda --half --channels-last > $o/export.log 2>&1 || { tail $o/export.log; exit 1; }
summary() { python3 -c "import json,sys; j=json.load(open(sys.argv[1])); m=j['metrics']; c=j['client-usage']; \
print(' '.join(f\"{k.split('-')[0]} {m[k]['p50']:.3f}\" for k in ['total-time','request-time','response-time','copy-time','queue-time','inference-time']), \
f\"| p99 {m['total-time']['p99']:.3f} | {j['throughput_rps']:.0f} req/s | server cpu {j['cpu-usage']['server_cpu_ms_per_request']:.2f} | client cpu {c['cpu_ms_per_request']:.2f} faults {c['minor_page_faults_per_request']:.0f} | {j['edgeserve']['allocator']}\")" "$1/summary.json" 2>/dev/null; }
ready=$(mktemp); rm -f $ready
$bin serve --repo $models --models deeplabv3-fp16-cl,resnet50-fp16-cl --device cuda:0 --workers 16 --ready-file $ready \
  --listen tcp://127.0.0.1:5555 --listen ucx://127.0.0.1:5556 --listen grpc://127.0.0.1:8001 --listen http://127.0.0.1:8000 > $o/server.log 2>&1 &
server=$!
for _ in $(seq 240); do [[ -s $ready ]] && break; sleep 0.5; done
grep -m1 "memory allocator" $o/server.log
for run in "deeplabv3-fp16-cl tcp://127.0.0.1:5555 1 300 --output-dtype=float32" "deeplabv3-fp16-cl ucx://127.0.0.1:5556 1 300 --output-dtype=float32" \
           "deeplabv3-fp16-cl local 1 300 --output-dtype=float32 --device=cuda:0" \
           "resnet50-fp16-cl tcp://127.0.0.1:5555 1 3000" "resnet50-fp16-cl ucx://127.0.0.1:5556 1 3000" \
           "resnet50-fp16-cl grpc://127.0.0.1:8001 1 3000" "resnet50-fp16-cl http://127.0.0.1:8000 1 3000" \
           "resnet50-fp16-cl tcp://127.0.0.1:5555 16 1000" "resnet50-fp16-cl ucx://127.0.0.1:5556 16 1000"; do
  set -- $run; name=${1%%-*}-${2%%:*}-c$3
  $bin bench --target $2 --repo $models --model $1 --input preprocessed --clients $3 --requests $4 ${5:-} ${6:-} \
    --warmup 30 --no-progress --out $o/$name > $o/$name.log 2>&1
  echo "$name: $(summary $o/$name || tail -3 $o/$name.log)"
  rm -f $o/$name/requests.csv
done
kill -INT $server; wait $server
echo "done at $((SECONDS-start)) s"
tar -czf $OUT/verify.tar.gz -C /tmp v
