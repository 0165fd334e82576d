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
source scripts/lib/pypi_wheel.sh
version=${NVJPEG_WHEEL_VERSION-13.0.4.44}
fetch_wheel gather_gpu_host_nvjpeg "nvidia-nvjpeg${version:+==$version}" "nvidia_nvjpeg-*.whl" \
  "manylinux_2_17_x86_64 manylinux2014_x86_64" nvidia/cu13/include/nvjpeg.h nvidia/cu13/lib/libnvjpeg.so.13
