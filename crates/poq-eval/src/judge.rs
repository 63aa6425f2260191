use crate::datasets::fill;
use crate::error::{Error, Result};
use poq_core::{ChatMessage, EvalItem, Evaluator, GenerationRequest, Generator, Role, Sampling, Score};
use std::sync::Mutex;

/// The default rubric. Placeholders: `{input}`, `{references}`, `{candidate}`.
pub const DEFAULT_RUBRIC: &str = "You grade answers. Compare the candidate answer with the reference answer(s) \
for the question or source below, and rate how correct and complete the candidate is on a scale from 0 to 10:\n\
0 = wrong, unrelated or empty; 5 = partly correct or missing key facts; 10 = fully correct and equivalent to \
a reference.\n\nQuestion or source:\n{input}\n\nReference answer(s):\n{references}\n\nCandidate answer:\n\
{candidate}\n\nReply with the score only, as a single number from 0 to 10.";

/// What the judge says when a reply has no usable score.
pub const JUDGE_REASK: &str =
    "Your reply did not contain a score from 0 to 10. Reply with a single number from 0 to 10.";

/// An [`Evaluator`] backed by a [`Generator`].
///
/// An LLM judge: any [`Generator`] asked to grade a candidate against the references on 0–10.
///
/// The judge decodes greedily (temperature 0) and reads the score out of free-form replies such as
/// `7`, `Score: 7/10`, `**8**` or `7.5 out of 10`. A reply without a usable score gets one re-ask in the
/// same conversation; a second failure is [`Error::JudgeReply`] with both replies. Out-of-range numbers
/// (`11`, `-3`) are not clamped: they count as unusable, since a judge that says 11 did not follow the
/// rubric.
///
/// `Generator::generate` takes `&mut self` while an [`Evaluator`] is shared, so the generator sits
/// behind a mutex and items are judged one at a time.
#[derive(Debug)]
pub struct LlmJudge<G> {
    generator: Mutex<G>,
    name: String,
    rubric: String,
    max_new_tokens: usize,
}

impl<G: Generator> LlmJudge<G> {
    /// A judge named `judge` with the default rubric and 32 new tokens per reply.
    pub fn new(generator: G) -> Self {
        LlmJudge {
            generator: Mutex::new(generator),
            name: "judge".to_owned(),
            rubric: DEFAULT_RUBRIC.to_owned(),
            max_new_tokens: 32,
        }
    }

    /// Replaces the rubric (same placeholders as [`DEFAULT_RUBRIC`]).
    pub fn with_rubric(mut self, rubric: impl Into<String>) -> Self {
        self.rubric = rubric.into();
        self
    }

    /// Renames the evaluator (the output column).
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Sets the reply budget.
    pub fn with_max_new_tokens(mut self, n: usize) -> Self {
        self.max_new_tokens = n;
        self
    }

    /// Gives the generator back.
    pub fn into_inner(self) -> Result<G> {
        self.generator.into_inner().map_err(|_| Error::Poisoned { what: "judge generator" })
    }

    /// The rubric filled in for one item.
    pub fn prompt(&self, item: &EvalItem) -> String {
        let refs: Vec<String> = item.references.iter().map(|r| format!("- {r}")).collect();
        let values = [
            ("input", item.input.as_deref().unwrap_or("(not given)")),
            ("references", &refs.join("\n")),
            ("candidate", &item.candidate),
        ];
        fill(&self.rubric, &values)
    }

    /// Judges one item: asks, re-asks once if needed, and returns the score.
    pub fn judge(&self, item: &EvalItem) -> Result<Score> {
        let mut generator = self.generator.lock().map_err(|_| Error::Poisoned { what: "judge generator" })?;
        let mut request = GenerationRequest {
            messages: vec![ChatMessage::user(self.prompt(item))],
            max_new_tokens: self.max_new_tokens,
            sampling: Sampling { temperature: 0.0, ..Sampling::default() },
            stop: Vec::new(),
        };
        let first = generator.generate(&request)?.text;
        if let Some(v) = parse_score(&first) {
            return Ok(Score::new(v)?);
        }
        request.messages.push(ChatMessage { role: Role::Assistant, content: first.clone() });
        request.messages.push(ChatMessage::user(JUDGE_REASK));
        let second = generator.generate(&request)?.text;
        match parse_score(&second) {
            Some(v) => Ok(Score::new(v)?),
            None => Err(Error::JudgeReply { judge: self.name.clone(), first, second }),
        }
    }
}

impl<G: Generator> Evaluator for LlmJudge<G> {
    fn name(&self) -> &str {
        &self.name
    }

    fn score_batch(&self, items: &[EvalItem]) -> poq_core::Result<Vec<Score>> {
        Ok(items.iter().map(|it| self.judge(it)).collect::<Result<Vec<_>>>()?)
    }
}

/// A number found in a reply, with where it is.
#[derive(Debug, Clone, Copy)]
struct Number {
    value: f64,
    negative: bool,
    start: usize,
    end: usize,
}

fn numbers(s: &str) -> Vec<Number> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i + 1 < b.len() && b[i] == b'.' && b[i + 1].is_ascii_digit() {
            i += 1;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
        }
        // A minus sign right before the digits, not inside a word ("COVID-19").
        let negative = s[..start].ends_with(['-', '−'])
            && !s[..start].trim_end_matches(['-', '−']).ends_with(|c: char| c.is_alphanumeric());
        if let Ok(value) = s[start..i].parse::<f64>() {
            out.push(Number { value, negative, start, end: i });
        }
    }
    out
}

/// Reads a 0–10 score from a judge's reply, or `None` when there is no usable one.
///
/// In order: a number followed by `/10` or `out of 10`; a number after `score`, `rating` or `grade`;
/// otherwise the reply's only number. Negative numbers and numbers above 10 are unusable.
///
/// ```
/// use poq_eval::parse_score;
/// assert_eq!(parse_score("Score: 7/10"), Some(7.0));
/// assert_eq!(parse_score("**8**"), Some(8.0));
/// assert_eq!(parse_score("7.5 out of 10"), Some(7.5));
/// assert_eq!(parse_score("11"), None);
/// assert_eq!(parse_score("no idea"), None);
/// ```
pub fn parse_score(reply: &str) -> Option<f64> {
    let text = reply.to_lowercase();
    let nums = numbers(&text);
    let out_of_ten = |n: &Number| {
        let rest = text[n.end..].trim_start_matches([' ', '*', '_']);
        let rest = rest.strip_prefix('/').or_else(|| rest.strip_prefix("out of"))?;
        let rest = rest.trim_start_matches([' ', '*', '_']);
        let after = rest.strip_prefix("10")?;
        (!after.starts_with(|c: char| c.is_ascii_digit() || c == '.')).then_some(*n)
    };
    let labelled = |n: &Number| {
        let before = text[..n.start].trim_end_matches(|c: char| c.is_whitespace() || "*_:=-−#`".contains(c));
        ["score", "rating", "grade"].iter().any(|w| before.ends_with(w)).then_some(*n)
    };
    let chosen = nums
        .iter()
        .find_map(out_of_ten)
        .or_else(|| nums.iter().find_map(labelled))
        .or_else(|| if nums.len() == 1 { Some(nums[0]) } else { None })?;
    (!chosen.negative && (0.0..=10.0).contains(&chosen.value)).then_some(chosen.value)
}

#[cfg(test)]
mod tests {
    use super::parse_score;

    #[test]
    fn parses_common_reply_shapes() {
        for (reply, want) in [
            ("7", Some(7.0)),
            ("  10\n", Some(10.0)),
            ("0", Some(0.0)),
            ("Score: 7/10", Some(7.0)),
            ("score: 7 / 10", Some(7.0)),
            ("**8**", Some(8.0)),
            ("**Score:** 9", Some(9.0)),
            ("7.5 out of 10", Some(7.5)),
            ("I would rate this answer 6 out of 10 because it misses 2 facts.", Some(6.0)),
            ("Rating: 4\nThe candidate names 1990 instead of 1991.", Some(4.0)),
            ("8/10 - close to the reference", Some(8.0)),
            ("11", None),
            ("11/10", None),
            ("-3", None),
            ("Score: -3", None),
            ("none", None),
            ("", None),
            ("between 3 and 5", None),
            ("10.5", None),
        ] {
            assert_eq!(parse_score(reply), want, "{reply:?}");
        }
    }
}
