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
echo "==> the same tests under ASan + UBSan (preset asan)"
scripts/sanitizer_tests.sh --all
echo "==> the tests under ThreadSanitizer (preset tsan)"
scripts/sanitizer_tests.sh --tsan
if [[ ${FUZZ_SECONDS:-20} -gt 0 ]]; then
  echo "==> fuzz smoke (${FUZZ_SECONDS:-20} s per target)"
  scripts/fuzz_smoke.sh "${FUZZ_SECONDS:-20}"
fi
echo "==> tests, ASan+UBSan and TSan tests, and fuzz smoke passed"
