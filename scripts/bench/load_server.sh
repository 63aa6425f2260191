#!/usr/bin/env bash
# Bounded load test of the poq-infer node server on loopback: requests/s and p50/p99 latency.
# Usage: scripts/bench/load_server.sh [REQUESTS_PER_PHASE] [CONCURRENCY] [SECONDS_CAP_PER_PHASE]
set -euo pipefail
cd "$(dirname "$0")/../.."
export POQ_LOAD_REQUESTS="${1:-4000}"
export POQ_LOAD_CONCURRENCY="${2:-16}"
export POQ_LOAD_SECONDS="${3:-20}"
exec cargo test --release -p poq-infer --test server_load -- --ignored --nocapture --test-threads 1
