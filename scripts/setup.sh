#!/usr/bin/env bash
# Installs what edgeserve needs on Debian 12 (apt-get), then configures and builds the `cpu` preset.
# Safe to run again: apt-get skips what is installed, the build is incremental.
#   --no-build    install only (scripts/sanitizer_tests.sh builds its own preset)
#   --fuzz-tools  install only, the fuzzing list below included (scripts/fuzz_smoke.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-}

packages=(
  build-essential cmake ninja-build pkg-config git
  libtorch-dev python3-torch python3-torchvision   # libtorch for the engine; torch/torchvision to export models
  libzmq3-dev cppzmq-dev                           # tcp transport
  libcli11-dev libspdlog-dev libfmt-dev nlohmann-json3-dev libstb-dev
  libtomlplusplus-dev                              # experiment files (edgeserve sweep / report)
  libturbojpeg0-dev                                # JPEG input: the CPU decoder (the GPU one is nvJPEG)
  libcpp-httplib-dev                               # http:// (KServe v2 REST)
  libgrpc++-dev protobuf-compiler protobuf-compiler-grpc   # grpc:// (KServe v2 over gRPC)
  python3-venv python3-pip                         # build/venv: tritonclient for the KServe client test
  python3-matplotlib                               # edgeserve report's plots (tools/plot.py)
  libgoogle-perftools-dev                          # tcmalloc: large replies without page faults (CMakeLists.txt)
  libgtest-dev libgmock-dev clang-format
)
# Only scripts/fuzz_smoke.sh installs these, so the normal test path stays as fast as it was.
fuzz_packages=(clang libclang-rt-14-dev)  # clang with libFuzzer and its ASan/UBSan runtimes (Debian 12: clang 14)
[[ $mode == --fuzz-tools ]] && packages+=("${fuzz_packages[@]}")
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "==> installing: ${missing[*]}"
  sudo_cmd=(); [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

[[ $mode == --fuzz-tools ]] && exit 0

# UCX for the ucx transport: 1.22 from PyPI's libucx-cu13 wheel (scripts/lib/ucx_wheel.sh says why not
# Debian's 1.13), the same UCX the GPU host builds with. Fetched once into .deps/wheels, unpacked into .deps/ucx.
if ! compgen -G ".deps/wheels/libucx_cu13-*.whl" >/dev/null; then
  echo "==> fetching UCX 1.22 (PyPI's libucx-cu13 wheel, 41 MiB, kept slimmed to 8) into .deps/wheels"
  scripts/gather_gpu_host_ucx.sh >/dev/null
fi
source scripts/lib/ucx_wheel.sh
unpack_ucx_wheel "$PWD" "$(command -v python3 || echo /usr/bin/python3)" >/dev/null ||
  { echo "setup: could not unpack UCX from .deps/wheels" >&2; exit 1; }
echo "==> UCX from $(cat .deps/ucx/.from) in .deps/ucx/libucx"
# nvJPEG's headers (PyPI's nvidia-nvjpeg wheel, 4 MiB), so the cpu preset compile-checks the GPU engine's nvJPEG
# path. Optional: without it that path is left out of the check, and nothing else changes.
if ! compgen -G ".deps/wheels/nvidia_nvjpeg-*.whl" >/dev/null; then
  echo "==> fetching nvJPEG (PyPI's nvidia-nvjpeg wheel, 4 MiB) into .deps/wheels"
  scripts/gather_gpu_host_nvjpeg.sh >/dev/null || echo "setup: no nvJPEG wheel (optional: the GPU engine's nvJPEG path is not compile-checked)" >&2
fi
source scripts/lib/nvjpeg_wheel.sh
if unpack_nvjpeg_wheel "$PWD" "$(command -v python3 || echo /usr/bin/python3)" >/dev/null; then
  echo "==> nvJPEG headers from $(cat .deps/nvjpeg/.from) in .deps/nvjpeg"
fi

# Triton's Python client from PyPI, pinned (with grpcio and protobuf), for tests/integration/kserve_*: a venv that
# also sees Debian's torch and numpy (--system-site-packages), so the tests can compute their reference outputs.
tritonclient_pin="tritonclient[grpc,http]==2.52.0"
if ! build/venv/bin/python -c "import tritonclient.http, tritonclient.grpc" 2>/dev/null; then
  echo "==> build/venv: $tritonclient_pin"
  /usr/bin/python3 -m venv --system-site-packages build/venv
  build/venv/bin/pip install -q "$tritonclient_pin" ||
    echo "setup: could not install $tritonclient_pin: the KServe client tests will be skipped" >&2
fi

[[ $mode == --no-build ]] && exit 0

echo "==> configuring and building (preset cpu)"
cmake --preset cpu >/dev/null
cmake --build --preset cpu -j"$(nproc)"
echo "==> built build/cpu/src/edgeserve"
