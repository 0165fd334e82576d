#!/usr/bin/env bash
# Run ON the air-gapped GPU host (Ubuntu 24.04, CUDA's nvcc, cmake, ninja, g++, python3 with PyTorch's
# libtorch), from a checkout that carries .deps/debs (made by scripts/gather_gpu_host_deps.sh on a
# connected Debian 12 machine). No root, nothing installed into /:
#   1. unpacks every .deps/debs/*.deb with `dpkg -x` into .deps/prefix, and, where .deps/wheels holds the
#      CUDA-aware UCX wheel (scripts/gather_gpu_host_ucx.sh), unzips it into .deps/ucx, and the nvJPEG wheel
#      (scripts/gather_gpu_host_nvjpeg.sh) into .deps/nvjpeg when the CUDA toolkit has no nvJPEG,
#   2. points the unpacked pkg-config / CMake files at that prefix instead of /usr,
#   3. keeps only the runtime libraries the host lacks (the host's own copies win where it has them),
#   4. writes the environment to build/cuda/env.sh (EDGESERVE_PREFIX, EDGESERVE_UCX_PREFIX, TORCH_CMAKE_PREFIX,
#      PKG_CONFIG_PATH, LD_LIBRARY_PATH, ...) so later commands can `source build/cuda/env.sh`,
#   5. configures and builds the `cuda` preset.
# Then:  source build/cuda/env.sh && build/cuda/src/edgeserve info && (cd build/cuda && ctest -L gpu)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

die() { echo "gpu_host_build: error: $*" >&2; exit 1; }
note() { echo "==> $*"; }
warn() { echo "gpu_host_build: warning: $*" >&2; }

debs_dir=$root/.deps/debs
prefix_root=$root/.deps/prefix          # what `dpkg -x` fills: usr/..., lib/...
prefix=$prefix_root/usr                 # EDGESERVE_PREFIX: CMAKE_PREFIX_PATH entry
multiarch=x86_64-linux-gnu
build_dir=$root/build/cuda

# ---- 0. what this host must bring ------------------------------------------------------------------------
[[ -d "$debs_dir" ]] || die ".deps/debs does not exist: run scripts/gather_gpu_host_deps.sh on a connected" \
  "Debian 12 machine and carry .deps/debs and .deps/wheels here (the device tool: carry [\".deps/debs\", \".deps/wheels\"])"
shopt -s nullglob
debs=("$debs_dir"/*.deb)
shopt -u nullglob
((${#debs[@]})) || die ".deps/debs is empty: run scripts/gather_gpu_host_deps.sh on a connected machine and carry .deps"
[[ "$(uname -m)" == x86_64 ]] || die "this host is $(uname -m); the .debs in .deps/debs are amd64 (x86-64)"

for tool in cmake ninja; do
  command -v "$tool" >/dev/null || die "'$tool' is not on PATH (the GPU host is expected to have it)"
done
command -v "${CXX:-g++}" >/dev/null || die "no C++ compiler: '${CXX:-g++}' is not on PATH"
cmake_version=$(cmake --version | sed -n 's/^cmake version \([0-9][0-9.]*\).*/\1/p')
if [[ "$(printf '%s\n' 3.25 "$cmake_version" | sort -V | head -1)" != 3.25 ]]; then
  die "cmake $cmake_version is too old: the presets need 3.25 or newer"
fi

# nvcc: PATH first, then CUDA_HOME / CUDA_PATH / /usr/local/cuda.
nvcc=$(command -v nvcc || true)
if [[ -z "$nvcc" ]]; then
  for d in "${CUDA_HOME:-}" "${CUDA_PATH:-}" /usr/local/cuda; do
    [[ -n "$d" && -x "$d/bin/nvcc" ]] && { nvcc=$d/bin/nvcc; break; }
  done
fi
[[ -n "$nvcc" ]] || die "nvcc not found (not on PATH, nor in \$CUDA_HOME/bin or /usr/local/cuda/bin): the cuda preset needs CUDA's compiler"
nvcc=$(readlink -f "$nvcc")
cuda_root=$(dirname "$(dirname "$nvcc")")

# python3 with torch (for libtorch's CMake files) and torchvision (tests export their models with it).
python=""
for cand in "${EDGESERVE_PYTHON:-}" "$(command -v python3 || true)" /usr/bin/python3; do
  [[ -n "$cand" && -x "$cand" ]] || continue
  if "$cand" -c 'import torch, torchvision' >/dev/null 2>&1; then python=$cand; break; fi
  if [[ -z "$python" ]] && "$cand" -c 'import torch' >/dev/null 2>&1; then python=$cand; fi
done
[[ -n "$python" ]] || die "no python3 here can 'import torch': libtorch's CMake files come from PyTorch's pip package"
"$python" -c 'import torchvision' >/dev/null 2>&1 ||
  warn "$python has torch but not torchvision: the tests' model export (tools/export_models.py) will fail"
read -r torch_version torch_cuda torch_cmake_prefix < <("$python" -c \
  'import torch; print(torch.__version__, torch.version.cuda, torch.utils.cmake_prefix_path)')
[[ "$torch_cuda" != None ]] || die "$python's torch $torch_version is CPU-only; the cuda preset needs a CUDA libtorch"
TORCH_CMAKE_PREFIX=${TORCH_CMAKE_PREFIX:-$torch_cmake_prefix}
[[ -f "$TORCH_CMAKE_PREFIX/Torch/TorchConfig.cmake" ]] ||
  die "no Torch/TorchConfig.cmake under TORCH_CMAKE_PREFIX=$TORCH_CMAKE_PREFIX"
note "host: cmake $cmake_version, $("$nvcc" --version | sed -n 's/.*release \([0-9.]*\).*/nvcc \1/p') ($nvcc)," \
  "torch $torch_version (CUDA $torch_cuda) from $python"

# ---- 1. unpack -------------------------------------------------------------------------------------------
unpack() {  # unpack DEB DIR: dpkg -x, or ar + tar where dpkg-deb is missing
  if command -v dpkg >/dev/null; then
    dpkg -x "$1" "$2"
  else
    local member
    member=$(ar t "$1" | grep '^data\.tar') || die "$1 is not a .deb (no data.tar member)"
    case "$member" in
      *.xz) ar p "$1" "$member" | tar -xJ -C "$2" ;;
      *.zst) ar p "$1" "$member" | tar --zstd -x -C "$2" ;;
      *.gz) ar p "$1" "$member" | tar -xz -C "$2" ;;
      *) ar p "$1" "$member" | tar -x -C "$2" ;;
    esac
  fi
}
rm -rf "$prefix_root"
mkdir -p "$prefix_root"
for deb in "${debs[@]}"; do
  unpack "$deb" "$prefix_root" || die "could not unpack $(basename "$deb") (a partial download? re-run the gather script)"
done
note "unpacked ${#debs[@]} packages into .deps/prefix"

# UCX (optional): the libucx-cu13 wheel, unzipped (not pip-installed) into .deps/ucx. Its libucx/ folder is
# EDGESERVE_UCX_PREFIX: include/, lib/ (libucp.so.0, libuct.so.0, libucs.so.0, libucm.so.0; plain sonames),
# lib/ucx/ (the modules, libuct_cuda among them: libucs loads them from the ucx/ folder beside itself),
# lib/cmake/ucx/ (relocatable), lib/pkgconfig/, bin/ucx_info. No InfiniBand transport in this build.
source "$root/scripts/lib/ucx_wheel.sh"
ucx_prefix=""
if ucx_prefix=$(unpack_ucx_wheel "$root" "$python"); then
  ucx_ld=$ucx_prefix/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  ucx_version=$(LD_LIBRARY_PATH=$ucx_ld "$ucx_prefix/bin/ucx_info" -v | sed -n 's/^# Library version: //p') ||
    die "$ucx_prefix/bin/ucx_info does not run"
  note "UCX $ucx_version from $(cat "$root/.deps/ucx/.from") in .deps/ucx/libucx"
  # cuda_copy shows only if libuct_cuda loaded (it needs the driver's libcuda.so.1 and libnvidia-ml.so.1).
  ucx_devices=$(LD_LIBRARY_PATH=$ucx_ld timeout 120 "$ucx_prefix/bin/ucx_info" -d 2>/dev/null || true)
  if ! grep -q 'Transport: cuda_copy' <<<"$ucx_devices"; then
    warn "UCX's CUDA transports did not load; 'UCX_LOG_LEVEL=debug ucx_info -d' (after sourcing env.sh) says why"
  fi
elif compgen -G "$root/.deps/wheels/libucx_cu13-*.whl" >/dev/null; then
  die "could not unpack the UCX wheel in .deps/wheels (a partial download? re-run scripts/gather_gpu_host_ucx.sh)"
else
  note "no .deps/wheels/libucx_cu13-*.whl: no UCX (scripts/gather_gpu_host_ucx.sh fetches it)"
fi

# nvJPEG (optional): the CUDA toolkit's when it has one (CMake prefers it), else the nvidia-nvjpeg wheel, unzipped
# into .deps/nvjpeg (nvidia/cu13/{include,lib}); without either, JPEGs are decoded on the CPU.
source "$root/scripts/lib/nvjpeg_wheel.sh"
nvjpeg_prefix=""
if compgen -G "$cuda_root/lib64/libnvjpeg.so*" >/dev/null || compgen -G "$cuda_root/targets/x86_64-linux/lib/libnvjpeg.so*" >/dev/null; then
  note "nvJPEG from the CUDA toolkit ($cuda_root)"
elif nvjpeg_prefix=$(unpack_nvjpeg_wheel "$root" "$python"); then
  note "nvJPEG from $(cat "$root/.deps/nvjpeg/.from") in .deps/nvjpeg"
elif compgen -G "$root/.deps/wheels/nvidia_nvjpeg-*.whl" >/dev/null; then
  die "could not unpack the nvJPEG wheel in .deps/wheels (a partial download? re-run scripts/gather_gpu_host_nvjpeg.sh)"
else
  warn "no nvJPEG (not in $cuda_root, no .deps/wheels/nvidia_nvjpeg-*.whl): JPEGs will be decoded on the CPU"
fi

# ---- 2. relocate /usr -> the prefix in pkg-config and CMake files ----------------------------------------
# .pc: prefix=/usr, libdir=/usr/lib/..., includedir="/usr/include", Cflags: -I/usr/include.
# .cmake: the "/usr move" guards of CMake's generated configs (_realOrig / _IMPORT_PREFIX / PACKAGE_PREFIX_DIR).
# Only a /usr that starts a path (after '=', a quote, a space, -I or -L) is rewritten.
mapfile -t meta_files < <(find "$prefix_root" -type f \( -name '*.pc' -o -name '*.cmake' \) -not -path '*/share/doc/*')
for f in "${meta_files[@]}"; do
  sed -i -E "/^[[:space:]]*#/!s#(^|[=\" ]|-I|-L)/usr(/|\"|[[:space:]]|\$)#\1${prefix}\2#g" "$f"
done
left=$(grep -nE '(^|[="[:space:]]|-I|-L)/usr(/|"|[[:space:]]|$)' "${meta_files[@]}" | grep -vE ':[0-9]+:[[:space:]]*#' || true)
[[ -z "$left" ]] || warn "absolute /usr paths left in unpacked CMake/pkg-config files:"$'\n'"$left"
note "relocated ${#meta_files[@]} pkg-config/CMake files to $prefix"

# ---- 3. runtime libraries: use the host's copy where it has one ------------------------------------------
# LD_LIBRARY_PATH below puts .deps/prefix first for every program started from env.sh (python3 and cmake
# too), so an older Debian copy of a library the host already has (libbsd, krb5, ...) would shadow the
# host's. Such copies go to .deps/prefix/host-has/; libraries with a dev link here (libzmq.so, libfmt.so,
# ...) always stay, since the build links them.
host_has_dir=$prefix_root/host-has
mkdir -p "$host_has_dir"
ldcache=$(ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null || true)
kept=() skipped=()
for libdir in "$prefix/lib/$multiarch" "$prefix_root/lib/$multiarch"; do
  [[ -d "$libdir" ]] || continue
  dev_targets=$(find "$libdir" -maxdepth 1 -type l -name 'lib*.so' -exec readlink -f {} \; 2>/dev/null || true)
  while IFS= read -r -d '' lib; do
    soname=$(readelf -d "$lib" 2>/dev/null | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
    [[ -n "$soname" ]] || continue
    if grep -qxF "$(readlink -f "$lib")" <<<"$dev_targets" || ! grep -qE "^[[:space:]]+${soname//./\\.} \(" <<<"$ldcache"; then
      kept+=("$soname")
      continue
    fi
    skipped+=("$soname")
    mv "$lib" "$host_has_dir/"
    if [[ -L "$libdir/$soname" ]]; then mv "$libdir/$soname" "$host_has_dir/"; fi
  done < <(find "$libdir" -maxdepth 1 -type f -name 'lib*.so.*' -print0)
done
note "runtime libraries from .deps: ${kept[*]:-none}"
note "the host's own copies used for: ${skipped[*]:-none}"

# ---- 4. environment -------------------------------------------------------------------------------------
ld_dirs=$prefix/lib/$multiarch
[[ -d "$prefix_root/lib/$multiarch" ]] && ld_dirs+=":$prefix_root/lib/$multiarch"
pc_dirs=$prefix/lib/$multiarch/pkgconfig:$prefix/share/pkgconfig
extra_path=""
command -v nvcc >/dev/null || extra_path=$cuda_root/bin
# pkg-config: the host's if it has one (CMake would otherwise pick the carried one from the prefix's bin/),
# else the carried pkgconf (it finds libpkgconf.so.3 through LD_LIBRARY_PATH).
if ! pkg_config=$(command -v pkg-config || command -v pkgconf); then
  pkg_config=$prefix/bin/pkgconf
  extra_path=${extra_path:+$extra_path:}$prefix/bin
  note "no pkg-config on this host: using the carried pkgconf"
fi
[[ -n "$nvjpeg_prefix" ]] && ld_dirs+=":$nvjpeg_prefix/lib"
if [[ -n "$ucx_prefix" ]]; then
  ld_dirs+=":$ucx_prefix/lib"
  pc_dirs+=":$ucx_prefix/lib/pkgconfig"
  extra_path=${extra_path:+$extra_path:}$ucx_prefix/bin
fi

mkdir -p "$build_dir"
cat >"$build_dir/env.sh" <<EOF
# Written by scripts/gpu_host_build.sh on $(date -u +%Y-%m-%dT%H:%MZ). Usage: source build/cuda/env.sh
export EDGESERVE_PREFIX=$prefix
${ucx_prefix:+export EDGESERVE_UCX_PREFIX=$ucx_prefix}
export TORCH_CMAKE_PREFIX=$TORCH_CMAKE_PREFIX
export EDGESERVE_PYTHON=$python
export PKG_CONFIG_PATH=$pc_dirs\${PKG_CONFIG_PATH:+:\$PKG_CONFIG_PATH}
export LD_LIBRARY_PATH=$ld_dirs\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}
export CUDACXX=$nvcc
export CUDA_HOME=\${CUDA_HOME:-$cuda_root}
export TORCH_CUDA_ARCH_LIST=\${TORCH_CUDA_ARCH_LIST:-9.0}
export CMAKE_POLICY_VERSION_MINIMUM=\${CMAKE_POLICY_VERSION_MINIMUM:-3.5}
export PKG_CONFIG=$pkg_config
${extra_path:+export PATH=$extra_path:\$PATH}
EOF
# shellcheck disable=SC1091
source "$build_dir/env.sh"
note "wrote build/cuda/env.sh"

# ---- 5. configure and build -----------------------------------------------------------------------------
# EDGESERVE_PYTHON: the tests export their models with a python that has torch + torchvision (on the GPU
# host that is the venv's python3, not /usr/bin/python3).
cmake_args=(--preset cuda "-DEDGESERVE_PYTHON=$python" "-DPKG_CONFIG_EXECUTABLE=$pkg_config")
if [[ -n "$ucx_prefix" ]]; then cmake_args+=("-DEDGESERVE_UCX_ROOT=$ucx_prefix"); fi
if [[ -n "$nvjpeg_prefix" ]]; then cmake_args+=("-DEDGESERVE_NVJPEG_ROOT=$nvjpeg_prefix"); fi
note "cmake ${cmake_args[*]}"
cmake "${cmake_args[@]}" || die "configure failed (see the CMake messages above; CMake's logs: build/cuda/CMakeFiles/)"
jobs=$(nproc)
note "cmake --build --preset cuda -j$jobs"
start=$(date +%s)
cmake --build --preset cuda -j"$jobs" || die "build failed (see the compiler messages above)"
note "built build/cuda/src/edgeserve in $(($(date +%s) - start)) s"
echo "    next: source build/cuda/env.sh && build/cuda/src/edgeserve info && (cd build/cuda && ctest -L gpu)"
