# Sourced by scripts/setup.sh (CPU build and CI: the headers let the cpu preset compile-check the GPU engine's
# nvJPEG path) and scripts/gpu_host_build.sh (GPU host, where the CUDA toolkit lacks nvJPEG): unpacks PyPI's
# nvidia-nvjpeg wheel (fetched by scripts/gather_gpu_host_nvjpeg.sh into .deps/wheels) into .deps/nvjpeg. Its
# nvidia/cu13/ folder holds include/nvjpeg.h and lib/libnvjpeg.so.13 (self-contained: the CUDA runtime is linked
# in; it needs a driver for CUDA 13). CMake finds it there by itself (or -DEDGESERVE_NVJPEG_ROOT=that folder).

# unpack_nvjpeg_wheel ROOT PYTHON: unzips the newest .deps/wheels/nvidia_nvjpeg-*.whl under ROOT into
# ROOT/.deps/nvjpeg (again only when the wheel changed) and prints the prefix (ROOT/.deps/nvjpeg/nvidia/cu13);
# prints nothing and returns 1 when there is no wheel.
unpack_nvjpeg_wheel() {
  source "$1/scripts/lib/pypi_wheel.sh"
  unpack_wheel "$1" "$2" "nvidia_nvjpeg-*.whl" "$1/.deps/nvjpeg" nvidia/cu13/include/nvjpeg.h \
    nvidia/cu13/lib/libnvjpeg.so.13 || return 1
  echo "$1/.deps/nvjpeg/nvidia/cu13"
}
