"""llama.cpp reference speed on the same GGUF files and prompts as `cargo bench --bench generate`.

With llama-cpp-python, n_threads=2, greedy argmax, the prompts of benches/generate.rs (a fixed
paragraph repeated, cut to N tokens). Per model:
- load: open the file and evaluate a 16-token prompt (seconds);
- prefill/830: an 830-token prompt from an empty cache (tokens/s);
- decode/64: 64 single-token steps after a 16-token prompt; decode_long/64 after the 830-token one.
Timed in Python around `Llama.eval` (llama_decode plus copying the last logits); median of --runs.

    nice /opt/refpy/bin/pip install llama-cpp-python     # builds llama.cpp from source
    /opt/refpy/bin/python scripts/bench/llama_cpp_reference.py [--model PATH ...] [--threads 2] [--json]
"""

import argparse
import json
import os
import statistics
import time

import numpy as np
from llama_cpp import Llama

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODELS = [
    os.path.join(ROOT, "models", "SmolLM2-135M-Instruct", "SmolLM2-135M-Instruct.Q4_1.gguf"),
    os.path.join(ROOT, "models", "Qwen2.5-Coder-0.5B-Instruct", "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"),
]
PARA = ("The Normans were the people who in the 10th and 11th centuries gave their name to "
        "Normandy, a region in France. They were descended from Norse raiders and pirates "
        "from Denmark, Iceland and Norway who, under their leader Rollo, agreed to swear "
        "fealty to King Charles III of West Francia. ")
SHORT_TOKENS = 16
LONG_TOKENS = 830
DECODE_TOKENS = 64


def open_model(path, threads):
    return Llama(model_path=path, n_threads=threads, n_threads_batch=threads, n_ctx=1024, n_batch=1024,
                 verbose=False)


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


def decode_once(llm, prompt):
    llm.reset()
    llm.eval(prompt)
    t = time.perf_counter()
    for _ in range(DECODE_TOKENS):
        nxt = int(np.argmax(llm.scores[llm.n_tokens - 1]))
        llm.eval([nxt])
    return time.perf_counter() - t


def load_once(path, threads, short):
    t = time.perf_counter()
    llm = open_model(path, threads)
    llm.eval(short)
    took = time.perf_counter() - t
    del llm
    return took


def measure(path, threads, runs):
    llm = open_model(path, threads)
    long, short = prompt_ids(llm, LONG_TOKENS), prompt_ids(llm, SHORT_TOKENS)
    prefill_once(llm, long)  # warm-up
    decode_once(llm, short)
    pre = statistics.median(prefill_once(llm, long) for _ in range(runs))
    dec = statistics.median(decode_once(llm, short) for _ in range(runs))
    dec_long = statistics.median(decode_once(llm, long) for _ in range(max(3, runs // 3)))
    del llm
    load = statistics.median(load_once(path, threads, short) for _ in range(3))
    return {
        "model": os.path.basename(path),
        "threads": threads,
        "load_s": load,
        "prefill_tokens": LONG_TOKENS,
        "prefill_tok_s": LONG_TOKENS / pre,
        "decode_tokens": DECODE_TOKENS,
        "decode_tok_s": DECODE_TOKENS / dec,
        "decode_long_tok_s": DECODE_TOKENS / dec_long,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", action="append", help="GGUF file (repeatable); default: the bench's two")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    for path in a.model or [m for m in MODELS if os.path.isfile(m)]:
        out = measure(path, a.threads, a.runs)
        if a.json:
            print(json.dumps(out))
        else:
            print(f"llama.cpp {out['model']} threads={a.threads}: load+16 {out['load_s']:.2f} s, "
                  f"prefill {out['prefill_tok_s']:.1f} tok/s ({LONG_TOKENS}), "
                  f"decode {out['decode_tok_s']:.1f} tok/s (after {SHORT_TOKENS}), "
                  f"decode {out['decode_long_tok_s']:.1f} tok/s (after {LONG_TOKENS}), median of {a.runs}")


if __name__ == "__main__":
    main()
