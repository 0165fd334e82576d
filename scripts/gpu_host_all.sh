#!/usr/bin/env bash
# On the air-gapped GPU host, in one go: build the cuda preset from the carried packages
# (scripts/gpu_host_build.sh), run the whole test suite on the GPU (EDGESERVE_TEST_DEVICE=cuda:0: servers,
# engine, landing, soak and the GPU-only paths run on the device; skipped tests are counted and named), then
# the GPU benchmarks (experiments/gpu_h100.sh). Logs go to LOG_DIR (default build/cuda/logs).
#   scripts/gather_gpu_host_deps.sh     # on a connected Debian 12 machine; carry .deps/ to the GPU host
#   scripts/gpu_host_all.sh             # on the GPU host
set -uo pipefail
cd "$(dirname "$0")/.."
log_dir=${LOG_DIR:-build/cuda/logs}
status=0
step() {  # step NAME COMMAND...: runs, logs, reports; the next steps run even if one fails
  local name=$1
  shift
  echo "==> $name"
  if "$@" >"$log_dir/$name.log" 2>&1; then echo "    ok ($log_dir/$name.log)"; else
    echo "    FAILED ($log_dir/$name.log):"
    tail -n 15 "$log_dir/$name.log" | sed 's/^/    /'
    status=1
  fi
}
mkdir -p "$log_dir"
step build bash scripts/gpu_host_build.sh || exit 1
[[ $status == 0 ]] || exit 1
source build/cuda/env.sh
export EDGESERVE_TEST_DEVICE=cuda:0
step tests bash -c 'source scripts/lib/ctest_run.sh && run_ctest cuda --test-dir build/cuda -j8 --output-on-failure'
grep -h '^==> cuda:\|^    skipped\|^      ' "$log_dir/tests.log" || true
step benchmarks experiments/gpu_h100.sh all
[[ -f results/gpu-h100/summary.md ]] && cat results/gpu-h100/summary.md
exit $status
