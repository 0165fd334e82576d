#!/usr/bin/env bash
# Builds the `asan` preset (gcc, -fsanitize=address,undefined) and runs, under ASan+UBSan, the unit tests and the
# integration tests whose own process does not load libtorch (the edgeserve processes they start are the ASan build).
# Usage: scripts/sanitizer_tests.sh [--all]   (--all: every test, libtorch-loading test processes included)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --no-build

export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:strict_init_order=1
# No suppressions needed: libtorch 1.13, libgomp and ZeroMQ run clean with leak checking on (Debian 12).

echo "==> configuring and building (preset asan)"
start=$SECONDS
cmake --preset asan >/dev/null
cmake --build --preset asan -j"$(nproc)"
echo "==> built in $((SECONDS - start)) s"

start=$SECONDS
if [[ ${1:-} == --all ]]; then
  ctest --preset asan -j"$(nproc)"
else
  # Label unit, then BenchProcess: its test process is plain C++ and it drives ASan-built edgeserve processes
  # (serve and bench, over tcp and local). ctest adds the export_test_models fixture (Python) to each run.
  ctest --preset asan -j"$(nproc)" -L unit
  ctest --preset asan -j"$(nproc)" -R '^BenchProcess\.'
fi
echo "==> sanitizer tests ok in $((SECONDS - start)) s"
