#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 90) each, one after another, and prints libFuzzer's
# final stats line per target. Crashes land in fuzz/artifacts/<target>/.
# RUSTC_BOOTSTRAP=1 lets cargo-fuzz's flags through on a stable toolchain.
set -uo pipefail
cd "$(dirname "$0")"
SECONDS_EACH=${1:-90}
shift || true
TARGETS=${*:-"f1 judge_reply openai_request scenario datasets gguf model_config"}
export RUSTC_BOOTSTRAP=1
for t in $TARGETS; do
  mkdir -p "corpus/$t" "seeds/$t"
  log="artifacts/$t.log"
  mkdir -p artifacts
  cargo fuzz run -s none -a "$t" "corpus/$t" "seeds/$t" -- \
    -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=20 -print_final_stats=1 \
    >"$log" 2>&1
  echo "== $t: exit $?"
  grep -E "stat::number_of_executed_units|stat::average_exec_per_sec|Done [0-9]+ runs|SUMMARY|panicked|==ERROR|Test unit written" "$log" | head -8
done
