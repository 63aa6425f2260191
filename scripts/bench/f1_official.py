"""Times the official SQuAD v1.1 token F1 (Python) on the pairs that `cargo bench --bench f1` uses.

Each of the 10,570 dev questions gives one item: candidate = its first answer, references = its other
answers (the first answer itself when it has no other). Prints items/s and the sum of F1 and EM, which
tests/f1_parity.rs compares with the Rust result when the data is present.

Run: /opt/refpy/bin/python scripts/bench/f1_official.py [path/to/dev-v1.1.json]
"""
import importlib.util
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("official", ROOT / "crates/poq-eval/scripts/gen_f1_fixture.py")
official = importlib.util.module_from_spec(spec)
spec.loader.exec_module(official)


def items(path):
    data = json.loads(Path(path).read_text())
    out = []
    for article in data["data"]:
        for para in article["paragraphs"]:
            for qa in para["qas"]:
                answers = [a["text"] for a in qa["answers"]]
                out.append((answers[0], answers[1:] or answers[:1]))
    return out


def metric_max_over_ground_truths(metric_fn, prediction, ground_truths):
    return max(metric_fn(prediction, gt) for gt in ground_truths)


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else ROOT.parent / "shared/data/squad/dev-v1.1.json"
    its = items(path)
    best = None
    for _ in range(5):
        t0 = time.perf_counter()
        f1 = sum(metric_max_over_ground_truths(official.f1_score, p, gts) for p, gts in its)
        dt = time.perf_counter() - t0
        best = dt if best is None else min(best, dt)
    em = sum(metric_max_over_ground_truths(official.exact_match_score, p, gts) for p, gts in its)
    pairs = sum(len(g) for _, g in its)
    print(f"python {sys.version.split()[0]}: {len(its)} items ({pairs} pairs), best of 5: {best * 1e3:.1f} ms, "
          f"{len(its) / best:,.0f} items/s, {pairs / best:,.0f} pairs/s")
    print(json.dumps({"items": len(its), "pairs": pairs, "f1_sum": f1, "em_sum": em}))


if __name__ == "__main__":
    main()
