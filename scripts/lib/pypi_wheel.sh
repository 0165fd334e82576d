# Sourced by the scripts that fetch a PyPI wheel for the GPU host (gather_gpu_host_ucx.sh, _perf_analyzer.sh,
# gather_gpu_host_nvjpeg.sh) and by those that unpack one (lib/ucx_wheel.sh, lib/nvjpeg_wheel.sh): the download,
# the integrity check and the unzip are the same for every wheel; only the names differ.

# fetch_wheel TOOL SPEC GLOB "PLATFORM..." MEMBER...: pip-downloads SPEC (no dependencies, binary only, for the GPU
# host's python 3.12) into .deps/wheels, checks that the zip is intact and holds every MEMBER, then replaces any
# older wheel matching GLOB (so versions never pile up). TOOL names the caller in errors. Run from the repo root.
fetch_wheel() {
  local tool=$1 spec=$2 glob=$3 platforms=$4
  shift 4
  local wheels_dir=.deps/wheels python="" cand tmp whl p
  local -a got platform_args=()
  for cand in "$(command -v python3 || true)" /usr/bin/python3; do  # a python with pip: PATH's, else Debian's
    [[ -n "$cand" && -x "$cand" ]] && "$cand" -m pip --version >/dev/null 2>&1 && { python=$cand; break; }
  done
  [[ -n "$python" ]] || { echo "$tool: error: no python3 with pip here (Debian: sudo apt-get install python3-pip)" >&2; return 1; }
  for p in $platforms; do platform_args+=(--platform "$p"); done
  mkdir -p "$wheels_dir"
  tmp=$(mktemp -d .deps/wheels.tmp.XXXXXX)
  echo "==> pip download $spec into $wheels_dir/"
  if ! "$python" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 "${platform_args[@]}" \
    -d "$tmp" "$spec"; then
    rm -rf "$tmp"
    echo "$tool: error: pip download $spec failed (network? a version the index does not have?)" >&2
    return 1
  fi
  shopt -s nullglob
  got=("$tmp"/$glob)
  shopt -u nullglob
  if ((${#got[@]} != 1)); then
    echo "$tool: error: expected one $glob from pip, got: $(ls "$tmp")" >&2
    rm -rf "$tmp"
    return 1
  fi
  whl=${got[0]}
  if ! "$python" - "$whl" "$@" <<'PY'; then
import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
bad = z.testzip()
if bad:
    sys.exit(f"corrupt member {bad}")
missing = [n for n in sys.argv[2:] if n not in set(z.namelist())]
if missing:
    sys.exit("missing: " + " ".join(missing))
PY
    echo "$tool: error: $(basename "$whl") is not the expected wheel (see above)" >&2
    rm -rf "$tmp"
    return 1
  fi
  rm -f "$wheels_dir"/$glob
  mv "$whl" "$wheels_dir/"
  rm -rf "$tmp"
  awk -v f="$wheels_dir/$(basename "$whl")" -v b="$(stat -c %s "$wheels_dir/$(basename "$whl")")" \
    'BEGIN { printf "==> %s (%.1f MiB)\n", f, b / 1048576 }'
}

# unpack_wheel ROOT PYTHON GLOB DIR MEMBER...: unzips the newest ROOT/.deps/wheels/GLOB into DIR unless DIR already
# holds that wheel (DIR/.from), and checks that every MEMBER (a path under DIR) is there. Sets WHEEL_UNPACKED=1
# when it unzipped (the caller's own fix-ups go then), 0 otherwise. Returns 1 when there is no wheel or it is
# not what was expected.
unpack_wheel() {
  local root=$1 python=$2 glob=$3 dir=$4 whl m
  shift 4
  local -a wheels
  WHEEL_UNPACKED=0
  shopt -s nullglob
  wheels=("$root"/.deps/wheels/$glob)
  shopt -u nullglob
  ((${#wheels[@]})) || return 1
  whl=$(printf '%s\n' "${wheels[@]}" | sort -V | tail -1)
  [[ -f "$dir/.from" && "$(cat "$dir/.from")" == "$(basename "$whl")" ]] && return 0
  rm -rf "$dir"
  "$python" -m zipfile -e "$whl" "$dir" || { echo "could not unzip $(basename "$whl")" >&2; return 1; }
  for m in "$@"; do
    [[ -f "$dir/$m" ]] || { echo "$(basename "$whl") lacks $m" >&2; return 1; }
  done
  basename "$whl" >"$dir/.from"
  WHEEL_UNPACKED=1
}
