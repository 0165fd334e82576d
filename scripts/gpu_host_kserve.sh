#!/usr/bin/env bash
# On the GPU host, after scripts/gpu_host_build.sh: the KServe v2 front doors measured side by side in one run
# (issue 15). One ResNet50 fp16-cl server listens on tcp://, http:// and grpc://; edgeserve's bench drives each
# link, then Triton's perf_analyzer (PyPI's perf-analyzer wheel in .deps/wheels) drives http:// and grpc://
# unmodified, with and without --shared-memory system and cuda (its own cudaIpc client: the end-to-end check of
# CUDA shared memory); then scripts/metrics_overhead.sh measures --metrics and
# --trace at 16 clients. Everything lands in OUT (default results/h200-kserve/run-DATE) and is also packed into
# OUT.tar.gz, one file, so that a transfer with a file-count limit keeps it whole.
#   scripts/gpu_host_kserve.sh [OUT]       (CLIENTS="1 16", REQUESTS per client 3000, ROUNDS 5 for the overhead;
#                                           ROUNDS=0 skips it; PA_MEMORY="none system cuda" are perf_analyzer's
#                                           --shared-memory modes; SERVE_ENV="NAME=VALUE ..." is the server's
#                                           environment on top of this one, e.g. glibc's malloc tunables)
set -uo pipefail
cd "$(dirname "$0")/.."
source build/cuda/env.sh
out=${1:-results/h200-kserve/run-$(date +%Y%m%d-%H%M)}
mkdir -p "$out"
models=build/cuda/gpu-models bin=build/cuda/src/edgeserve model=resnet50-fp16-cl
requests=${REQUESTS:-3000}
[[ -f $models/$model.pt ]] || python3 tools/export_models.py --models resnet50 --out "$models" --device cuda --half \
  --channels-last >"$out/export.log" 2>&1 || { echo "export failed: $out/export.log"; exit 1; }
pa_dir=.deps/perf_analyzer
[[ -x $pa_dir/perf_analyzer/bin/perf_analyzer ]] || { python3 -m zipfile -e .deps/wheels/perf_analyzer-*.whl "$pa_dir" &&
  chmod +x "$pa_dir"/perf_analyzer/bin/*; }  # the host has no unzip
pa=$pa_dir/perf_analyzer/bin/perf_analyzer
ready=$(mktemp)
rm -f "$ready"
# shellcheck disable=SC2086  # SERVE_ENV is a list of NAME=VALUE words
env ${SERVE_ENV:-} "$bin" serve --repo "$models" --models "$model" --device cuda:0 --workers 16 --ready-file "$ready" \
  --listen tcp://127.0.0.1:5555 --listen http://127.0.0.1:8000 --listen grpc://127.0.0.1:8001 >"$out/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null' EXIT
for _ in $(seq 240); do [[ -s $ready ]] && break; kill -0 $server 2>/dev/null || break; sleep 0.5; done
[[ -s $ready ]] || { echo "serve did not start: $out/server.log"; tail -5 "$out/server.log"; exit 1; }
# perf_analyzer never looks at outputs: first check that CUDA shared memory answers what plain http:// answers.
python3 scripts/check_cuda_shared_memory.py 127.0.0.1:8000 "$model" >"$out/cuda-shm-check.log" 2>&1
echo "cuda shared memory check (rc $?): $(tail -1 "$out/cuda-shm-check.log")"
summary() { python3 -c "import json,sys; j=json.load(open(sys.argv[1])); t=j['metrics']['total-time']; \
print(f\"p50 {t['p50']:.3f} ms  p99 {t['p99']:.3f} ms  {j['throughput_rps']:.0f} req/s\")" "$1/summary.json" 2>/dev/null; }
for c in ${CLIENTS:-1 16}; do
  for target in tcp://127.0.0.1:5555 http://127.0.0.1:8000 grpc://127.0.0.1:8001; do
    name=bench-${target%%:*}-c$c
    "$bin" bench --target "$target" --repo "$models" --model "$model" --input preprocessed --clients "$c" \
      --requests "$requests" --warmup 50 --out "$out/$name" --no-progress >"$out/$name.log" 2>&1
    echo "$name: $(summary "$out/$name" || echo "failed, see $out/$name.log")"
    rm -f "$out/$name/requests.csv"  # the summary keeps the percentiles; the rows are megabytes
  done
  for protocol in http grpc; do
    port=8000; [[ $protocol == grpc ]] && port=8001
    for memory in ${PA_MEMORY:-none system cuda}; do
      [[ $memory != none && $c != 1 ]] && continue
      name=perf_analyzer-$protocol-c$c${memory/none/}
      # One gRPC connection per concurrency context: each is then a client of its own (README, gRPC).
      TRITON_CLIENT_GRPC_CHANNEL_MAX_SHARE_COUNT=1 timeout 120 "$pa" -m "$model" -u 127.0.0.1:$port -i $protocol \
        --concurrency-range "$c" --measurement-interval 3000 --max-trials 8 --percentile 50 \
        --shared-memory $memory -f "$out/$name.csv" >"$out/$name.log" 2>&1
      echo "$name (rc $?): $(grep -E 'p50 latency|Throughput' "$out/$name.log" | tr -s ' ' | tr '\n' ' ')"
    done
  done
done
kill $server; wait $server 2>/dev/null
if ((${ROUNDS:-5} > 0)); then
  REPO=$models CLIENTS=16 REQUESTS=500 WARMUP=20 ROUNDS=${ROUNDS:-5} \
    scripts/metrics_overhead.sh "$out/metrics-overhead" "$model" cuda:0 preprocessed >"$out/metrics-overhead.log" 2>&1
  tail -6 "$out/metrics-overhead.log"
  find "$out/metrics-overhead" -name requests.csv -delete
fi
tar -czf "$out.tar.gz" -C "$(dirname "$out")" "$(basename "$out")" && echo "==> $out.tar.gz"
