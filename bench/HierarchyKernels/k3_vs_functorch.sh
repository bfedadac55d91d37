#!/usr/bin/env bash
# K3 of GpuNtk against functorch in one run: same network weights and inputs (exported by the C# bench), same thread
# count, OMP_WAIT_POLICY=PASSIVE for both; prints both JSON lines, the load average before each side, and the ratio.
#   bench/HierarchyKernels/k3_vs_functorch.sh [threads=1] [n=32] [arch=fcn:depth=2,width=512,act=tanh,in=64,out=1] [dir]
set -euo pipefail
threads=${1:-1}
n=${2:-32}
arch=${3:-fcn:depth=2,width=512,act=tanh,in=64,out=1}
dir=${4:-runs/k3-vs-functorch}
export OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=$threads
here=$(cd "$(dirname "$0")" && pwd)
dotnet build "$here" -c Release -v q -nologo >/dev/null
echo "load before GpuNtk: $(cut -d' ' -f1-3 /proc/loadavg)"
ours=$(dotnet run --project "$here" -c Release --no-build -- --arch "$arch" --probes "$n" --train "$n" --order 3 \
       --dtype float64 --threads "$threads" --repeat 3 --export "$dir")
echo "$ours"
echo "load before functorch: $(cut -d' ' -f1-3 /proc/loadavg)"
theirs=$(/usr/bin/python3 "$here/k3_functorch.py" "$dir" "$threads")
echo "$theirs"
/usr/bin/python3 - "$ours" "$theirs" <<'PY'
import json, sys
ours, theirs = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(json.dumps({"gpuntk_best_seconds": ours["best_seconds"], "functorch_seconds": theirs["seconds"],
                  "ratio": round(theirs["seconds"] / ours["best_seconds"], 1),
                  "relative_difference": theirs["relative_difference_vs_gpuntk"]}))
PY
