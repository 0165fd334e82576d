#!/usr/bin/env bash
# Fails (and lists the files) when a C++/CUDA source differs from .clang-format. Fix with: scripts/check_format.sh --fix
set -euo pipefail
cd "$(dirname "$0")/.."
# Tracked files and new ones not yet added (a new file must not pass unchecked until it is committed).
mapfile -t files < <(git ls-files --cached --others --exclude-standard -- 'src/*.h' 'src/*.cpp' 'src/*.cu' 'tests/*.h' \
  'tests/*.cpp' 'fuzz/*.h' 'fuzz/*.cpp' 'tools/*.h' 'tools/*.cpp' 'tools/*.cu' | sort -u)
if [[ ${1:-} == --fix ]]; then
  clang-format -i "${files[@]}"
  exit 0
fi
bad=()
for f in "${files[@]}"; do
  clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if ((${#bad[@]})); then
  echo "clang-format differs in: ${bad[*]} (run scripts/check_format.sh --fix)" >&2
  exit 1
fi
echo "==> format ok (${#files[@]} files)"
