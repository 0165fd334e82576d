# Sourced by scripts/setup.sh (CPU build and CI) and scripts/gpu_host_build.sh (GPU host): unpacks PyPI's UCX
# wheel (libucx-cu13, fetched by scripts/gather_gpu_host_ucx.sh into .deps/wheels) into .deps/ucx. Its libucx/
# folder is a UCX prefix: include/, lib/ (libucp.so.0, libuct.so.0, libucs.so.0, libucm.so.0; plain sonames),
# lib/ucx/ (the modules; libucs loads them from the ucx/ folder beside itself, and skips the CUDA ones where
# there is no driver), lib/cmake/ucx/ (relocatable), lib/pkgconfig/, bin/ucx_info.
#
# Why not Debian's libucx-dev (1.13.1)? Its connection manager is built with assertions on and aborts the
# whole process when a ucx:// port receives 17 or more zero bytes (tcp_sockcm_ep.c:825): one stray packet
# would take a server, and its tcp:// front for untrusted clients, down. UCX 1.22 survives those bytes.

# unpack_ucx_wheel ROOT PYTHON: unzips the newest .deps/wheels/libucx_cu13-*.whl under ROOT into ROOT/.deps/ucx
# (again only when the wheel changed) and prints the prefix (ROOT/.deps/ucx/libucx); prints nothing and
# returns 1 when there is no wheel.
unpack_ucx_wheel() {
  local dir=$1/.deps/ucx
  source "$1/scripts/lib/pypi_wheel.sh"
  unpack_wheel "$1" "$2" "libucx_cu13-*.whl" "$dir" libucx/include/ucp/api/ucp.h libucx/lib/libucp.so.0 || return 1
  if ((WHEEL_UNPACKED)); then
    chmod +x "$dir"/libucx/bin/*  # zipfile drops the execute bits
    # A slimmed wheel (gather_gpu_host_ucx.sh) holds each library once, as .so.0: the linker's .so names
    # (ucx-targets.cmake imports lib/libucp.so) become links to it.
    local so
    for so in "$dir"/libucx/lib/*.so.0 "$dir"/libucx/lib/ucx/*.so.0; do
      [[ -e ${so%.0} ]] || ln -s "$(basename "$so")" "${so%.0}"
    done
    # The .pc files name the wheel's build prefix (/__w/...); the CMake config finds its prefix by itself.
    sed -i -E "s#^prefix[[:space:]]*=.*#prefix = $dir/libucx#" "$dir"/libucx/lib/pkgconfig/*.pc
  fi
  echo "$dir/libucx"
}
