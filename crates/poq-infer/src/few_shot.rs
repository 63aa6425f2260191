use poq_core::{ChatMessage, Role};

/// A few-shot transcript prompt: the BOS string, a preamble, and (user, assistant) examples.
///
/// The completion-style prompt of base models, which ship no chat template (Gemma-3-270M).
///
/// A pretrained model continues text; it has never seen turn markers. So a conversation is written
/// as a plain transcript after a one-line preamble and a few worked exchanges, and the model
/// continues the assistant's line:
///
/// ```text
/// <bos>A conversation between a user and an assistant who answers briefly and correctly.
///
/// User: <example question>
/// Assistant: <example answer>
///
/// User: <the request>
/// Assistant:
/// ```
///
/// Generation stops where the model starts the next turn or a blank line ([`FewShot::STOPS`]).
/// The default examples mirror the two tasks we score (a question over a context, a news
/// summary); [`FewShot::new`] takes others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FewShot {
    bos: Option<String>,
    preamble: String,
    examples: Vec<(String, String)>,
}

const PREAMBLE: &str = "A conversation between a user and an assistant who answers briefly and correctly.";

const QA_EXAMPLE: (&str, &str) = (
    "Answer the question with a short phrase taken from the context.\n\n\
     Context: The Amazon River flows through Peru, Colombia and Brazil before it reaches the \
     Atlantic Ocean. It carries more water than any other river.\n\n\
     Question: Which ocean does the Amazon River reach?\nAnswer:",
    "the Atlantic Ocean",
);

const SUMMARY_EXAMPLE: (&str, &str) = (
    "Summarize the following news article in two or three sentences.\n\n\
     Article: The city council voted on Tuesday to build a new bridge over the river. The bridge \
     will cost 40 million dollars and should open in three years. Supporters say it will cut \
     travel times in half, while opponents worry about the cost.\n\nSummary:",
    "The city council approved a 40 million dollar bridge over the river, due to open in three \
     years. Supporters expect shorter travel times; opponents worry about the cost.",
);

impl FewShot {
    /// Strings that end an answer: the next user turn, or a blank line.
    pub const STOPS: [&str; 2] = ["\nUser:", "\n\n"];

    /// A prompt with `examples` (user, assistant) after the default preamble; `bos` starts it.
    pub fn new(bos: Option<String>, examples: Vec<(String, String)>) -> Self {
        FewShot { bos, preamble: PREAMBLE.to_owned(), examples }
    }

    /// The default examples: one short question over a context, one news summary.
    pub fn with_default_examples(bos: Option<String>) -> Self {
        let examples = [QA_EXAMPLE, SUMMARY_EXAMPLE].iter().map(|(u, a)| ((*u).to_owned(), (*a).to_owned())).collect();
        FewShot::new(bos, examples)
    }

    /// The prompt for a conversation: a system message replaces the preamble; the examples,
    /// then every turn, then `Assistant:` for the model to continue.
    pub fn render(&self, messages: &[ChatMessage]) -> String {
        let mut out = self.bos.clone().unwrap_or_default();
        let system: Vec<&str> =
            messages.iter().filter(|m| m.role == Role::System).map(|m| m.content.as_str()).collect();
        out.push_str(&if system.is_empty() { self.preamble.clone() } else { system.join("\n") });
        out.push_str("\n\n");
        for (user, assistant) in &self.examples {
            out.push_str(&format!("User: {user}\nAssistant: {assistant}\n\n"));
        }
        for m in messages {
            match m.role {
                Role::System => {}
                Role::User => out.push_str(&format!("User: {}\n", m.content)),
                Role::Assistant => out.push_str(&format!("Assistant: {}\n\n", m.content)),
            }
        }
        out.push_str("Assistant:");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_follows_the_examples_and_leaves_the_answer_open() {
        let p = FewShot::with_default_examples(Some("<bos>".into()));
        let text = p.render(&[ChatMessage::user("What is the capital of France?")]);
        assert!(text.starts_with("<bos>A conversation"));
        assert!(text.ends_with("\n\nUser: What is the capital of France?\nAssistant:"));
        assert_eq!(text.matches("User: ").count(), 3);
        // No example answer holds a stop string, or the model would learn to stop mid-answer.
        for (_, a) in &p.examples {
            assert!(FewShot::STOPS.iter().all(|s| !a.contains(s)));
        }
    }

    #[test]
    fn a_system_message_replaces_the_preamble() {
        let p = FewShot::new(None, Vec::new());
        let text = p.render(&[ChatMessage::system("Be terse."), ChatMessage::user("Hi")]);
        assert_eq!(text, "Be terse.\n\nUser: Hi\nAssistant:");
    }
}
