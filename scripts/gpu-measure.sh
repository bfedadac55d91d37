#!/usr/bin/env bash
# One-shot GPU measurement for GpuNtk (issue #9), run from the repository root on a CUDA machine with a PyTorch 2.x
# CUDA install:
#   scripts/gpu-measure.sh [--dry-run-cpu] [STEP ...]      STEP: env tests train bench (default: all, in that order)
#   scripts/gpu-measure.sh bundle                          (on a build machine with the .NET 10 SDK; see below)
# It refuses (non-zero, before measuring anything) when no CUDA device is usable by both PyTorch and GpuNtk; it never
# falls back to the CPU. --dry-run-cpu runs the same steps on the CPU at toy sizes to check the plumbing, and says so
# in every file it writes.
#
# Steps (each writes into the output folder: $OUT if set, else out/gpu-measure-<UTC time>):
#   env    nvidia-smi, PyTorch/CUDA versions, the libtorch GpuNtk loads                    -> env.txt
#   tests  the GPU-tagged tests (TestCategory=GPU) and the torch.func peer tests           -> tests.log
#   train  gpuntk train of a WideResNet on the synthetic CIFAR-format set, full telemetry  -> train.log, train-run.tar.gz
#   bench  GpuNtk.Bench --device cuda: FCN headline, CNN and WRN rows, each against
#          bench/torchfunc_ntk.py (torch.func jacrev+vmap and NTK-vector products) on the same GPU   -> bench.md, bench.log
#   and summary.md (what ran, exit codes, times).
#
# GpuNtk runs on the machine's PyTorch libtorch (GPUNTK_LIBTORCH, default: the torch/lib of $GPUNTK_PYTHON or python3;
# see src/GpuNtk/Native/LibTorchPreload.cs). TorchSharp 0.107 is built for libtorch 2.10: with another version set
# GPUNTK_LIBTORCH_ALLOW_MISMATCH=1 to try anyway (it may fail to load; the env step then says so).
# .NET: with a .NET 10 SDK (dotnet --list-sdks) everything is built here in Release. Without one, a self-contained
# bundle is used: out/gpu-bundle/ or out/gpu-bundle.tar.xz, made on a build machine by `scripts/gpu-measure.sh bundle`
# (gpuntk, GpuNtk.Bench and the tests as an NUnit executable, without libtorch).
#
# Knobs: GPUNTK_PYTHON (interpreter with torch), GPU_MEASURE_THREADS (CPU threads, default min(nproc, 8)),
# GPU_MEASURE_TRAIN_ARGS (replaces the train options below), GPU_MEASURE_BENCH_ARGS (extra bench options),
# GPU_MEASURE_USE_BUNDLE=1 (use the bundle even where an SDK is installed).
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

die() { echo "gpu-measure: ERROR: $*" >&2; exit 1; }

# ---------------------------------------------------------------- bundle (build machine)
if [[ ${1:-} == bundle ]]; then
  set -e
  command -v dotnet >/dev/null || die "bundle needs the .NET 10 SDK"
  b=out/gpu-bundle
  rm -rf "$b" out/gpu-bundle.tar.xz
  for p in src/GpuNtk.Cli bench/GpuNtk.Bench; do
    dotnet publish "$p" -c Release -r linux-x64 --self-contained true -p:PublishReadyToRun=false -o "$b/gpuntk" -nologo -v q
  done
  # The tests as an executable (NUnit's Microsoft.Testing.Platform runner): no SDK needed to run them.
  dotnet publish tests/GpuNtk.Tests -c Release -r linux-x64 --self-contained true -p:TestRunnerExe=true \
    -p:PublishReadyToRun=false -o "$b/gpuntk" -nologo -v q
  # Drop libtorch and its companions (as scripts/publish-gpu-bundle.sh): the GPU machine brings its own.
  find "$b/gpuntk" -maxdepth 1 -type f \( -name 'libtorch*.so*' -o -name 'libc10*.so*' -o -name 'libgomp*.so*' \
    -o -name 'libshm.so' -o -name 'libjitbackend_test.so' -o -name 'libnnapi_backend.so' -o -name 'libbackend_with_compiler.so' \
    -o -name 'libaoti_custom_ops.so' -o -name 'libcaffe2*.so' \) -delete
  # Debug symbols, API docs, satellite resources, code coverage and the crash-dump helpers are not needed to run.
  find "$b/gpuntk" -maxdepth 1 -type f \( -name '*.pdb' -o -name '*.xml' -o -name createdump -o -name 'libmscordaccore.so' \
    -o -name 'libmscordbi.so' \) -delete
  find "$b/gpuntk" -mindepth 2 -maxdepth 2 -name '*.resources.dll' -delete
  rm -rf "$b/gpuntk/Microsoft.CodeCoverage"
  find "$b/gpuntk" -mindepth 1 -maxdepth 1 -type d -empty -delete
  tar -C "$b" -cJf out/gpu-bundle.tar.xz gpuntk
  du -sh "$b/gpuntk" out/gpu-bundle.tar.xz
  echo "carry out/gpu-bundle.tar.xz to the GPU machine (inside the repository) and run scripts/gpu-measure.sh there"
  exit 0
fi

# ---------------------------------------------------------------- options
mode=gpu
steps=()
for a in "$@"; do
  case "$a" in
    --dry-run-cpu) mode=cpu ;;
    env|tests|train|bench) steps+=("$a") ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) die "unknown argument '$a'; usage: scripts/gpu-measure.sh [--dry-run-cpu] [env|tests|train|bench ...] | bundle" ;;
  esac
done
[[ ${#steps[@]} -eq 0 ]] && steps=(env tests train bench)
has_step() { [[ " ${steps[*]} " == *" $1 "* ]]; }

outdir=${OUT:-out/gpu-measure-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$outdir" || die "cannot create the output folder $outdir"
outdir=$(cd "$outdir" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/gpu-measure.XXXXXX")
threads=${GPU_MEASURE_THREADS:-$(( $(nproc) < 8 ? $(nproc) : 8 ))}
if [[ $mode == cpu ]]; then
  device=cpu
  banner="DRY RUN ON THE CPU (--dry-run-cpu): toy sizes, NOT a GPU measurement"
else
  device=cuda
  banner="GPU measurement"
fi
summary=$outdir/summary.md
{
  echo "# scripts/gpu-measure.sh — $banner"
  echo
  echo "Started $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), steps: ${steps[*]}."
  echo
} >"$summary"
note() { echo "$*" | tee -a "$summary" >&2; }
refuse() {
  note "REFUSED: $*"
  exit 1
}

# ---------------------------------------------------------------- preflight: CUDA must be usable, or nothing is measured
python=""
for candidate in ${GPUNTK_PYTHON:-} python3 /usr/bin/python3; do
  if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import torch' >/dev/null 2>&1; then python=$(command -v "$candidate"); break; fi
done
[[ -n $python ]] || refuse "no Python with PyTorch (tried \$GPUNTK_PYTHON, python3, /usr/bin/python3); set GPUNTK_PYTHON"
torch_info=$("$python" - <<'EOF'
import os, torch
try:
    import torch.func  # noqa: F401
    api = "torch.func"
except ImportError:
    api = "functorch"
print(torch.__version__, torch.version.cuda, int(torch.cuda.is_available()), api, os.path.join(os.path.dirname(torch.__file__), "lib"))
EOF
) || refuse "$python cannot report its torch version"
read -r torch_version torch_cuda torch_cuda_ok torch_api torch_lib <<<"$torch_info"
note "Python: $python, PyTorch $torch_version (CUDA $torch_cuda), NTK API $torch_api."

if [[ $mode == gpu ]]; then
  command -v nvidia-smi >/dev/null || refuse "nvidia-smi is not installed: no NVIDIA driver here. This script measures GPUs only (use --dry-run-cpu to check the plumbing)."
  nvidia-smi -L >"$work/gpus.txt" 2>&1 || refuse "nvidia-smi fails: $(head -c 400 "$work/gpus.txt")"
  grep -q '^GPU ' "$work/gpus.txt" || refuse "nvidia-smi lists no GPU"
  [[ $torch_cuda_ok == 1 ]] || refuse "PyTorch $torch_version at $python sees no usable CUDA device (torch.cuda.is_available() is False; torch.version.cuda = $torch_cuda)"
  export GPUNTK_LIBTORCH=${GPUNTK_LIBTORCH:-$torch_lib}
  [[ -f $GPUNTK_LIBTORCH/libtorch_cuda.so ]] || refuse "GPUNTK_LIBTORCH=$GPUNTK_LIBTORCH has no libtorch_cuda.so: not a CUDA libtorch"
  if [[ $torch_version != 2.10.* && ${GPUNTK_LIBTORCH_ALLOW_MISMATCH:-} != 1 ]]; then
    refuse "GPUNTK_LIBTORCH=$GPUNTK_LIBTORCH is libtorch $torch_version; TorchSharp 0.107 is built for 2.10. Install torch==2.10.0 (CUDA), or set GPUNTK_LIBTORCH_ALLOW_MISMATCH=1 to try this one"
  fi
  note "GpuNtk loads libtorch from GPUNTK_LIBTORCH=$GPUNTK_LIBTORCH${GPUNTK_LIBTORCH_ALLOW_MISMATCH:+ (GPUNTK_LIBTORCH_ALLOW_MISMATCH=1)}."
fi

# GpuNtk's binaries: built here with the SDK, or the self-contained bundle.
if [[ ${GPU_MEASURE_USE_BUNDLE:-} != 1 ]] && command -v dotnet >/dev/null && [[ -n $(dotnet --list-sdks 2>/dev/null) ]]; then
  note "Building GpuNtk (Release) with $(dotnet --version)…"
  for p in src/GpuNtk.Cli bench/GpuNtk.Bench tests/GpuNtk.Tests; do
    dotnet build "$p" -c Release -nologo -v q >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; refuse "dotnet build $p failed"; }
  done
  gpuntk=(dotnet "$repo/src/GpuNtk.Cli/bin/Release/net10.0/gpuntk.dll")
  bench=(dotnet "$repo/bench/GpuNtk.Bench/bin/Release/net10.0/GpuNtk.Bench.dll")
  tests=(dotnet test "$repo/tests/GpuNtk.Tests" -c Release --no-build --logger "console;verbosity=normal" --filter)
else
  if [[ ! -x out/gpu-bundle/gpuntk/gpuntk && -f out/gpu-bundle.tar.xz ]]; then
    mkdir -p out/gpu-bundle && tar -C out/gpu-bundle -xJf out/gpu-bundle.tar.xz || refuse "cannot unpack out/gpu-bundle.tar.xz"
  fi
  [[ -x out/gpu-bundle/gpuntk/gpuntk ]] || refuse "no .NET SDK here and no bundle: install the .NET 10 SDK, or run 'scripts/gpu-measure.sh bundle' on a build machine and bring out/gpu-bundle.tar.xz"
  note "Using the self-contained bundle out/gpu-bundle/gpuntk (no .NET SDK, or GPU_MEASURE_USE_BUNDLE=1)."
  b=$repo/out/gpu-bundle/gpuntk
  gpuntk=("$b/gpuntk")
  bench=("$b/GpuNtk.Bench")
  tests=("$b/GpuNtk.Tests" --filter)
fi

# GpuNtk itself must reach the device (a CPU-only libtorch would make the GPU tests skip and the bench refuse).
"${gpuntk[@]}" ntk --arch fcn:depth=1,width=8,in=4,out=2 --random 3 --device "$device" >"$work/probe.log" 2>&1 ||
  { cat "$work/probe.log" >&2; refuse "GpuNtk cannot run on --device $device (gpuntk ntk failed; output above)"; }
note "GpuNtk runs on --device $device."
echo >>"$summary"
echo "| step | exit code | seconds | files |" >>"$summary"
echo "| --- | ---: | ---: | --- |" >>"$summary"

failed=0
# run_step NAME LOG FILES COMMAND...: streams the output to LOG and the terminal, records the exit code.
run_step() {
  local name=$1 log=$2 files=$3
  shift 3
  echo "gpu-measure: [$name] $*" >&2
  local start=$SECONDS
  { echo "# $banner"; echo "# $*"; } >"$log"
  "$@" 2>&1 | tee -a "$log"
  local code=${PIPESTATUS[0]}
  echo "| $name | $code | $((SECONDS - start)) | $files |" >>"$summary"
  [[ $code -eq 0 ]] || failed=1
  return "$code"
}

# ---------------------------------------------------------------- env
if has_step env; then
  env_txt=$outdir/env.txt
  {
    echo "# $banner"
    echo "## nvidia-smi"; nvidia-smi 2>&1 || echo "(nvidia-smi not available)"
    echo; echo "## nvidia-smi -q (clocks, memory, power)"; nvidia-smi -q -d CLOCK,MEMORY,POWER,PERFORMANCE 2>&1 || true
    echo; echo "## host"; uname -a; nproc; grep -m1 'model name' /proc/cpuinfo || true; uptime
    echo; echo "## python / torch"; echo "$python: torch $torch_version, CUDA $torch_cuda, available $torch_cuda_ok, api $torch_api"
    "$python" -c 'import torch; print("device:", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"); print("cudnn:", torch.backends.cudnn.version())' 2>&1
    echo; echo "## GpuNtk"; echo "GPUNTK_LIBTORCH=${GPUNTK_LIBTORCH:-(unset: the NuGet libtorch)}"; echo "binaries: ${gpuntk[*]}"
    cat "$work/probe.log"
  } >"$env_txt" 2>&1
  echo "| env | 0 | 0 | env.txt |" >>"$summary"
fi

# ---------------------------------------------------------------- tests
if has_step tests; then
  export GPUNTK_PYTHON=$python
  run_step tests "$outdir/tests.log" tests.log "${tests[@]}" "TestCategory=GPU|FullyQualifiedName~TorchFuncPeerTests"
  # A GPU test that skips means GpuNtk did not see CUDA: that is a failure here, not a pass.
  if [[ $mode == gpu ]] && grep -Eiq 'skipped:? +[1-9]' "$outdir/tests.log"; then
    note "FAILED: tests were skipped on the GPU machine (see tests.log): GpuNtk's tests did not see CUDA or PyTorch."
    failed=1
  fi
fi

# ---------------------------------------------------------------- train
if has_step train; then
  if [[ -n ${GPU_MEASURE_TRAIN_ARGS:-} ]]; then
    read -r -a train_args <<<"$GPU_MEASURE_TRAIN_ARGS"
  elif [[ $mode == gpu ]]; then
    # WRN-16-4 (2.7 M parameters); λ_max of its NTK on CIFAR-format inputs gives η_max ≈ 0.055 with momentum 0.9
    # (measured on the CPU at 32 probe examples), so η = 0.02.
    train_args=(--arch wrn:depth=16,k=4 --steps 2000 --log-every 100 --checkpoint-every 500 --batch 128 --lr 0.02
      --train-size 8192 --test-size 2000 --probe 256 --ntk-probe 128)
  else
    train_args=(--arch wrn:depth=10,k=1 --steps 4 --log-every 2 --checkpoint-every 0 --batch 32 --lr 0.05
      --train-size 128 --test-size 128 --probe 16 --ntk-probe 8)
  fi
  run_step train "$outdir/train.log" "train.log, train-run.tar.gz" "${gpuntk[@]}" train "${train_args[@]}" \
    --data synthetic --data-dir "$work/data" --device "$device" --seed 0 --out "$work/train-run"
  # The checkpoint (weights, optimizer state, θ0) stays out: it is large and the metrics, plots and events are the record.
  [[ -d $work/train-run ]] && tar -C "$work" --exclude=checkpoint.bin -czf "$outdir/train-run.tar.gz" train-run
fi

# ---------------------------------------------------------------- bench
if has_step bench; then
  bench_args=(--device "$device" --threads "$threads" --python "$python" --out "$outdir/bench.md")
  if [[ $mode == gpu ]]; then bench_args+=(--only headline,CNN,WRN); else bench_args+=(--only headline,WRN --quick); fi
  read -r -a extra <<<"${GPU_MEASURE_BENCH_ARGS:-}"
  if run_step bench "$outdir/bench.log" "bench.md, bench.log" "${bench[@]}" "${bench_args[@]}" "${extra[@]}"; then
    # The comparison is the point: a bench without the peer's FCN and WRN rows is a failure.
    for arch in fcn wrn; do
      grep -q "^Peer \`$arch:" "$outdir/bench.md" || { note "FAILED: bench.md has no torch.func peer result for $arch (see bench.log)"; failed=1; }
    done
    [[ $mode == cpu ]] && sed -i "1i **$banner**\n" "$outdir/bench.md"
  fi
fi

echo >>"$summary"
if [[ $failed -eq 0 ]]; then note "All steps succeeded ($banner). Output: $outdir"; else note "Some steps FAILED ($banner); see the logs in $outdir"; fi
rm -rf "$work"
exit "$failed"
