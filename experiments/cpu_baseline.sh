#!/usr/bin/env bash
# CPU baseline of the foundation: tiny and ResNet50, 1 and 4 clients, tcp vs local, raw 640x480 frames.
# Writes results/cpu-baseline/<model>-<target>-c<clients>/{requests.csv,summary.json} and a table
# results/cpu-baseline/summary.md (committed; the per-request CSVs are small enough to keep).
#
#   experiments/cpu_baseline.sh                 # needs scripts/setup.sh to have run
#   REQUESTS_TINY=1000 REQUESTS_RESNET=50 experiments/cpu_baseline.sh
set -euo pipefail
cd "$(dirname "$0")/.."
REQUESTS_TINY=${REQUESTS_TINY:-500}
REQUESTS_RESNET=${REQUESTS_RESNET:-20}
bin=build/cpu/src/edgeserve
out=results/cpu-baseline
mkdir -p "$out"
/usr/bin/python3 tools/export_models.py --models tiny,resnet50 --out models

source scripts/lib/background_server.sh
logs=$(mktemp -d)

for clients in 1 4; do
  # The paper sizes the server's threads to the clients.
  start_server "$bin" "$logs/server-c$clients.log" --repo models --models tiny,resnet50 --workers "$clients"
  for model in tiny resnet50; do
    requests=$REQUESTS_TINY
    [[ $model == resnet50 ]] && requests=$REQUESTS_RESNET
    for target in "$endpoint" local; do
      name=$model-$([[ $target == local ]] && echo local || echo tcp)-c$clients
      echo "==> $name"
      "$bin" bench --target "$target" --model "$model" --clients "$clients" --requests "$requests" --warmup 3 \
        --repo models --no-progress --out "$out/$name" | tail -n +2
    done
  done
  stop_server
done

/usr/bin/python3 - "$out" <<'PY'
import json, pathlib, platform, subprocess, sys
out = pathlib.Path(sys.argv[1])
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
rows = ["| run | total p50 | total p99 | request p50 | response p50 | preprocessing p50 | inference p50 | queue p50 | req/s | server CPU ms/req |",
        "|---|---|---|---|---|---|---|---|---|---|"]
for d in sorted(p for p in out.iterdir() if (p / "summary.json").exists()):
    s = json.load(open(d / "summary.json")); m = s["metrics"]
    cpu_ms = s["cpu-usage"]["server_cpu_ms_per_request"]
    rows.append(f"| {d.name} | {m['total-time']['p50']:.3f} | {m['total-time']['p99']:.3f} | {m['request-time']['p50']:.3f} | "
                f"{m['response-time']['p50']:.3f} | {m['preprocessing-time']['p50']:.3f} | {m['inference-time']['p50']:.3f} | "
                f"{m['queue-time']['p50']:.3f} | {s['throughput_rps']:.1f} | {cpu_ms:.2f} |")
head = (f"# CPU baseline (times in ms)\n\nMachine: {cpu}, {subprocess.check_output(['nproc']).decode().strip()} cores, "
        f"{platform.platform()}.\nCommand: `experiments/cpu_baseline.sh`. Raw 640x480 synthetic frames; server threads = clients.\n\n")
(out / "summary.md").write_text(head + "\n".join(rows) + "\n")
print((out / "summary.md").read_text())
PY
