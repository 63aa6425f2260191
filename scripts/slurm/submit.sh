#!/usr/bin/env bash
# Queues a sharded sweep: an array of SHARDS tasks (sweep.sbatch), then the merge (merge.sbatch)
# once every task has succeeded.
#   SHARDS=8 POQ_SWEEP="attack=boost,collusion malicious_ratio=0,0.1,0.2,0.3 k=3,5" \
#     POQ_OUT=/scratch/sweep bash scripts/slurm/submit.sh
set -euo pipefail
shards=${SHARDS:?set SHARDS, the number of array tasks}
: "${POQ_SWEEP:?set POQ_SWEEP}"
dir=$(cd "$(dirname "$0")" && pwd)
export POQ_SLURM_DIR=$dir
array=$(sbatch --parsable --array="0-$((shards - 1))" --export=ALL "$dir/sweep.sbatch")
sbatch --parsable --dependency="afterok:${array%%;*}" --export=ALL "$dir/merge.sbatch"
