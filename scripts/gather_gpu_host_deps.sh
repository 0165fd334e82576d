#!/usr/bin/env bash
# Run on a CONNECTED Debian 12 (bookworm, amd64) machine. Downloads (never installs) every .deb that the
# `cuda` build needs and that the air-gapped GPU host (Ubuntu 24.04 + CUDA + pip's PyTorch, no package
# registry) lacks, into .deps/debs/ at the repo root. Carry .deps/debs and .deps/wheels to the GPU host (not
# .deps/ucx, the unpacked UCX of this machine's own build: 150 MiB), then run
# scripts/gpu_host_build.sh there; it unpacks these with `dpkg -x` into .deps/prefix (never into /).
#
# The GPU host brings: g++, cmake, ninja, nvcc (CUDA 13), python3 with torch/torchvision (libtorch).
# Everything else comes from here: ZeroMQ (+ cppzmq), cpp-httplib, gRPC + protobuf (and protoc), CLI11, spdlog + fmt,
# nlohmann-json, toml++, stb, GoogleTest, the shared libraries libzmq5 and libgrpc29 load at run time, and pkgconf in
# case the host has no pkg-config.
# Runtime libraries the host already has (e.g. libbsd0, krb5) are skipped there at unpack time, so the
# host's own, newer copies are used.
# At its end it runs scripts/gather_gpu_host_ucx.sh (the CUDA-aware UCX wheel into .deps/wheels/; it
# ships UCX's headers, so no libucx-dev here); EDGESERVE_SKIP_UCX=1 skips that.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "gather_gpu_host_deps: error: $*" >&2; exit 1; }

# Headers, CMake configs, pkg-config files, static libs (the build).
dev_packages=(
  libzmq3-dev cppzmq-dev                      # tcp transport
  libcli11-dev                                # command line
  libspdlog-dev libfmt-dev                    # logging, formatting
  nlohmann-json3-dev                          # manifests, summaries
  libtomlplusplus-dev                         # experiment files (edgeserve sweep)
  libstb-dev                                  # image decoding (pkg-config `stb`)
  libturbojpeg0-dev                           # JPEG input's CPU decoder (pkg-config `libturbojpeg`)
  libgtest-dev libgmock-dev                   # tests (static libgtest.a / libgmock.a)
  libcpp-httplib-dev                          # http:// (KServe v2 REST); its .pc requires the three below
  libssl-dev zlib1g-dev libbrotli-dev
  libgrpc++-dev libgrpc-dev libprotobuf-dev   # grpc:// (KServe v2 over gRPC): gRPC 1.51, protobuf 3.21
  protobuf-compiler protobuf-compiler-grpc    # protoc and grpc_cpp_plugin generate the service (src/proto)
  libabsl-dev libc-ares-dev libre2-dev        # libgrpc-dev's .pc requires these
  libgoogle-perftools-dev                     # tcmalloc (libtcmalloc_minimal.pc): large replies without page faults
)
# Shared libraries the binary and tests load at run time, with their own runtime dependencies.
runtime_packages=(
  libzmq5 libsodium23 libpgm-5.3-0 libnorm1   # libzmq5 and what it links
  libgssapi-krb5-2 libkrb5-3 libk5crypto3 libkrb5support0 libcom-err2 libkeyutils1   # libzmq5 -> GSSAPI
  libbsd0 libmd0                              # libzmq5 -> libbsd
  libspdlog1.10 libfmt9 libstb0
  libtomlplusplus3                            # Debian builds toml++ as a shared library
  libturbojpeg0                               # libturbojpeg0-dev's shared library
  libcpp-httplib0.11 libbrotli1               # Debian builds cpp-httplib as a shared library (+ its deps)
  libgrpc++1.51 libgrpc29 libprotobuf32 libprotobuf-lite32 libprotoc32   # gRPC and protobuf (13.3 MiB with
  libabsl20220623 libre2-9 libc-ares2         #   the grpc:// -dev packages above); what libgrpc29 links
  libtcmalloc-minimal4                        # the tcmalloc edgeserve links
)
# pkg-config (CMake's FindPkgConfig needs one for `stb`); used on the host only if it has none.
tool_packages=(pkgconf pkgconf-bin libpkgconf3)

# Dependencies we deliberately do not ship: the GPU host has them (Ubuntu 24.04's are newer, same sonames).
host_provides=(libc6 libgcc-s1 libstdc++6 libssl3 zlib1g libc6-dev)
# Dependencies of -dev packages that only matter for static linking of libzmq or for building the test
# frameworks from source; the build links libzmq dynamically and uses the prebuilt gtest archives.
# libgoogle-perftools-dev's full tcmalloc and profiler (libgoogle-perftools4, libunwind-dev) are not linked.
dev_only_deps=(libpgm-dev libsodium-dev libnorm-dev libkrb5-dev libbsd-dev googletest catch2 libgoogle-perftools4
               libunwind-dev)

[[ -r /etc/os-release ]] && . /etc/os-release
if [[ "${VERSION_CODENAME:-}" != bookworm && "${EDGESERVE_ANY_DEBIAN:-0}" != 1 ]]; then
  die "this is '${PRETTY_NAME:-unknown}', not Debian 12 (bookworm): the package names and sonames here are" \
      "bookworm's (libspdlog1.10, libfmt9). Run it on Debian 12, or set EDGESERVE_ANY_DEBIAN=1 to try anyway."
fi
arch=$(dpkg --print-architecture)
[[ "$arch" == amd64 ]] || die "this machine is $arch; the GPU host is amd64 (x86-64). Run this on an amd64 Debian 12."
command -v apt-get >/dev/null || die "apt-get not found"

all=("${dev_packages[@]}" "${runtime_packages[@]}" "${tool_packages[@]}")
missing=()
for p in "${all[@]}"; do
  apt-cache show --no-all-versions "$p" >/dev/null 2>&1 || missing+=("$p")
done
((${#missing[@]} == 0)) || die "apt knows no candidate for: ${missing[*]} (run 'sudo apt-get update' first)"

# Download into a fresh folder, then swap it in, so stale versions never pile up in .deps/debs.
mkdir -p .deps
tmp=$(mktemp -d .deps/debs.tmp.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
apt_opts=(-q)
[[ $(id -u) -eq 0 ]] && apt_opts+=(-o APT::Sandbox::User=root)   # root: skip apt's _apt sandbox (no warning)
echo "==> apt-get download ${#all[@]} packages into .deps/debs/"
(cd "$tmp" && apt-get "${apt_opts[@]}" download "${all[@]}") || die "apt-get download failed (network? 'sudo apt-get update'?)"

# Check the runtime closure: every Depends of a shipped runtime package is shipped or provided by the host.
shipped=" ${all[*]} "
skip=" ${host_provides[*]} ${dev_only_deps[*]} "
unmet=()
for deb in "$tmp"/*.deb; do
  pkg=$(dpkg-deb -f "$deb" Package)
  deps=$( (dpkg-deb -f "$deb" Pre-Depends; dpkg-deb -f "$deb" Depends) | tr ',' '\n' | sed -E 's/\(.*\)//; s/\|.*//; s/:any//; s/[[:space:]]//g' | sed '/^$/d')
  for d in $deps; do
    [[ "$shipped" == *" $d "* || "$skip" == *" $d "* ]] && continue
    unmet+=("$pkg -> $d")
  done
done
if ((${#unmet[@]})); then
  echo "gather_gpu_host_deps: warning: dependencies neither shipped nor assumed on the GPU host:" >&2
  printf '  %s\n' "${unmet[@]}" >&2
fi

rm -rf .deps/debs
mv "$tmp" .deps/debs
trap - EXIT

echo "==> .deps/debs:"
(cd .deps/debs && ls -1 *.deb | sed 's/^/  /')
total_bytes=$(du -cb .deps/debs/*.deb | tail -1 | cut -f1)
count=$(ls -1 .deps/debs/*.deb | wc -l)
awk -v n="$count" -v b="$total_bytes" 'BEGIN { printf "==> %d packages, %d bytes (%.1f MiB) in .deps/debs\n", n, b, b / 1048576 }'

# UCX (CUDA-aware) as a PyPI wheel, so one command gathers everything.
if [[ "${EDGESERVE_SKIP_UCX:-0}" != 1 ]]; then
  bash scripts/gather_gpu_host_ucx.sh || die "gathering UCX failed (scripts/gather_gpu_host_ucx.sh; EDGESERVE_SKIP_UCX=1 skips it)"
fi
# nvJPEG (the GPU engine's JPEG decoder) for a host whose CUDA toolkit lacks it.
if [[ "${EDGESERVE_SKIP_NVJPEG:-0}" != 1 ]]; then
  bash scripts/gather_gpu_host_nvjpeg.sh || die "gathering nvJPEG failed (scripts/gather_gpu_host_nvjpeg.sh; EDGESERVE_SKIP_NVJPEG=1 skips it)"
fi
# perf_analyzer (Triton's KServe v2 load generator) to drive edgeserve's http:// front door with a client we did not write.
if [[ "${EDGESERVE_SKIP_PERF_ANALYZER:-0}" != 1 ]]; then
  bash scripts/gather_gpu_host_perf_analyzer.sh ||
    die "gathering perf_analyzer failed (scripts/gather_gpu_host_perf_analyzer.sh; EDGESERVE_SKIP_PERF_ANALYZER=1 skips it)"
fi
echo "    Carry .deps/debs and .deps/wheels to the GPU host (the device tool: carry [\".deps/debs\", \".deps/wheels\"]),"
echo "    then there: bash scripts/gpu_host_build.sh"
