#!/usr/bin/env bash
# Run on a CONNECTED machine with python3 + pip (scripts/gather_gpu_host_deps.sh calls it at its end).
# Downloads (never installs) a CUDA-aware UCX for the air-gapped GPU host: the PyPI wheel `libucx-cu13`
# (RAPIDS' build of UCX against CUDA 13), into .deps/wheels/ at the repo root. Carry .deps/wheels to the GPU
# host; scripts/gpu_host_build.sh there unzips it into .deps/ucx (no pip install) and points the build at it.
#
# What the wheel holds (1.22.0), under libucx/ once unzipped:
#   include/{ucp,uct,ucs,ucm}/...          headers (so no Debian libucx-dev is needed)
#   lib/libucp.so.0 libuct.so.0 libucs.so.0 libucm.so.0   plain UCX sonames (not renamed by auditwheel)
#   lib/ucx/libuct_cuda.so.0 (cuda_copy, cuda_ipc), libuct_cma.so.0, libucm_cuda.so.0   modules; libucs
#      finds them in the ucx/ folder beside itself (dladdr), so LD_LIBRARY_PATH or an rpath on lib/ is enough
#   lib/cmake/ucx/ucx-config.cmake (relocatable), lib/pkgconfig/ucx.pc (prefix= is the wheel's build path)
#   bin/ucx_info, ucx_perftest, ...
# It is built --without-verbs --without-rdmacm: no InfiniBand/RoCE transport (no libuct_ib), no gdrcopy;
# between processes it has tcp, shared memory (posix, sysv, cma) and, for GPU memory, cuda_copy/cuda_ipc.
# The CUDA modules need the driver's libcuda.so.1 and libnvidia-ml.so.1; the CUDA runtime is bundled
# (libucx_cu13.libs/). The wheel is about 41 MiB of the 64 MiB that may travel.
#
#   UCX_WHEEL_VERSION=1.22.0   the libucx-cu13 version to fetch (empty: the newest on the index)
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "gather_gpu_host_ucx: error: $*" >&2; exit 1; }

version=${UCX_WHEEL_VERSION-1.22.0}
spec=libucx-cu13${version:+==$version}
wheels_dir=.deps/wheels

# A python with pip: the one on PATH, else Debian's.
python=""
for cand in "$(command -v python3 || true)" /usr/bin/python3; do
  [[ -n "$cand" && -x "$cand" ]] && "$cand" -m pip --version >/dev/null 2>&1 && { python=$cand; break; }
done
[[ -n "$python" ]] || die "no python3 with pip here (Debian: sudo apt-get install python3-pip)"

# Download into a fresh folder, check the wheel, then swap it in (replacing any older libucx_cu13 wheel),
# so re-running never piles up versions in .deps/wheels.
mkdir -p "$wheels_dir"
tmp=$(mktemp -d .deps/wheels.tmp.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# --platform/--python-version: the GPU host's (x86-64, glibc 2.39, python 3.12), not this machine's;
# the wheel is py3-none-manylinux_2_28, so the python version does not matter.
echo "==> pip download $spec into $wheels_dir/"
"$python" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_24_x86_64 -d "$tmp" "$spec" ||
  die "pip download $spec failed (network? a version the index does not have?)"

shopt -s nullglob
got=("$tmp"/libucx_cu13-*.whl)
shopt -u nullglob
((${#got[@]} == 1)) || die "expected one libucx_cu13-*.whl from pip, got: $(ls "$tmp")"
whl=${got[0]}

# The wheel must be intact and hold what gpu_host_build.sh relies on.
"$python" - "$whl" <<'EOF' || die "$(basename "$whl") is not the expected UCX wheel (see above)"
import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
bad = z.testzip()
if bad:
    sys.exit(f"corrupt member {bad}")
names = set(z.namelist())
need = ["libucx/include/ucp/api/ucp.h", "libucx/lib/libucp.so.0", "libucx/lib/libucs.so.0",
        "libucx/lib/libuct.so.0", "libucx/lib/libucm.so.0", "libucx/lib/ucx/libuct_cuda.so.0",
        "libucx/bin/ucx_info"]
missing = [n for n in need if n not in names]
if missing:
    sys.exit("missing: " + " ".join(missing))
EOF

rm -f "$wheels_dir"/libucx_cu13-*.whl
mv "$whl" "$wheels_dir/"
rm -rf "$tmp"
trap - EXIT

bytes=$(stat -c %s "$wheels_dir/$(basename "$whl")")
awk -v f="$wheels_dir/$(basename "$whl")" -v b="$bytes" 'BEGIN { printf "==> %s (%.1f MiB)\n", f, b / 1048576 }'
deps_bytes=$(du -scb .deps/wheels .deps/debs 2>/dev/null | tail -1 | cut -f1 || true)  # .deps/debs may not exist
awk -v b="$deps_bytes" 'BEGIN { printf "==> .deps/debs and .deps/wheels hold %.1f MiB (the working tree that travels may be 64 MiB)\n", b / 1048576 }'
