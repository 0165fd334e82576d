#!/usr/bin/env bash
# Run on a CONNECTED machine with python3 + pip. Downloads (never installs) Triton's perf_analyzer, the standard
# KServe v2 load generator, as PyPI's `perf-analyzer` wheel (~7 MiB, one static-ish binary,
# perf_analyzer/bin/perf_analyzer) into .deps/wheels/. The wheel is manylinux_2_38: it runs on the GPU host
# (Ubuntu 24.04, glibc 2.39), not on Debian 12 (glibc 2.36). Carry .deps/wheels there, then:
#   unzip -qo .deps/wheels/perf_analyzer-*.whl -d .deps/perf_analyzer
#   .deps/perf_analyzer/perf_analyzer/bin/perf_analyzer -m resnet50-fp16-cl -u 127.0.0.1:8000 -i http ...
#
#   PERF_ANALYZER_VERSION=2.60.0   the version to fetch (empty: the newest)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/pypi_wheel.sh
version=${PERF_ANALYZER_VERSION-2.60.0}
fetch_wheel gather_gpu_host_perf_analyzer "perf-analyzer${version:+==$version}" "perf_analyzer-*.whl" \
  "manylinux_2_38_x86_64" perf_analyzer/bin/perf_analyzer
