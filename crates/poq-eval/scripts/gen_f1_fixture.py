"""Expected values of the official SQuAD v1.1 metric on tricky pairs, for tests/f1_parity.rs.

The three functions below follow evaluate-v1.1.py (Rajpurkar et al.) step for step.
Run: /opt/refpy/bin/python crates/poq-eval/scripts/gen_f1_fixture.py
"""
import json
import random
import re
import string
import sys
from collections import Counter
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "text" / "f1_parity.json"


def normalize_answer(s):
    def remove_articles(text):
        return re.sub(r"\b(a|an|the)\b", " ", text)

    def white_space_fix(text):
        return " ".join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return "".join(ch for ch in text if ch not in exclude)

    return white_space_fix(remove_articles(remove_punc(s.lower())))


def f1_score(prediction, ground_truth):
    p = normalize_answer(prediction).split()
    g = normalize_answer(ground_truth).split()
    common = Counter(p) & Counter(g)
    num_same = sum(common.values())
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(p)
    recall = 1.0 * num_same / len(g)
    return (2 * precision * recall) / (precision + recall)


def exact_match_score(prediction, ground_truth):
    return normalize_answer(prediction) == normalize_answer(ground_truth)


HAND = [
    ("", ""), ("the", ""), ("a an the", "the"), ("", "x"), ("Paris", "paris"), ("The Eiffel Tower", "eiffel tower"),
    ("in Paris, France.", "Paris"), ("a b b", "b b c"), ("anthem theory", "an anthem a theory"), ("the_a", "the a"),
    ("A.B.C.", "abc"), ("U.S.", "us"), ("it's", "its"), ("co-operate", "cooperate"), ("x\u00a0y", "x y"),
    ("x\u2003y\u3000z", "x y z"), ("x\u200by", "x y"), ("x\ufeffy", "xy"), ("x\u001cy\u001fz", "x y z"),
    ("x\u0085y", "x y"), ("x\u2028y\u2029z", "x y z"), ("x\ty\nz\r\x0b\x0c", "x y z"),
    ("İstanbul", "istanbul"), ("İ", "i\u0307"), ("ISTANBUL", "ıstanbul"), ("DİYARBAKIR", "diyarbakır"),
    ("ΟΔΟΣ", "οδος"), ("ΟΔΟΣ", "οδοσ"), ("Σ", "σ"), ("ΑΣ.", "ας"), ("ΑΣ'Β", "ασβ"), ("ΑΣ'", "ας"), ("'Σ'", "σ"),
    ("ΣΑΣ ΣΑΣ", "σας"), ("Α\u0345Σ", "x"), ("ΌΣΟΣ ΤΟ ΠΟΣΟΣ", "όσος το ποσος"),
    ("STRASSE", "straße"), ("Straße", "strasse"), ("ẞ", "ß"), ("Ǆ", "ǆ"), ("ǅ", "ǆ"), ("\u212a", "k"), ("\u2126", "ω"),
    ("Ⅻ", "ⅻ"), ("Ⓐ", "ⓐ"), ("𐐀", "𐐨"), ("ﬀ", "ff"), ("Ŀ", "ŀ"),
    ("a\u0301", "á"), ("the\u0301", "\u0301"), ("\u0301a", "a"), ("café", "cafe\u0301"), ("an\u0308", "an"),
    ("नमस्ते", "नमस्ते दुनिया"), ("a\u093e", "x"), ("the\u0903", "x"),
    ("北京", "北京 大学"), ("東京タワー", "東京 タワー"), ("한국어", "한국어"), ("٣ the ٤", "٣ ٤"),
    ("the\u00b2", "x"), ("a\u00bd", "½"), ("a\u2160", "x"), ("the①", "①"), ("a²", "²"),
    ("😀 the 😀", "😀 😀"), ("a😀", "😀"), ("the👍🏽", "👍🏽"), ("👨‍👩‍👧", "👨‍👩‍👧 family"),
    ("—the—", "— —"), ("«a»", "«»"), ("¿the?", "¿"), ("l’a", "l’"), ("an’t", "’t"), ("the…", "…"),
    ("«The» answer", "answer"), ("“A” “B”", "“” “b”"), ("the\u00adend", "end"), ("a\u200dthe", "x"),
    ("The the THE tHe", ""), ("aN An", ""), ("A1", "a1"), ("a_1", "a1"), ("a-the-b", "athe b"),
    ("1,000", "1000"), ("$5.00", "500"), ("50%", "50"), ("#1", "1"), ("e=mc^2", "emc2"), ("~/x", "x"),
    ("ﬁnal", "final"), ("ＡＢＣ", "ａｂｃ"), ("the ＴＨＥ", "ｔｈｅ"), ("ａ", ""),
    ("x" * 50 + " the " + "y" * 50, "x" * 50), ("the " * 40, "a " * 40), ("tok " * 300, "tok " * 299 + "other"),
    ("Ⱥ", "ⱥ"), ("Ȿ", "ȿ"), ("Ꞵ", "ꞵ"), ("ᏸ", "ᏸ"), ("Ᏸ", "ᏸ"), ("\U0001e900", "\U0001e922"),
]

ALPHABET = list("aAnNtThHeE bcz  .,'-_!?") + [
    "\u00a0", "\u2003", "\u001c", "\u0085", "\u200b", "\t", "\n", "İ", "I", "ı", "Σ", "σ", "ς", "Α", "'", "\u0345",
    "\u0301", "\u0308", "ß", "ẞ", "ǅ", "\u212a", "😀", "🏽", "\u200d", "北", "京", "٣", "²", "½", "Ⅻ", "—", "’", "«", "»",
    "ａ", "Ｔ", "ﬁ", "\u093e", "न", "\u00ad", "\U0001e900",
]


def rand_text(rng, alphabet, n):
    return "".join(rng.choice(alphabet) for _ in range(rng.randrange(n)))


def rand_cp(rng):
    while True:
        cp = rng.randrange(0x30000) if rng.random() < 0.9 else rng.randrange(0xE0000, 0x110000)
        if not 0xD800 <= cp <= 0xDFFF:
            return chr(cp)


def main():
    rng = random.Random(20161)
    pairs = list(HAND)
    for _ in range(600):
        pairs.append((rand_text(rng, ALPHABET, 14), rand_text(rng, ALPHABET, 14)))
    words = ["the", "a", "an", "The", "A", "AN", "x", "y", "Σ", "İ", "ΑΣ", "ß", "😀"]
    for _ in range(300):
        def mix():
            return "".join(rng.choice(words) + rng.choice([" ", "", "-", "\u0301", "\u00a0", "—", "\u001f", ".", "\u2028"]) for _ in range(rng.randrange(6)))
        pairs.append((mix(), mix()))
    # Arbitrary code points from the whole range, sprinkled with articles and separators.
    for _ in range(400):
        def any_text():
            parts = []
            for _ in range(rng.randrange(8)):
                r = rng.random()
                parts.append(rand_cp(rng) if r < 0.6 else rng.choice([" ", "a", "the", "Σ", "\u00a0", "."]))
            return "".join(parts)
        pairs.append((any_text(), any_text()))
    # Overlapping pairs: the truth is the prediction with some characters changed, dropped or moved.
    for k in range(len(pairs)):
        p = pairs[k][0]
        if rng.random() < 0.5 and p:
            chars = list(p)
            for _ in range(rng.randrange(3)):
                i = rng.randrange(len(chars))
                chars[i] = rng.choice(ALPHABET)
            if rng.random() < 0.5:
                rng.shuffle(chars)
            pairs.append((p, p.upper() if rng.random() < 0.3 else "".join(chars)))
    rows = [
        {"pred": p, "truth": t, "norm_pred": normalize_answer(p), "f1": float(f1_score(p, t)), "em": exact_match_score(p, t)}
        for p, t in pairs
    ]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"python": sys.version.split()[0], "pairs": rows}, ensure_ascii=False, indent=0))
    print(f"wrote {len(rows)} pairs to {OUT}")


if __name__ == "__main__":
    main()
