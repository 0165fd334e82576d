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
source scripts/lib/pypi_wheel.sh
version=${UCX_WHEEL_VERSION-1.22.0}
# --platform: the GPU host's (x86-64, glibc 2.39); the wheel is py3-none-manylinux_2_28.
fetch_wheel gather_gpu_host_ucx "libucx-cu13${version:+==$version}" "libucx_cu13-*.whl" \
  "manylinux_2_28_x86_64 manylinux_2_24_x86_64" libucx/include/ucp/api/ucp.h libucx/lib/libucp.so.0 \
  libucx/lib/libucs.so.0 libucx/lib/libuct.so.0 libucx/lib/libucm.so.0 libucx/lib/ucx/libuct_cuda.so.0 \
  libucx/bin/ucx_info
deps_bytes=$(du -scb .deps/wheels .deps/debs 2>/dev/null | tail -1 | cut -f1 || true)  # .deps/debs may not exist
awk -v b="$deps_bytes" 'BEGIN { printf "==> .deps/debs and .deps/wheels hold %.1f MiB (the working tree that travels may be 64 MiB)\n", b / 1048576 }'
