"""sentence-transformers (PyTorch, CPU) reference timing for the `sts` criterion bench.

Same model (models/all-MiniLM-L6-v2 by default, --model all-mpnet-base-v2 for MPNet) and the same
sentences (the 54 parity sentences of poq-eval's fixtures, repeated 4 times), batch 32 by default,
torch.set_num_threads(2) by default.

    /opt/refpy/bin/python scripts/bench/sts_reference.py [--model M] [--batch 32] [--threads 2] [--reps 10]
Prints sentences/s (median over reps, after one warm-up pass).
"""
import argparse
import json
import os
import statistics
import time

import torch
from sentence_transformers import SentenceTransformer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="all-MiniLM-L6-v2", help="folder under models/ (or POQ_MODELS_DIR)")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=10)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    models = os.environ.get("POQ_MODELS_DIR", os.path.join(ROOT, "models"))
    model = SentenceTransformer(os.path.join(models, args.model), device="cpu")
    with open(os.path.join(ROOT, "crates/poq-eval/tests/fixtures/minilm/embeddings.json")) as f:
        one = json.load(f)["sentences"]
    sentences = one * 4
    with torch.inference_mode():
        model.encode(sentences, batch_size=args.batch)
        times = []
        for _ in range(args.reps):
            t = time.perf_counter()
            model.encode(sentences, batch_size=args.batch)
            times.append(time.perf_counter() - t)
    med = statistics.median(times)
    print(f"sentence-transformers {torch.__version__} {args.model} threads={args.threads} batch={args.batch}: "
          f"{len(sentences)} sentences in {med * 1e3:.1f} ms (median of {args.reps}) = {len(sentences) / med:.1f} sentences/s")


if __name__ == "__main__":
    main()
