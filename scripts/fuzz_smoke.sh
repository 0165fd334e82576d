#!/usr/bin/env bash
# Builds the libFuzzer targets (preset fuzz, clang) and runs each for SECONDS (default 60), one per core at a
# time, on a copy of its seed corpus (fuzz/corpus/<target>/ is never grown); prints exec counts and exits 1 if
# any target crashes.
# Usage: scripts/fuzz_smoke.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
[[ $seconds =~ ^[0-9]+$ && $seconds -gt 0 ]] || { echo "usage: $0 [SECONDS]" >&2; exit 2; }
root=$PWD

scripts/setup.sh --fuzz-tools
echo "==> configuring and building (preset fuzz)"
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j"$(nproc)"

work=$(mktemp -d /tmp/edgeserve-fuzz.XXXXXX)
declare -A max_len=([wire_request_fuzzer]=4096 [wire_response_fuzzer]=4096 [manifest_fuzzer]=8192
                    [jpeg_decoder_fuzzer]=65536 [kserve_request_fuzzer]=8192 [kserve_grpc_fuzzer]=8192)
declare -A extra=([manifest_fuzzer]="-dict=$root/fuzz/manifest.dict")
targets=(wire_request_fuzzer wire_response_fuzzer manifest_fuzzer jpeg_decoder_fuzzer kserve_request_fuzzer)
# grpc://'s byte-buffer reader, where the build found gRPC (it always does under scripts/setup.sh).
[[ -x build/fuzz/fuzz/kserve_grpc_fuzzer ]] && targets+=(kserve_grpc_fuzzer)
run_target() {  # run_target TARGET: fuzzes it in $work/TARGET; the exit code goes to $work/TARGET/rc
  local target=$1 dir=$work/$1 rc=0
  # shellcheck disable=SC2086  # extra holds zero or one flag
  (cd "$dir" && "$root/build/fuzz/fuzz/$target" corpus -max_len="${max_len[$target]}" -max_total_time="$seconds" \
     -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$dir/artifacts/" ${extra[$target]:-}) \
    >"$dir/log" 2>&1 || rc=$?
  echo "$rc" >"$dir/rc"
}
# One target per core at a time: each is single-threaded, and each still gets its SECONDS.
parallel=$(nproc)
for target in "${targets[@]}"; do
  dir=$work/$target
  mkdir -p "$dir/corpus" "$dir/artifacts"
  cp fuzz/corpus/$target/* "$dir/corpus/"
  echo "==> $target: ${seconds}s, $(ls "$dir/corpus" | wc -l) seeds, -max_len=${max_len[$target]}"
  while (($(jobs -rp | wc -l) >= parallel)); do wait -n || true; done
  run_target "$target" &
done
wait
failed=()
for target in "${targets[@]}"; do
  dir=$work/$target
  rc=$(cat "$dir/rc" 2>/dev/null || echo "?")
  execs=$(awk '/stat::number_of_executed_units/ {print $2}' "$dir/log")
  rate=$(awk '/stat::average_exec_per_sec/ {print $2}' "$dir/log")
  echo "    $target: execs ${execs:-?}  exec/s ${rate:-?}  corpus now $(ls "$dir/corpus" | wc -l) (temp copy)  exit $rc"
  if [[ $rc != 0 ]]; then
    failed+=("$target")
    grep -E "ERROR: |runtime error|SUMMARY: " "$dir/log" | head -5 | sed 's/^/    /'
    grep -E "Test unit written to|artifact_prefix" "$dir/log" | sed 's/^/    /' || true
    echo "    full log: $dir/log (reproduce: build/fuzz/fuzz/$target ARTIFACT)"
  fi
done

if ((${#failed[@]})); then
  echo "FUZZ FAILED: ${failed[*]} (logs and artifacts kept in $work)" >&2
  exit 1
fi
rm -rf "$work"
echo "==> fuzz smoke ok (${seconds}s per target)"
