#!/usr/bin/env bash
# grpc:// before and after ModelInfer's tensors left protobuf (3d5c767), on a CPU machine, side by side: OLD and NEW
# are two edgeserve binaries (the parent tree's and this one's), run in turn three times, each serving and
# benching itself. MODEL=bigin: a 1x3x224x224 fp32 input (602 KB) with next to no compute, made below, so the
# transport's share is what moves; MODEL=bigout: tools/export_models.py's 16.8 MB reply.
#   OLD=... NEW=... [MODEL=bigin] [N=1000] [TARGETS="grpc://127.0.0.1:7102 tcp://127.0.0.1:7101"] ab.sh REPO
set -u
repo=${1:?a model repository folder (tools/export_models.py --models mobilenetv3,bigout --out REPO)}
MODEL=${MODEL:-bigin}; N=${N:-1000}
if [[ $MODEL == bigin && ! -f $repo/bigin.pt ]]; then
  /usr/bin/python3 - "$repo" <<'PY'
import copy, json, sys, torch
repo = sys.argv[1]
class BigIn(torch.nn.Module):
    def forward(self, x):
        return torch.nn.functional.adaptive_avg_pool2d(x, 1).flatten(1).repeat(1, 334)[:, :1000]
torch.jit.freeze(torch.jit.trace(BigIn().eval(), torch.zeros(1, 3, 224, 224))).save(f"{repo}/bigin.pt")
d = json.load(open(f"{repo}/manifest.json"))
e = copy.deepcopy(next(m for m in d["models"] if m["name"] == "mobilenetv3"))
e["name"], e["file"] = "bigin", "bigin.pt"
d["models"] = [m for m in d["models"] if m["name"] != "bigin"] + [e]
json.dump(d, open(f"{repo}/manifest.json", "w"), indent=1)
PY
fi
for round in 1 2 3; do
  for v in old new; do
    bin=$OLD; [[ $v == new ]] && bin=$NEW
    out=$(mktemp -d)
    "$bin" serve --repo "$repo" --models "$MODEL" --device cpu --workers 1 --listen tcp://127.0.0.1:7101 \
      --listen grpc://127.0.0.1:7102 --ready-file "$out/ready" >"$out/server.log" 2>&1 &
    server=$!
    for _ in $(seq 100); do [[ -s $out/ready ]] && break; sleep 0.2; done
    for t in ${TARGETS:-grpc://127.0.0.1:7102 tcp://127.0.0.1:7101}; do
      s=${t%%:*}
      "$bin" bench --target "$t" --repo "$repo" --model "$MODEL" --input preprocessed --requests "$N" --warmup 20 \
        --out "$out/$s" --no-progress >"$out/$s.log" 2>&1
      python3 -c "import json,sys; d=json.load(open(sys.argv[1]))['metrics']; print(sys.argv[2], ' '.join(
f'{k}={d[k][\"p50\"]:.3f}' for k in ('request-time','response-time','total-time')))" "$out/$s/summary.json" "$round $v $s"
    done
    kill $server; wait $server 2>/dev/null
    rm -rf "$out"
  done
done
