#!/usr/bin/env bash
# Sets up (scripts/setup.sh), checks formatting, and runs the whole test suite. CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/check_format.sh
echo "==> tests (ctest preset cpu; tests labelled gpu skip without a CUDA device)"
ctest --preset cpu -j"$(nproc)"
