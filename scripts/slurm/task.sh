#!/usr/bin/env bash
# One shard of a poq-sim sweep: the per-task command of the Slurm job array in sweep.sbatch.
#
# Runs sweep points with index % COUNT == TASK and writes $POQ_OUT/rewards.shard-TASK-of-COUNT.csv;
# merge.sbatch (simulate --merge) joins the shards into $POQ_OUT/rewards.csv in point order.
#
#   TASK, COUNT   shard index and count (default: $SLURM_ARRAY_TASK_ID and $SLURM_ARRAY_TASK_COUNT)
#   POQ_SIMULATE  the simulate program (default: target/release/examples/simulate; build it with
#                 cargo build --release --no-default-features --features sim --example simulate)
#   POQ_SCENARIO  `paper`, `bench` or a scenario file (default: paper)
#   POQ_SWEEP     sweep axes, space-separated: "beta=0,0.5,1 consensus=mean,median"
#   POQ_ROUNDS    rounds per point (optional)
#   POQ_OUT       output directory, shared by all tasks (default: sweep-out)
set -euo pipefail

task=${TASK:-${SLURM_ARRAY_TASK_ID:?set TASK or run under a Slurm job array}}
count=${COUNT:-${SLURM_ARRAY_TASK_COUNT:?set COUNT or run under a Slurm job array}}
simulate=${POQ_SIMULATE:-target/release/examples/simulate}
scenario=${POQ_SCENARIO:-paper}
out=${POQ_OUT:-sweep-out}
: "${POQ_SWEEP:?set POQ_SWEEP, e.g. \"beta=0,0.5,1 consensus=mean,median\"}"

args=(--scenario "$scenario" --shard "$task/$count" --out "$out" --quiet)
for axis in $POQ_SWEEP; do
    args+=(--sweep "$axis")
done
if [[ -n "${POQ_ROUNDS:-}" ]]; then
    args+=(--rounds "$POQ_ROUNDS")
fi
mkdir -p "$out"
exec "$simulate" "${args[@]}"
