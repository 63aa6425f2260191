"""sentence-transformers (PyTorch, CPU) reference timing for the `sts` criterion bench.

Same model (models/all-MiniLM-L6-v2 by default, --model all-mpnet-base-v2 for MPNet), batch 32 by
default, torch.set_num_threads(2) by default, and the same texts as the bench's groups:

  --workload parity (default; groups sts_minilm, sts_mpnet): the 54 parity sentences of poq-eval's
      fixtures, repeated 4 times.
  --workload real (groups sts_minilm_real, sts_mpnet_real): texts as long as those the main job
      scores (answers and CNN/DailyMail highlights, ~55 words), built from the shared data by this rule,
      which benches/sts.rs repeats word for word:
        1. every line of cnndm/test-250.jsonl in file order: its `highlights` string, whole;
        2. every line again: the first 55 words of its `article`;
        3. SQuAD dev-v1.1.json paragraphs in file order, every 7th (0, 7, 14, ...): the first 55 words
           of its `context`.
      Words are split on whitespace and joined by one space (str.split / split_whitespace). With the
      shared files: 796 texts, 43,807 words, 55.0 words a text. Data: $POQ_DATA_DIR, else
      ../shared/data, else data/.

    /opt/refpy/bin/python scripts/bench/sts_reference.py [--workload real] [--model M] [--batch 32]
        [--threads 2] [--reps 10]
Prints the workload's size and sentences/s (median over reps, after one warm-up pass).
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch
from sentence_transformers import SentenceTransformer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LEAD_WORDS = 55
SQUAD_EVERY = 7


def parity_texts():
    with open(os.path.join(ROOT, "crates/poq-eval/tests/fixtures/minilm/embeddings.json")) as f:
        one = json.load(f)["sentences"]
    return one * 4


def data_dir():
    """The first folder holding both data files, or None."""
    env = os.environ.get("POQ_DATA_DIR")
    candidates = [env] if env else [os.path.join(ROOT, "../shared/data")]
    candidates.append(os.path.join(ROOT, "data"))
    for d in candidates:
        if os.path.isfile(os.path.join(d, "cnndm/test-250.jsonl")) and os.path.isfile(
            os.path.join(d, "squad/dev-v1.1.json")
        ):
            return d
    return None


def lead(text):
    return " ".join(text.split()[:LEAD_WORDS])


def real_texts(d):
    with open(os.path.join(d, "cnndm/test-250.jsonl"), encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    with open(os.path.join(d, "squad/dev-v1.1.json"), encoding="utf-8") as f:
        squad = json.load(f)
    contexts = [p["context"] for a in squad["data"] for p in a["paragraphs"]]
    return (
        [r["highlights"] for r in rows]
        + [lead(r["article"]) for r in rows]
        + [lead(c) for c in contexts[::SQUAD_EVERY]]
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="all-MiniLM-L6-v2", help="folder under models/ (or POQ_MODELS_DIR)")
    ap.add_argument("--workload", choices=["parity", "real"], default="parity")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=10)
    args = ap.parse_args()
    if args.workload == "real":
        d = data_dir()
        if d is None:
            sys.exit("no cnndm/test-250.jsonl and squad/dev-v1.1.json under $POQ_DATA_DIR, ../shared/data or data/")
        sentences = real_texts(d)
    else:
        sentences = parity_texts()
    words = sum(len(s.split()) for s in sentences)
    chars = sum(len(s) for s in sentences)
    print(f"workload {args.workload}: {len(sentences)} texts, {words} words ({words / len(sentences):.1f} a text), "
          f"{chars} characters")
    torch.set_num_threads(args.threads)
    models = os.environ.get("POQ_MODELS_DIR", os.path.join(ROOT, "models"))
    model = SentenceTransformer(os.path.join(models, args.model), device="cpu")
    with torch.inference_mode():
        model.encode(sentences, batch_size=args.batch)
        times = []
        for _ in range(args.reps):
            t = time.perf_counter()
            model.encode(sentences, batch_size=args.batch)
            times.append(time.perf_counter() - t)
    med = statistics.median(times)
    print(f"sentence-transformers {torch.__version__} {args.model} threads={args.threads} batch={args.batch} "
          f"workload={args.workload}: {len(sentences)} sentences in {med * 1e3:.1f} ms (median of {args.reps}) "
          f"= {len(sentences) / med:.1f} sentences/s")


if __name__ == "__main__":
    main()
