use crate::error::{Error, Result};
use minijinja::{Environment, ErrorKind, Value};
use poq_core::{ChatMessage, Role};
use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

/// A compiled chat template and the special tokens it may refer to.
///
/// Chat templates: the Jinja program in a model's `tokenizer_config.json` (or GGUF metadata) that
/// turns a conversation into the prompt string, rendered the way Hugging Face `transformers` does.
///
/// `transformers` compiles templates with `trim_blocks` and `lstrip_blocks`, passes the special
/// token strings (`bos_token`, `eos_token`, ...) and `add_generation_prompt`, and offers the
/// `raise_exception` and `strftime_now` functions. Python string methods (`.strip()`, `.title()`)
/// come from minijinja-contrib's pycompat layer.
#[derive(Debug)]
pub struct ChatTemplate {
    env: Environment<'static>,
    special: BTreeMap<String, String>,
}

impl ChatTemplate {
    /// Compiles `source`; `special` maps names such as `bos_token` to their strings.
    pub fn new(source: &str, special: BTreeMap<String, String>) -> Result<Self> {
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function("raise_exception", raise_exception);
        env.add_function("strftime_now", strftime_now);
        env.add_template_owned("chat", source.to_owned())
            .map_err(|e| Error::Template(format!("cannot compile the chat template: {e:#}")))?;
        Ok(ChatTemplate { env, special })
    }

    /// Renders a conversation, ending with the assistant header when `add_generation_prompt`.
    pub fn render(&self, messages: &[ChatMessage], add_generation_prompt: bool) -> Result<String> {
        self.render_with(messages, add_generation_prompt, &BTreeMap::new())
    }

    /// As [`render`](Self::render), with extra template variables (`date_string`, `tools`, ...).
    pub fn render_with(
        &self,
        messages: &[ChatMessage],
        add_generation_prompt: bool,
        extra: &BTreeMap<String, serde_json::Value>,
    ) -> Result<String> {
        let msgs: Vec<BTreeMap<&str, &str>> = messages
            .iter()
            .map(|m| BTreeMap::from([("role", role_name(m.role)), ("content", m.content.as_str())]))
            .collect();
        let mut ctx: BTreeMap<String, Value> = BTreeMap::new();
        for (k, v) in &self.special {
            ctx.insert(k.clone(), Value::from(v.clone()));
        }
        for (k, v) in extra {
            ctx.insert(k.clone(), Value::from_serialize(v));
        }
        ctx.insert("messages".into(), Value::from_serialize(&msgs));
        ctx.insert("add_generation_prompt".into(), Value::from(add_generation_prompt));
        let tmpl = self.env.get_template("chat").map_err(|e| Error::Template(format!("{e:#}")))?;
        tmpl.render(ctx).map_err(|e| Error::Template(format!("cannot render the chat template: {e:#}")))
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
    }
}

fn raise_exception(message: String) -> std::result::Result<Value, minijinja::Error> {
    Err(minijinja::Error::new(ErrorKind::InvalidOperation, message))
}

/// Python's `strftime` over the current UTC time, for the directives templates use.
fn strftime_now(format: String) -> String {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    strftime_utc(&format, secs)
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Formats a Unix time (UTC) with `%d %m %Y %y %b %B %H %M %S %%`; other directives stay as written.
pub(crate) fn strftime_utc(format: &str, unix_secs: u64) -> String {
    let days = (unix_secs / 86_400) as i64;
    let rem = unix_secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    let month = MONTHS[(m - 1) as usize];
    let mut out = String::new();
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('d') => out.push_str(&format!("{d:02}")),
            Some('m') => out.push_str(&format!("{m:02}")),
            Some('Y') => out.push_str(&y.to_string()),
            Some('y') => out.push_str(&format!("{:02}", y.rem_euclid(100))),
            Some('b') => out.push_str(&month[..3]),
            Some('B') => out.push_str(month),
            Some('H') => out.push_str(&format!("{:02}", rem / 3600)),
            Some('M') => out.push_str(&format!("{:02}", rem / 60 % 60)),
            Some('S') => out.push_str(&format!("{:02}", rem % 60)),
            Some('%') => out.push('%'),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    out
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn special() -> BTreeMap<String, String> {
        BTreeMap::from([("bos_token".to_string(), "<s>".to_string()), ("eos_token".to_string(), "</s>".to_string())])
    }

    #[test]
    fn renders_with_trim_blocks_and_generation_prompt() {
        let src = "{{ bos_token }}{% for m in messages %}\n[{{ m['role'] }}] {{ m['content'].strip() }}\n{% endfor %}\n{% if add_generation_prompt %}[assistant]{% endif %}";
        let t = ChatTemplate::new(src, special()).unwrap();
        let out = t.render(&[ChatMessage::user("  hi  ")], true).unwrap();
        assert_eq!(out, "<s>[user] hi\n[assistant]");
        let out = t.render(&[ChatMessage::user("hi")], false).unwrap();
        assert_eq!(out, "<s>[user] hi\n");
    }

    #[test]
    fn raise_exception_is_a_typed_error() {
        let t = ChatTemplate::new("{{ raise_exception('roles must alternate') }}", special()).unwrap();
        let err = t.render(&[ChatMessage::user("x")], true).unwrap_err();
        assert!(matches!(&err, Error::Template(m) if m.contains("roles must alternate")), "{err}");
    }

    #[test]
    fn syntax_errors_are_typed() {
        assert!(matches!(ChatTemplate::new("{% for %}", special()), Err(Error::Template(_))));
    }

    #[test]
    fn strftime_matches_known_dates() {
        assert_eq!(strftime_utc("%d %b %Y", 0), "01 Jan 1970");
        // 2024-07-26 13:05:09 UTC
        assert_eq!(strftime_utc("%d %B %Y %H:%M:%S %y %m %%", 1_721_999_109), "26 July 2024 13:05:09 24 07 %");
        assert_eq!(strftime_utc("%d %b %Y", 951_782_400), "29 Feb 2000");
    }
}
