//! The published chat templates of the paper's models (and SmolLM2's) render exactly the prompts
//! Python transformers renders (tests/fixtures/make_chat_templates.py), errors included.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use poq_core::{ChatMessage, Role};
use poq_infer::{ChatTemplate, Error};
use std::collections::BTreeMap;

#[test]
fn templates_match_transformers() {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/chat_templates.json");
    let models: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
    let mut checked = 0;
    for m in models.as_array().unwrap() {
        let name = m["name"].as_str().unwrap();
        let special: BTreeMap<String, String> = serde_json::from_value(m["special_tokens"].clone()).unwrap();
        let t = ChatTemplate::new(m["template"].as_str().unwrap(), special).unwrap();
        for case in m["cases"].as_array().unwrap() {
            let messages: Vec<ChatMessage> = serde_json::from_value(case["messages"].clone()).unwrap();
            let gen_prompt = case["add_generation_prompt"].as_bool().unwrap();
            let extra: BTreeMap<String, serde_json::Value> = serde_json::from_value(case["extra"].clone()).unwrap();
            let got = t.render_with(&messages, gen_prompt, &extra);
            match case.get("expected").and_then(|e| e.as_str()) {
                Some(want) => assert_eq!(got.unwrap(), want, "{name}: {messages:?}"),
                None => {
                    let want = case["error"].as_str().unwrap();
                    assert!(matches!(&got, Err(Error::Template(msg)) if msg.contains(want)), "{name}: {got:?}");
                }
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 6 * 8);
}

#[test]
fn llama32_without_date_uses_todays_date() {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/chat_templates.json");
    let models: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
    let m = models.as_array().unwrap().iter().find(|m| m["name"] == "Llama-3.2-3B-Instruct").unwrap();
    let t = ChatTemplate::new(m["template"].as_str().unwrap(), BTreeMap::new()).unwrap();
    let out = t.render(&[ChatMessage { role: Role::User, content: "hi".into() }], true).unwrap();
    let line = out.lines().find(|l| l.starts_with("Today Date: ")).unwrap();
    // strftime_now("%d %b %Y"): two digits, a month abbreviation, a four-digit year.
    let parts: Vec<&str> = line["Today Date: ".len()..].split(' ').collect();
    assert_eq!(parts.len(), 3, "{line}");
    assert!(parts[0].len() == 2 && parts[1].len() == 3 && parts[2].len() == 4, "{line}");
    assert_ne!(line, "Today Date: 26 Jul 2024");
}
