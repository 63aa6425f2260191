mod tables;

use crate::error::Error;
use poq_core::{EvalItem, Evaluator, Score};
use rayon::prelude::*;
use std::cell::RefCell;
use std::cmp::Ordering;

/// Which Python and Unicode versions the normalization tables were generated from.
pub const F1_REFERENCE_VERSION: &str = tables::PYTHON_UNICODE;

/// Batches at least this long are scored in parallel with rayon.
const PARALLEL_MIN: usize = 512;

/// Python's `string.punctuation` as a 128-bit set over ASCII.
const PUNCT: u128 = {
    let chars = b"!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
    let mut set = 0u128;
    let mut i = 0;
    while i < chars.len() {
        set |= 1u128 << chars[i];
        i += 1;
    }
    set
};

/// ASCII characters `str.split()` splits on.
const ASCII_SPACE: u128 = {
    let mut set = 0u128;
    let mut i = 0;
    while i < tables::ASCII_SPACE.len() {
        set |= 1u128 << tables::ASCII_SPACE[i];
        i += 1;
    }
    set
};

fn in_ranges(table: &[(u32, u32)], cp: u32) -> bool {
    table
        .binary_search_by(|&(lo, hi)| {
            if hi < cp {
                Ordering::Less
            } else if lo > cp {
                Ordering::Greater
            } else {
                Ordering::Equal
            }
        })
        .is_ok()
}

fn is_word(c: char) -> bool {
    let cp = c as u32;
    if cp < 128 { c.is_ascii_alphanumeric() || c == '_' } else { in_ranges(tables::WORD, cp) }
}

fn is_space(c: char) -> bool {
    let cp = c as u32;
    if cp < 128 { ASCII_SPACE >> cp & 1 == 1 } else { tables::SPACE.binary_search(&cp).is_ok() }
}

fn is_cased(c: char) -> bool {
    in_ranges(tables::CASED, c as u32)
}

fn is_case_ignorable(c: char) -> bool {
    in_ranges(tables::CASE_IGNORABLE, c as u32)
}

/// Python's Final_Sigma test for a capital sigma at byte `i` of `s` (CPython's `handle_capital_sigma`).
fn is_final_sigma(s: &str, i: usize) -> bool {
    let before = s[..i].chars().rev().find(|&c| !is_case_ignorable(c));
    if !before.is_some_and(is_cased) {
        return false;
    }
    let after = s[i + 'Σ'.len_utf8()..].chars().find(|&c| !is_case_ignorable(c));
    !after.is_some_and(is_cased)
}

/// Byte classes of the ASCII fast path.
const SKIP: u8 = 0;
const SPACE: u8 = 1;
const WORD: u8 = 2;
const OTHER: u8 = 3;

/// The class of every ASCII byte: punctuation (`_` included) is skipped, whitespace splits, letters
/// and digits form word runs, and the rest (control characters) are non-word token characters.
const ASCII_CLASS: [u8; 128] = {
    let mut t = [OTHER; 128];
    let mut b = 0;
    while b < 128 {
        t[b] = if PUNCT >> b & 1 == 1 {
            SKIP
        } else if ASCII_SPACE >> b & 1 == 1 {
            SPACE
        } else if (b as u8).is_ascii_alphanumeric() {
            WORD
        } else {
            OTHER
        };
        b += 1;
    }
    t
};

/// The single-pass tokenizer state: tokens are spans of `buf` (UTF-8 bytes).
#[derive(Debug, Default)]
struct Tokens {
    buf: Vec<u8>,
    spans: Vec<(u32, u32)>,
    token_start: Option<usize>,
    run_start: Option<usize>,
}

impl Tokens {
    fn clear(&mut self) {
        self.buf.clear();
        self.spans.clear();
        self.token_start = None;
        self.run_start = None;
    }

    fn token(&self, span: (u32, u32)) -> &[u8] {
        &self.buf[span.0 as usize..span.1 as usize]
    }

    /// Feeds one already lower-cased character.
    #[inline]
    fn feed(&mut self, c: char) {
        let cp = c as u32;
        if cp < 128 && PUNCT >> cp & 1 == 1 {
            return;
        }
        if is_space(c) {
            self.end_run();
            self.end_token();
            return;
        }
        self.begin_char(is_word(c));
        let mut utf8 = [0u8; 4];
        self.buf.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
    }

    /// Feeds one ASCII byte of the original text (the fast path: a table lookup per byte).
    #[inline]
    fn feed_ascii(&mut self, b: u8) {
        match ASCII_CLASS[usize::from(b & 0x7f)] {
            SKIP => {}
            SPACE => {
                self.end_run();
                self.end_token();
            }
            class => {
                self.begin_char(class == WORD);
                self.buf.push(b.to_ascii_lowercase());
            }
        }
    }

    /// Before a kept character is appended: opens a word run (or ends one) and opens a token.
    #[inline]
    fn begin_char(&mut self, word: bool) {
        if word {
            if self.run_start.is_none() {
                self.run_start = Some(self.buf.len());
            }
        } else {
            self.end_run();
        }
        if self.token_start.is_none() {
            self.token_start = Some(self.buf.len());
        }
    }

    /// Ends a run of word characters; a run that is an article becomes a separator.
    #[inline]
    fn end_run(&mut self) {
        if let Some(r) = self.run_start.take()
            && matches!(&self.buf[r..], b"a" | b"an" | b"the")
        {
            self.buf.truncate(r);
            self.end_token();
        }
    }

    #[inline]
    fn end_token(&mut self) {
        if let Some(t) = self.token_start.take()
            && self.buf.len() > t
        {
            self.spans.push((t as u32, self.buf.len() as u32));
        }
    }

    /// Normalizes `s` into tokens, replacing what was there.
    fn normalize(&mut self, s: &str) {
        self.clear();
        if s.is_ascii() {
            for b in s.bytes() {
                self.feed_ascii(b);
            }
        } else {
            for (i, c) in s.char_indices() {
                if c.is_ascii() {
                    self.feed_ascii(c as u8);
                } else if c == 'Σ' {
                    self.feed(if is_final_sigma(s, i) { 'ς' } else { 'σ' });
                } else {
                    match tables::LOWER.binary_search_by_key(&(c as u32), |&(cp, _)| cp) {
                        Ok(k) => tables::LOWER[k].1.chars().for_each(|l| self.feed(l)),
                        Err(_) => self.feed(c),
                    }
                }
            }
        }
        self.end_run();
        self.end_token();
    }

    /// Sorts the spans by token text so that two bags can be intersected by merging.
    fn sort(&mut self) {
        let buf = &self.buf;
        self.spans.sort_unstable_by(|a, b| buf[a.0 as usize..a.1 as usize].cmp(&buf[b.0 as usize..b.1 as usize]));
    }
}

/// Size of the multiset intersection of two sorted token bags.
fn common(a: &Tokens, b: &Tokens) -> usize {
    let (mut i, mut j, mut n) = (0, 0, 0);
    while i < a.spans.len() && j < b.spans.len() {
        match a.token(a.spans[i]).cmp(b.token(b.spans[j])) {
            Ordering::Less => i += 1,
            Ordering::Greater => j += 1,
            Ordering::Equal => {
                n += 1;
                i += 1;
                j += 1;
            }
        }
    }
    n
}

/// F1 of two sorted token bags, with the official script's arithmetic (same operations, same order).
fn f1_of(pred: &Tokens, truth: &Tokens) -> f64 {
    let same = common(pred, truth);
    if same == 0 {
        return 0.0;
    }
    let precision = 1.0 * same as f64 / pred.spans.len() as f64;
    let recall = 1.0 * same as f64 / truth.spans.len() as f64;
    (2.0 * precision * recall) / (precision + recall)
}

fn same_tokens(a: &Tokens, b: &Tokens) -> bool {
    a.spans.len() == b.spans.len() && a.spans.iter().zip(&b.spans).all(|(&x, &y)| a.token(x) == b.token(y))
}

#[derive(Debug, Default)]
struct Scratch {
    pred: Tokens,
    truth: Tokens,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

fn with_scratch<T>(f: impl FnOnce(&mut Scratch) -> T) -> T {
    SCRATCH.with(|s| match s.try_borrow_mut() {
        Ok(mut scratch) => f(&mut scratch),
        // Re-entrancy cannot happen here, but a fresh buffer is a correct fallback.
        Err(_) => f(&mut Scratch::default()),
    })
}

/// The official `normalize_answer`: lower-case, drop punctuation and articles, fix whitespace.
pub fn normalize_answer(s: &str) -> String {
    with_scratch(|sc| {
        sc.pred.normalize(s);
        let t = &sc.pred;
        let mut out = Vec::with_capacity(t.buf.len() + t.spans.len());
        for (k, &span) in t.spans.iter().enumerate() {
            if k > 0 {
                out.push(b' ');
            }
            out.extend_from_slice(t.token(span));
        }
        // Spans start and end at character boundaries, so this is always valid UTF-8.
        String::from_utf8_lossy(&out).into_owned()
    })
}

/// The official `f1_score(prediction, ground_truth)` in [0, 1]; 0 when no token is shared.
pub fn f1_score(prediction: &str, ground_truth: &str) -> f64 {
    max_f1(prediction, [ground_truth]).unwrap_or(0.0)
}

/// The official `exact_match_score(prediction, ground_truth)`.
pub fn exact_match_score(prediction: &str, ground_truth: &str) -> bool {
    max_exact_match(prediction, [ground_truth]).unwrap_or(false)
}

/// References remembered for skipping repeats (SQuAD questions have up to six answers, often equal).
const SEEN: usize = 8;

/// The official `metric_max_over_ground_truths(f1_score, …)`; `None` when there are no references.
///
/// Work that cannot change the result is skipped: a reference equal to an earlier one (or to the
/// prediction, which then scores 1, or 0 when it has no tokens) is not normalized again, and the
/// search stops at 1, the largest F1 there is.
pub fn max_f1<'a>(prediction: &str, references: impl IntoIterator<Item = &'a str>) -> Option<f64> {
    with_scratch(|sc| {
        sc.pred.normalize(prediction);
        sc.pred.sort();
        let mut best: Option<f64> = None;
        let (mut seen, mut stored) = ([""; SEEN], 0);
        for r in references {
            if seen[..stored].contains(&r) {
                continue;
            }
            let f = if r == prediction {
                if sc.pred.spans.is_empty() { 0.0 } else { 1.0 }
            } else {
                sc.truth.normalize(r);
                sc.truth.sort();
                f1_of(&sc.pred, &sc.truth)
            };
            best = Some(best.map_or(f, |b| b.max(f)));
            if f >= 1.0 {
                break;
            }
            if stored < SEEN {
                seen[stored] = r;
                stored += 1;
            }
        }
        best
    })
}

/// Exact match against the best reference; `None` when there are no references.
pub fn max_exact_match<'a>(prediction: &str, references: impl IntoIterator<Item = &'a str>) -> Option<bool> {
    with_scratch(|sc| {
        sc.pred.normalize(prediction);
        let mut best: Option<bool> = None;
        for r in references {
            // Equal strings normalize equally; once one reference matches, the answer is known.
            let same = r == prediction || {
                sc.truth.normalize(r);
                same_tokens(&sc.pred, &sc.truth)
            };
            best = Some(same);
            if same {
                break;
            }
        }
        best
    })
}

fn score_items(items: &[EvalItem], metric: impl Fn(&EvalItem) -> Option<f64> + Sync) -> poq_core::Result<Vec<Score>> {
    let one = |(i, item): (usize, &EvalItem)| -> poq_core::Result<Score> {
        let v = metric(item).ok_or_else(|| Error::InvalidArgument {
            name: "references",
            message: format!("item {i} has no references"),
        })?;
        Score::new(10.0 * v)
    };
    if items.len() >= PARALLEL_MIN {
        // Items take well under a microsecond: chunks of 256 keep rayon's splitting off the profile.
        items.par_iter().with_min_len(256).enumerate().map(one).collect()
    } else {
        items.iter().enumerate().map(one).collect()
    }
}

/// Token F1 evaluator (`f1`): 10 × the official SQuAD F1, maximum over the references.
///
/// ```
/// use poq_core::{EvalItem, Evaluator};
/// let item = EvalItem::new("in Paris", vec!["Paris".into(), "London".into()]);
/// let s = poq_eval::TokenF1.score(&item)?;
/// assert!((s.value() - 10.0 * 2.0 / 3.0).abs() < 1e-12);
/// # Ok::<(), poq_core::Error>(())
/// ```
///
/// Token F1 and exact match, exactly as the official SQuAD v1.1 `evaluate-v1.1.py` computes them.
///
/// The official metric normalizes both strings with
/// `white_space_fix(remove_articles(remove_punc(lower(s))))`, where `lower` is Python's `str.lower`
/// (full Unicode mappings and the Final_Sigma rule), `remove_punc` drops the ASCII characters of
/// `string.punctuation`, `remove_articles` is `re.sub(r'\b(a|an|the)\b', ' ', text)` with `re`'s
/// Unicode `\w` (letters and numbers, not combining marks), and splitting is `str.split()` (which also
/// splits on the ASCII separators `\x1c`–`\x1f`). The Unicode facts come from tables generated with the
/// reference Python (`scripts/gen_f1_tables.py`), so results agree with it character for character.
///
/// The fast path does all four steps in one pass per string, without regular expressions and without
/// allocating per token: tokens are spans into one reusable buffer per thread.
///
/// ```
/// use poq_eval::{f1_score, normalize_answer};
/// assert_eq!(normalize_answer("The  Eiffel-Tower!"), "eiffeltower");
/// assert!((f1_score("the Eiffel Tower", "Eiffel tower, Paris") - 0.8).abs() < 1e-12);
/// assert_eq!(f1_score("", ""), 0.0);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct TokenF1;

impl Evaluator for TokenF1 {
    fn name(&self) -> &str {
        "f1"
    }

    fn score_batch(&self, items: &[EvalItem]) -> poq_core::Result<Vec<Score>> {
        score_items(items, |it| max_f1(&it.candidate, it.references.iter().map(String::as_str)))
    }
}

/// Exact-match evaluator (`em`): 10 when the normalized candidate equals a normalized reference, else 0.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExactMatch;

impl Evaluator for ExactMatch {
    fn name(&self) -> &str {
        "em"
    }

    fn score_batch(&self, items: &[EvalItem]) -> poq_core::Result<Vec<Score>> {
        score_items(items, |it| {
            max_exact_match(&it.candidate, it.references.iter().map(String::as_str)).map(|m| f64::from(u8::from(m)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn official_examples() {
        assert_eq!(normalize_answer("The Cat sat on a mat."), "cat sat on mat");
        assert_eq!(normalize_answer("anthem theory"), "anthem theory");
        assert_eq!(normalize_answer("—the—"), "— —");
        assert_eq!(normalize_answer("a\u{301}"), "\u{301}");
        assert_eq!(normalize_answer("x\u{1c}y"), "x y");
        assert_eq!(normalize_answer("x\u{200b}y"), "x\u{200b}y");
        assert_eq!(normalize_answer("ΟΔΟΣ Σ"), "οδος σ");
        assert_eq!(normalize_answer("İ"), "i\u{307}");
        assert!(exact_match_score("", "the"));
        assert_eq!(f1_score("", ""), 0.0);
        assert_eq!(f1_score("x b b", "b b c"), 2.0 * (2.0 / 3.0) * (2.0 / 3.0) / (4.0 / 3.0));
        assert_eq!(f1_score("a b b", "b b c"), 0.8);
    }

    #[test]
    fn tables_are_sorted() {
        assert!(tables::LOWER.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(tables::SPACE.windows(2).all(|w| w[0] < w[1]));
        for t in [tables::WORD, tables::CASED, tables::CASE_IGNORABLE] {
            assert!(t.windows(2).all(|w| w[0].1 < w[1].0));
        }
    }

    proptest::proptest! {
        /// The skipped work never changes a result: each against the plain maximum over references.
        #[test]
        fn shortcuts_match_the_plain_maximum(
            pred in "(the|a|b|B|c| |,|é){0,6}",
            refs in proptest::collection::vec("(the|a|b|B|c| |,|é){0,6}", 1..12),
            copy in proptest::collection::vec(0usize..12, 0..4),
        ) {
            // Some references repeat earlier ones or the prediction, as SQuAD's answers do.
            let mut refs = refs;
            for (k, &c) in copy.iter().enumerate() {
                let r = if c % 3 == 0 { pred.clone() } else { refs[c % refs.len()].clone() };
                refs.insert((k * 5) % (refs.len() + 1), r);
            }
            let plain_f1 = refs.iter().map(|r| {
                with_scratch(|sc| {
                    sc.pred.normalize(&pred);
                    sc.pred.sort();
                    sc.truth.normalize(r);
                    sc.truth.sort();
                    f1_of(&sc.pred, &sc.truth)
                })
            }).fold(f64::NEG_INFINITY, f64::max);
            let plain_em = refs.iter().any(|r| normalize_answer(r) == normalize_answer(&pred));
            let got = max_f1(&pred, refs.iter().map(String::as_str));
            proptest::prop_assert_eq!(got.map(f64::to_bits), Some(plain_f1.to_bits()));
            proptest::prop_assert_eq!(max_exact_match(&pred, refs.iter().map(String::as_str)), Some(plain_em));
        }
    }

    #[test]
    fn repeated_and_identical_references_score_as_computed() {
        // Identical strings without tokens score 0, not 1.
        assert_eq!(max_f1("the", ["the", "the"]), Some(0.0));
        assert_eq!(max_f1("", [""]), Some(0.0));
        assert_eq!(max_f1("Paris, France", ["x", "Paris, France", "x"]), Some(1.0));
        assert_eq!(max_f1("in Paris", ["London", "London", "paris"]), Some(2.0 / 3.0));
        assert_eq!(max_exact_match("The Cat", ["dog", "the cat!"]), Some(true));
        assert_eq!(max_exact_match("cat", ["dog", "dog"]), Some(false));
    }

    #[test]
    fn empty_references_are_an_error() {
        let e = TokenF1.score_batch(&[EvalItem::new("x", vec![])]).unwrap_err().to_string();
        assert!(e.contains("item 0"), "{e}");
    }
}
