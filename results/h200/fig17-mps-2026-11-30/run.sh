#!/usr/bin/env bash
# Device call 2: fig17's MPS points with CUDA_DEVICE_MAX_CONNECTIONS=2; perf_analyzer over http:// with connection-numbered clients.
set -u
exec > $OUT/dev2.log 2>&1
t0=$SECONDS
bash scripts/gpu_host_build.sh > $OUT/build.log 2>&1 || { tail -30 $OUT/build.log; exit 1; }
echo "build $((SECONDS-t0)) s; commit $(git rev-parse --short HEAD)"; source build/cuda/env.sh
M=build/cuda/gpu-models; E=build/cuda/src/edgeserve
[[ -f $M/efficientnetb0.pt && -f $M/resnet50-fp16-cl.pt ]] || { python3 tools/export_models.py --models resnet50 --out $M --device cuda --half --channels-last > $OUT/export.log 2>&1 & XP=$!; python3 tools/export_models.py --models efficientnetb0 --out $M >> $OUT/export.log 2>&1; wait $XP; }
[[ -x /tmp/pa/perf_analyzer/bin/perf_analyzer ]] || { python3 -m zipfile -e .deps/wheels/perf_analyzer-*.whl /tmp/pa && chmod +x /tmp/pa/perf_analyzer/bin/*; }
PA=/tmp/pa/perf_analyzer/bin/perf_analyzer
lo() { awk '/^TcpExt:/{if(!h){split($0,n);h=1}else{split($0,v);for(i=1;i<=length(n);i++) if(n[i]=="ListenOverflows") printf "%s=%s\n",n[i],v[i]}}' /proc/net/netstat; }
if [[ ${KSERVE:-1} == 1 ]]; then
$E serve --repo $M --models resnet50-fp16-cl --device cuda:0 --listen tcp://127.0.0.1:5555 --listen http://127.0.0.1:8000 --workers 16 --ready-file /tmp/r2 > $OUT/server-http.log 2>&1 &
SP=$!
for i in $(seq 120); do [[ -f /tmp/r2 ]] && break; sleep 0.5; done
mkdir -p $OUT/kserve
for c in 1 16; do
  for t in tcp http; do
    port=5555; [[ $t == http ]] && port=8000
    $E bench --target $t://127.0.0.1:$port --repo $M --model resnet50-fp16-cl --input preprocessed --clients $c --requests $((c*300)) --out /tmp/b-$t-c$c > $OUT/kserve/bench-$t-c$c.log 2>&1
    echo "bench $t c$c: $(grep -E -m2 'p50|req/s' $OUT/kserve/bench-$t-c$c.log | tr '\n' ' ' | cut -c1-220)"
  done
  timeout 60 $PA -m resnet50-fp16-cl -u 127.0.0.1:8000 -i http --concurrency-range $c --measurement-interval 3000 --max-trials 6 --percentile 50 -f $OUT/kserve/perf_analyzer-http-c$c.csv > $OUT/kserve/perf_analyzer-http-c$c.log 2>&1
  echo "perf_analyzer c$c rc $?: $(grep -E 'p50 latency|Throughput|error' $OUT/kserve/perf_analyzer-http-c$c.log | tr '\n' ' ')"
done
lo
kill $SP; wait $SP; tail -2 $OUT/server-http.log
echo "kserve done $((SECONDS-t0)) s"
fi
# fig17: only the MPS variant
python3 - <<'PY'
s=open('experiments/fig17_gpu_sharing.toml').read()
head,_,rest=s.partition('[[grid.variant]]')
mps='[[grid.variant]]'+rest.split('[[grid.variant]]')[2]
open('/tmp/fig17_mps.toml','w').write(head+mps)
PY
grep -A4 "grid.variant" /tmp/fig17_mps.toml
timeout 330 $E sweep /tmp/fig17_mps.toml --out $OUT/fig17 --repo $M 2>&1 | tail -15
for d in $OUT/fig17/fig17-*; do [[ -f $d/summary.json ]] && echo "$(basename $d): $(python3 -c "import json;j=json.load(open('$d/summary.json'));print(j['metrics']['total-time'].get('p50'), j['link'])" 2>&1 | cut -c1-200)"; rm -f $d/requests.csv; done
echo "all done $((SECONDS-t0)) s"
