#!/bin/bash
# Float32 vs float64 agreement of the full NTK of one network, GpuNtk and torch.func on the same weights and inputs:
#   bench/float32_agreement.sh [ARCH] [N]      (default WRN-16-4 on 32×32, ReLU, N = 16; one thread; ~30 min on 2 cores)
# Prints GpuNtk float32 (sd, jc) vs GpuNtk float64, torch.func float64 and float32 vs GpuNtk float64, and the per-example
# maximum of GpuNtk float32's error on the diagonal blocks (a ReLU gate flipping between roundings shows as one example).
set -euo pipefail
ARCH=${1:-wrn:depth=16,k=4,act=relu,param=ntk,in=3,size=32,out=10}
N=${2:-16}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
G=$ROOT/src/GpuNtk.Cli/bin/Release/net10.0/gpuntk
PY=${GPUNTK_PYTHON:-/usr/bin/python3}
W=$(mktemp -d)
cd "$W"
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
"$PY" - "$ARCH" "$N" "$ROOT/bench" <<'P'
import sys, numpy as np, torch
sys.path.insert(0, sys.argv[3]); import torchfunc_ntk as p
net, _ = p.build(sys.argv[1]); torch.manual_seed(3)
with torch.no_grad():
    for q in net.parameters(): q.normal_()
torch.save({k: v.detach().float() for k, v in net.state_dict().items()}, "params.pt")
n = int(sys.argv[2])
s = p.parse_spec(sys.argv[1]); dim = s["in"] * s.get("size", 1) ** 2 if s["kind"] != "fcn" else s["in"]
np.save("x.npy", np.random.default_rng(4).standard_normal((n, dim)).astype(np.float32))
P
for run in "sd float64" "sd float32" "jc float32"; do
  set -- $run
  "$G" ntk --arch "$ARCH" --checkpoint params.pt --inputs x.npy --full --implementation $1 --dtype $2 --out ours_$1_$2.npy > /dev/null
done
for dt in float64 float32; do
  mkdir -p peer_$dt; cp params.pt x.npy peer_$dt/; cp ours_sd_float64.npy peer_$dt/ntk_full.npy
  echo "{\"arch\": \"$ARCH\", \"dtype\": \"$dt\"}" > peer_$dt/meta.json
  "$PY" "$ROOT/bench/torchfunc_ntk.py" peer_$dt --threads 1 --skip-vp --check-only \
    | "$PY" -c "import json,sys; d=json.load(sys.stdin); print('torch.func $dt vs GpuNtk float64: full %.2g, traced %.2g' % (d['max_rel_diff_vs_gpuntk'], d['trace_max_rel_diff_vs_gpuntk']))"
done
"$PY" - <<'P'
import numpy as np
r = np.load('ours_sd_float64.npy'); s = np.abs(r).max()
for f in ['ours_sd_float32.npy', 'ours_jc_float32.npy']:
    e = np.abs(np.load(f).astype(np.float64) - r) / s
    print(f"GpuNtk {f[5:7]} float32 vs float64: full {e.max():.2g}; per example (diagonal blocks):",
          ' '.join(f"{e[i, i].max():.1e}" for i in range(r.shape[0])))
P
rm -rf "$W"
