#!/usr/bin/env bash
# The GPU check, run on a CUDA machine with Python torch, transformers and sentence-transformers
# (no Rust needed there): parity of the tiny checkpoints on the GPU, then a MiniLM-shaped encoder
# and a SmolLM2-shaped decoder (random weights, made on the spot) against the Python references,
# for parity and throughput. Every result is one JSON line.
#
#   scripts/gpu/check.sh BIN MINILM_CONFIG_DIR [OUT]
#
# BIN is `cargo build --release --features cuda --example device_check` (built where Rust and
# nvcc are; see docs/architecture.md), MINILM_CONFIG_DIR the all-MiniLM-L6-v2 folder without
# its weights (config, tokenizer and sentence-transformers files).
set -uo pipefail
BIN=$1
MINILM=$2
OUT=${3:-/tmp/poq-gpu}
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$OUT"
# candle links libcudart/cublas/curand/nvrtc dynamically: use the ones PyTorch ships (only the
# folders that hold them: other library folders there can shadow the system's own libraries).
NV=$(python3 -c "import nvidia; print(list(nvidia.__path__)[0])" 2>/dev/null)
for lib in libcudart.so.13 libcublas.so.13 libcublasLt.so.13 libcurand.so.10 libnvrtc.so.13; do
  dir=$(find "$NV" -name "$lib" -printf "%h\n" 2>/dev/null | head -1)
  [ -n "$dir" ] && case ":${LD_LIBRARY_PATH:-}:" in *":$dir:"*) ;; *) export LD_LIBRARY_PATH="$dir:${LD_LIBRARY_PATH:-}" ;; esac
done
echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
status=0
step() { echo "== $*"; "$@" || status=1; }
step python3 "$HERE/reference.py" make "$OUT" "$MINILM"
step "$BIN" parity
step "$BIN" sts --model "$OUT/minilm" --sentences "$OUT/sentences.txt" --out "$OUT/ours-sts.json"
step python3 "$HERE/reference.py" sts "$OUT" "$OUT/ours-sts.json"
step "$BIN" decode --model "$OUT/smollm2" --dtype f32 --out "$OUT/ours-decode-f32.json"
step "$BIN" decode --model "$OUT/smollm2" --dtype bf16 --out "$OUT/ours-decode-bf16.json"
step python3 "$HERE/reference.py" decode "$OUT" "$OUT/ours-decode-f32.json"
exit $status
