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
# (libucx_cu13.libs/). The wheel is 41 MiB; slimmed (below) it is about 8 MiB.
#
#   UCX_WHEEL_VERSION=1.22.0   the libucx-cu13 version to fetch (empty: the newest on the index)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/pypi_wheel.sh
version=${UCX_WHEEL_VERSION-1.22.0}
# --platform: the GPU host's (x86-64, glibc 2.39); the wheel is py3-none-manylinux_2_28.
fetch_wheel gather_gpu_host_ucx "libucx-cu13${version:+==$version}" "libucx_cu13-*.whl" \
  "manylinux_2_28_x86_64 manylinux_2_24_x86_64" libucx/include/ucp/api/ucp.h libucx/lib/libucp.so.0 \
  libucx/lib/libucs.so.0 libucx/lib/libuct.so.0 libucx/lib/libucm.so.0 libucx/lib/ucx/libuct_cuda.so.0 \
  libucx/bin/ucx_info
# The wheel keeps three copies of each library (.so, .so.0, .so.0.0.0: a wheel has no symlinks), static archives
# and the perftest tools: 41 MiB, two thirds of what may travel to the GPU host. Keep what edgeserve builds and runs
# with (headers, each .so.0 once, the cuda/cma modules, ucx_info, the bundled CUDA runtime, CMake and pkg-config
# files): about 8 MiB. lib/ucx_wheel.sh links the .so names back to the .so.0 files after unzipping.
slim_ucx_wheel() {
  local whl=$1
  python3 - "$whl" <<'PY'
import os, re, sys, zipfile
whl = sys.argv[1]
keep = re.compile(r"^(libucx/include/|libucx/lib/(cmake|pkgconfig)/|libucx/lib/(ucx/)?lib(ucp|uct|ucs|ucm|ucs_signal|uct_cuda|uct_cma|ucm_cuda)\.so\.0$"
                  r"|libucx/bin/ucx_info$|libucx_cu13\.libs/|libucx_cu13-[^/]*\.dist-info/(METADATA|WHEEL)$)")
tmp = whl + ".slim"
with zipfile.ZipFile(whl) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as dst:
    for info in src.infolist():
        if keep.match(info.filename):
            dst.writestr(info, src.read(info), compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    dst.writestr("libucx/SLIM", "slimmed by scripts/gather_gpu_host_ucx.sh: .so links are made at unpack\n")
os.replace(tmp, whl)
PY
}
shopt -s nullglob
for whl in .deps/wheels/libucx_cu13-*.whl; do
  slim_ucx_wheel "$whl"
  awk -v f="$whl" -v b="$(stat -c %s "$whl")" 'BEGIN { printf "==> slimmed %s to %.1f MiB\n", f, b / 1048576 }'
done
shopt -u nullglob
deps_bytes=$(du -scb .deps/wheels .deps/debs 2>/dev/null | tail -1 | cut -f1 || true)  # .deps/debs may not exist
awk -v b="$deps_bytes" 'BEGIN { printf "==> .deps/debs and .deps/wheels hold %.1f MiB (the working tree that travels may be 64 MiB)\n", b / 1048576 }'
