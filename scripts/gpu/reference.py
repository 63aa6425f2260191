"""The Python side of scripts/gpu/check.sh: random checkpoints of the real models' shapes, the
benchmark sentences, and the sentence-transformers / transformers references on the same GPU.

    python3 reference.py make OUT          # OUT/minilm (MiniLM-L6 shape), OUT/smollm2 (SmolLM2-135M shape), OUT/sentences.txt
    python3 reference.py sts OUT OURS.json  # parity of our first 64 embeddings, sentence-transformers throughput
    python3 reference.py decode OUT OURS.json  # parity of our f32 prompt logits, transformers bf16 decode throughput

Each step prints one JSON line per result. The weights are random (seeded): the check is about
arithmetic and speed, and the real weights are too large to carry to the GPU machine.
"""

import json
import shutil
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
MINILM_FILES = [
    "config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt",
    "modules.json", "sentence_bert_config.json", "config_sentence_transformers.json", "1_Pooling/config.json",
]


def make(out: Path, minilm_src: Path) -> None:
    from transformers import BertConfig, BertModel, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    mdir = out / "minilm"
    for f in MINILM_FILES:
        (mdir / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(minilm_src / f, mdir / f)
    BertModel(BertConfig.from_pretrained(mdir), add_pooling_layer=False).save_pretrained(mdir)

    ldir = out / "smollm2"
    cfg = LlamaConfig(vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                      num_attention_heads=9, num_key_value_heads=3, max_position_embeddings=8192,
                      rope_theta=100000.0, rms_norm_eps=1e-5, tie_word_embeddings=True,
                      bos_token_id=1, eos_token_id=2)
    LlamaForCausalLM(cfg).save_pretrained(ldir)
    tiny = ROOT / "crates/poq-infer/tests/fixtures/tiny/llama"
    for f in ["tokenizer.json", "tokenizer_config.json"]:
        shutil.copy(tiny / f, ldir / f)

    base = json.loads((ROOT / "crates/poq-eval/tests/fixtures/minilm/embeddings.json").read_text())["sentences"]
    base = [s for s in base if s.strip()]
    # Whitespace collapsed to single spaces: Rust and Python then split the file into the same lines.
    lines = [" ".join(" ".join(base[(i + j) % len(base)] for j in range(1 + i % 4)).split()) for i in range(4096)]
    (out / "sentences.txt").write_text("\n".join(lines) + "\n")
    print(json.dumps({"step": "make", "minilm": str(mdir), "smollm2": str(ldir), "sentences": len(lines)}))


def sts(out: Path, ours: Path) -> None:
    from sentence_transformers import SentenceTransformer

    lines = [l for l in (out / "sentences.txt").read_text().splitlines() if l.strip()]
    ref_cpu = SentenceTransformer(str(out / "minilm"), device="cpu")
    want = ref_cpu.encode(lines[:64], batch_size=32, convert_to_numpy=True)
    got = json.loads(ours.read_text())
    diff = max(abs(float(g) - float(w)) for gv, wv in zip(got, want) for g, w in zip(gv, wv))
    print(json.dumps({"check": "sts_parity_vs_sentence_transformers_cpu_f32", "sentences": len(got),
                      "max_abs_diff": diff, "pass": len(got) == 64 and diff < 1e-4}))
    model = SentenceTransformer(str(out / "minilm"), device="cuda")
    for batch in [32, 128]:
        model.encode(lines[: 2 * batch], batch_size=batch)
        torch.cuda.synchronize()
        start = time.perf_counter()
        model.encode(lines, batch_size=batch)
        torch.cuda.synchronize()
        secs = time.perf_counter() - start
        print(json.dumps({"check": "sts_throughput_reference", "batch": batch, "sentences": len(lines),
                          "seconds": secs, "sentences_per_s": len(lines) / secs}))


def decode(out: Path, ours: Path) -> None:
    from transformers import LlamaForCausalLM

    got = json.loads(ours.read_text())
    ids = torch.tensor([got["prompt_ids"]])
    ref = LlamaForCausalLM.from_pretrained(out / "smollm2", dtype=torch.float64)
    with torch.no_grad():
        want = ref(ids).logits[0, -1]
    diff = (torch.tensor(got["logits"], dtype=torch.float64) - want).abs().max().item()
    scale = want.abs().max().item()
    print(json.dumps({"check": "decode_parity_vs_transformers_cpu_f64", "max_abs_diff": diff, "max_abs_logit": scale,
                      "argmax_same": int(torch.tensor(got["logits"]).argmax()) == int(want.argmax()),
                      "pass": diff < 1e-3 * max(1.0, scale)}))
    model = LlamaForCausalLM.from_pretrained(out / "smollm2", dtype=torch.bfloat16).cuda().eval()
    ids = ids.cuda()

    def timed(n: int) -> float:
        torch.cuda.synchronize()
        start = time.perf_counter()
        model.generate(ids, max_new_tokens=n, min_new_tokens=n, do_sample=False)
        torch.cuda.synchronize()
        return time.perf_counter() - start

    timed(8)
    one, full = timed(1), timed(128)
    print(json.dumps({"check": "decode_throughput_reference", "dtype": "bf16", "prompt_tokens": ids.shape[1],
                      "prefill_ms": one * 1e3, "decode_tokens_per_s": 127 / (full - one)}))


if __name__ == "__main__":
    step, out = sys.argv[1], Path(sys.argv[2])
    if step == "make":
        make(out, Path(sys.argv[3]))
    elif step == "sts":
        sts(out, Path(sys.argv[3]))
    elif step == "decode":
        decode(out, Path(sys.argv[3]))
    else:
        sys.exit(f"unknown step {step}")
