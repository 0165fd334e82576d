#!/bin/sh
# Two exports into one empty folder at once (as a GPU host exports fp32 and fp16 variants side by side): both
# models must end up in the manifest. A read at start and a write at the end lost one of them.
set -eu
python=$1 exporter=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$python" "$exporter" --models tiny --out "$dir" >"$dir/a.log" 2>&1 &
"$python" "$exporter" --models mobilenetv3 --out "$dir" >"$dir/b.log" 2>&1 || { cat "$dir/b.log"; exit 1; }
wait $! || { cat "$dir/a.log"; exit 1; }
for name in tiny mobilenetv3; do
  grep -q "\"name\": \"$name\"" "$dir/manifest.json" || { echo "manifest lost '$name':"; cat "$dir/manifest.json"; exit 1; }
done
echo "both models are in the manifest"
