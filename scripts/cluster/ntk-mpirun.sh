#!/usr/bin/env bash
# One empirical NTK, sharded over the ranks of an Open MPI (or MPICH/Intel MPI) job: each rank is an independent gpuntk
# process that computes its share of the tiles into one .npy on a file system all ranks see (ranks never communicate;
# mpirun is only the launcher).
#   scripts/cluster/ntk-mpirun.sh cpu [NP]      # NP CPU workers, one thread each (default NP: nproc)
#   scripts/cluster/ntk-mpirun.sh gpu [NP]      # one worker per GPU of each host (default NP: GPUs on this host)
# Across hosts add a hostfile: MPIRUN_ARGS="--hostfile hosts" scripts/cluster/ntk-mpirun.sh gpu 16
# Knobs: GPUNTK (default gpuntk; or "dotnet /path/gpuntk.dll"), GPUNTK_OUT, GPUNTK_ARGS, MPIRUN (default mpirun).
# Rerun the same line to finish after a failure (only missing tiles are computed); check with
#   gpuntk kernel-status "$GPUNTK_OUT" --verify
set -euo pipefail
mode=${1:-cpu}
GPUNTK=${GPUNTK:-gpuntk}
GPUNTK_OUT=${GPUNTK_OUT:-$PWD/theta.npy}
GPUNTK_ARGS=${GPUNTK_ARGS:---arch fcn:depth=2,width=256,in=3072,out=10 --random 50000 --trace --dtype float32}
MPIRUN=${MPIRUN:-mpirun}
# Running as root (containers) needs --allow-run-as-root; more ranks than cores needs --oversubscribe.
root_flag=()
[ "$(id -u)" = 0 ] && root_flag=(--allow-run-as-root)

case "$mode" in
  cpu)
    np=${2:-$(nproc)}
    # shellcheck disable=SC2086
    exec "$MPIRUN" "${root_flag[@]}" --oversubscribe ${MPIRUN_ARGS:-} -np "$np" -x OMP_NUM_THREADS=1 \
      $GPUNTK ntk $GPUNTK_ARGS --device cpu --shard auto --out "$GPUNTK_OUT"
    ;;
  gpu)
    np=${2:-$(nvidia-smi -L | wc -l)}
    # Each rank sees only the GPU of its local rank on its host (OMPI_COMM_WORLD_LOCAL_RANK; MPICH: MPI_LOCALRANKID).
    # shellcheck disable=SC2086,SC2016
    exec "$MPIRUN" "${root_flag[@]}" ${MPIRUN_ARGS:-} -np "$np" -x OMP_NUM_THREADS=4 \
      bash -c 'export CUDA_VISIBLE_DEVICES=${OMPI_COMM_WORLD_LOCAL_RANK:-${MPI_LOCALRANKID:-0}}; exec "$@"' gpuntk-rank \
      $GPUNTK ntk $GPUNTK_ARGS --device cuda --shard auto --out "$GPUNTK_OUT"
    ;;
  *)
    echo "usage: $0 cpu|gpu [NP]" >&2
    exit 2
    ;;
esac
