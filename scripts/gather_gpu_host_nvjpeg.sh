#!/usr/bin/env bash
# Run on a CONNECTED machine with python3 + pip (scripts/gather_gpu_host_deps.sh and scripts/setup.sh call it).
# Downloads (never installs) nvJPEG for the GPU engine's JPEG decoding: the PyPI wheel `nvidia-nvjpeg` (CUDA 13,
# ~4 MiB), into .deps/wheels/ at the repo root. scripts/lib/nvjpeg_wheel.sh unzips it into .deps/nvjpeg, where
# CMake finds it when the CUDA toolkit has no nvJPEG of its own. Carry .deps/wheels to the GPU host.
#
# What the wheel holds, under nvidia/cu13/: include/nvjpeg.h, lib/libnvjpeg.so.13 (the CUDA runtime linked in;
# needs only libc and a driver for CUDA 13).
#
#   NVJPEG_WHEEL_VERSION=13.0.4.44   the version to fetch (empty: the newest). 13.0.x runs on a CUDA 13.0 driver
#                                    (the H200's 580.x); newer minor versions may want a newer driver.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "gather_gpu_host_nvjpeg: error: $*" >&2; exit 1; }

version=${NVJPEG_WHEEL_VERSION-13.0.4.44}
spec=nvidia-nvjpeg${version:+==$version}
wheels_dir=.deps/wheels

python=""
for cand in "$(command -v python3 || true)" /usr/bin/python3; do
  [[ -n "$cand" && -x "$cand" ]] && "$cand" -m pip --version >/dev/null 2>&1 && { python=$cand; break; }
done
[[ -n "$python" ]] || die "no python3 with pip here (Debian: sudo apt-get install python3-pip)"

# Download into a fresh folder, check the wheel, then swap it in (replacing any older nvidia_nvjpeg wheel).
mkdir -p "$wheels_dir"
tmp=$(mktemp -d .deps/wheels.tmp.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
echo "==> pip download $spec into $wheels_dir/"
"$python" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d "$tmp" "$spec" ||
  die "pip download $spec failed (network? a version the index does not have?)"

shopt -s nullglob
got=("$tmp"/nvidia_nvjpeg-*.whl)
shopt -u nullglob
((${#got[@]} == 1)) || die "expected one nvidia_nvjpeg-*.whl from pip, got: $(ls "$tmp")"
whl=${got[0]}

"$python" - "$whl" <<'PY' || die "$(basename "$whl") is not the expected nvJPEG wheel (see above)"
import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
bad = z.testzip()
if bad:
    sys.exit(f"corrupt member {bad}")
names = set(z.namelist())
missing = [n for n in ["nvidia/cu13/include/nvjpeg.h", "nvidia/cu13/lib/libnvjpeg.so.13"] if n not in names]
if missing:
    sys.exit("missing: " + " ".join(missing))
PY

rm -f "$wheels_dir"/nvidia_nvjpeg-*.whl
mv "$whl" "$wheels_dir/"
rm -rf "$tmp"
trap - EXIT
bytes=$(stat -c %s "$wheels_dir/$(basename "$whl")")
awk -v f="$wheels_dir/$(basename "$whl")" -v b="$bytes" 'BEGIN { printf "==> %s (%.1f MiB)\n", f, b / 1048576 }'
