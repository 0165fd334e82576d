#!/usr/bin/env bash
# Sets up (scripts/setup.sh), checks formatting, runs the whole test suite, runs it again under
# ASan+UBSan and under TSan, and fuzzes every decoder of untrusted bytes for a bounded time. CI runs exactly this.
#   FUZZ_SECONDS=20 (per target, two targets at a time on a 2-core CI machine) by default; FUZZ_SECONDS=0 skips it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/ctest_run.sh
scripts/setup.sh
scripts/check_format.sh
echo "==> tests (ctest preset cpu; tests that need a CUDA device skip, and are counted as skipped, without one)"
run_ctest cpu --preset cpu -j"$(nproc)"
# The tsan preset builds meanwhile at the lowest priority (nice 19): it takes only the CPU that the ASan build and
# tests leave idle (the tests wait on sockets, timers and child processes), about 3 min off CI on 2 cores.
echo "==> building preset tsan in the background at nice 19 (log: build/tsan-build.log)"
mkdir -p build
(cmake --preset tsan >/dev/null && nice -n 19 cmake --build --preset tsan -j"$(nproc)") >build/tsan-build.log 2>&1 &
tsan_build=$!
trap 'kill $tsan_build 2>/dev/null || true' EXIT
echo "==> the same tests under ASan + UBSan (preset asan)"
scripts/sanitizer_tests.sh --all
start=$SECONDS
wait $tsan_build || { tail -40 build/tsan-build.log; echo "test.sh: the tsan build failed (build/tsan-build.log)" >&2; exit 1; }
trap - EXIT
echo "==> the tests under ThreadSanitizer (preset tsan; its background build needed $((SECONDS - start)) s more)"
scripts/sanitizer_tests.sh --tsan
if [[ ${FUZZ_SECONDS:-20} -gt 0 ]]; then
  echo "==> fuzz smoke (${FUZZ_SECONDS:-20} s per target)"
  scripts/fuzz_smoke.sh "${FUZZ_SECONDS:-20}"
fi
echo "==> tests, ASan+UBSan and TSan tests, and fuzz smoke passed"
