#!/usr/bin/env bash
# On the air-gapped GPU host, in one go: build the cuda preset from the carried packages
# (scripts/gpu_host_build.sh), run the whole test suite on the GPU (EDGESERVE_TEST_DEVICE=cuda:0: servers,
# engine, landing, soak and the GPU-only paths run on the device; skipped tests are counted and named), export
# the paper's models, then sweep the study's experiment files (one per paper figure) into results/study and
# report them (CSV, Markdown, PNG per figure). Logs go to LOG_DIR (default build/cuda/logs).
#   scripts/gather_gpu_host_deps.sh     # on a connected Debian 12 machine; carry .deps/debs and .deps/wheels
#   scripts/gpu_host_all.sh             # on the GPU host
#   SWEEPS="experiments/fig05_06_resnet50_transports.toml" scripts/gpu_host_all.sh   # only some figures
#   TESTS=0 MODELS=resnet50,yolov4 SWEEPS=... scripts/gpu_host_all.sh   # no test suite; only these models
#   (FP32=0: only their fp16 channels-last variants; MODELS_FP16=LIST: fp16 variants of these only, MODELS by
#   default; MODELS_FP16=none: no fp16 export)
#   On a 2-GPU host: SWEEPS runs on cuda:0 while SWEEPS_1 runs on cuda:1 (`sweep --device cuda:1`), each file's
#   points one after another on its own GPU; SWEEPS_LAST runs after both (files that use both GPUs: scaleout).
#   SWEEPS="" runs no sweep (unset: the paper's figures).
#   (OUT=DIR: where the sweeps write, results/study by default; PACK=FILE.tar.gz: all of OUT in one file at the end;
#   EDGESERVE_GIT_COMMIT=SHA names the commit of a
#   tree copied without its history)
# A sweep that stops half-way resumes where it stopped when run again (points with results are skipped).
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
# The soak runs alone after the rest: its bound on device memory reads the whole GPU's (cudaMemGetInfo), which
# the servers of tests running beside it would change.
[[ ${TESTS:-1} == 0 ]] || step tests bash -c 'source scripts/lib/ctest_run.sh && run_ctest cuda --test-dir build/cuda -j8 --output-on-failure -E BoundedSoak &&
  run_ctest cuda-soak --test-dir build/cuda --output-on-failure -R BoundedSoak'
[[ ${TESTS:-1} == 0 ]] || grep -h '^==> cuda\|^    skipped\|^      ' "$log_dir/tests.log" || true
unset EDGESERVE_TEST_DEVICE
python=${EDGESERVE_PYTHON:-python3}
models=build/cuda/gpu-models
out=${OUT:-results/study}
[[ ${FP32:-1} == 0 ]] || step export-models "$python" tools/export_models.py --models "${MODELS:-paper}" --out "$models"
fp16_models=${MODELS_FP16:-${MODELS:-paper}}
[[ $fp16_models == none ]] || step export-models-fp16 "$python" tools/export_models.py --models "$fp16_models" \
  --out "$models" --device cuda --half --channels-last
nvidia-smi -L >"$log_dir/gpus.txt" 2>&1 || true
mkdir -p "$out"
# Plain cudaMemcpy of ResNet50's request and response sizes: the reference for copy-time.
step memcpy-probe bash -c "build/cuda/edgeserve_memcpy_probe 602112 921600 4000 >'$out/memcpy_probe.json'"
sweep_list() {  # sweep_list DEVICE FILE...: one file after another on DEVICE (empty: the file's own device)
  local device=$1
  shift
  for file in "$@"; do
    step "sweep-$(basename "$file" .toml)" build/cuda/src/edgeserve sweep "$file" --out "$out" --repo "$models" \
      ${device:+--device "$device"}
  done
  return $status
}
second_gpu=
if [[ -n ${SWEEPS_1:-} ]]; then
  sweep_list cuda:1 $SWEEPS_1 &
  second_gpu=$!
fi
sweep_list "" ${SWEEPS-experiments/fig*.toml experiments/models_inference.toml experiments/openloop_slo.toml}
if [[ -n $second_gpu ]]; then wait "$second_gpu" || status=1; fi
sweep_list "" ${SWEEPS_LAST:-}
step report build/cuda/src/edgeserve report "$out"
[[ -f $out/report/README.md ]] && cat "$out/report/README.md"
# PACK=FILE.tar.gz: everything the sweeps wrote (but requests.csv, megabytes of rows the summaries condense) in one
# file, for a transfer that keeps only so many files (the device tool's does: Fig. 17's 2026-11-30 folders were lost).
if [[ -n ${PACK:-} ]]; then
  tar -czf "$PACK" --exclude=requests.csv -C "$(dirname "$out")" "$(basename "$out")" && echo "==> $PACK"
fi
exit $status
