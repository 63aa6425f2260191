//! Loading and validation: every bad field is named.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

use poq_sim::{Scenario, paper};

fn err_toml(text: &str) -> String {
    Scenario::from_toml(text).unwrap_err().to_string()
}

const GOOD: &str = r#"
name = "tiny"
k = 2
rounds = 100
seed = 7
consensus = { rule = "median" }
reward = { rule = "linear", alpha = 1.0, beta = 0.25 }

[[inference]]
name = "a"
quality = { model = "normal", mean = 6.0, sd = 1.0 }
cost = 100.0

[[inference]]
name = "b"
quality = { model = "beta", mean = 3.0, concentration = 5.0 }
cost = 300.0
adversary = { attack = "misreport", factor = 0.5 }

[[evaluators]]
name = "x"
scoring = { model = "correlated", correlation = 0.6, scale = 2.0 }
cost = 10.0

[[evaluators]]
name = "y"
scoring = { model = "noisy", sd = 1.0 }
cost = 20.0
stake = 2.0
adversary = { attack = "boost", amount = 2.0, targets = ["b"], probability = 0.5 }
"#;

#[test]
fn toml_and_json_load_and_round_trip() {
    let sc = Scenario::from_toml(GOOD).unwrap();
    assert_eq!((sc.k, sc.rounds, sc.inference.len(), sc.evaluators[1].stake), (2, 100, 2, 2.0));
    let json = serde_json::to_string(&sc).unwrap();
    assert_eq!(Scenario::from_json(&json).unwrap(), sc);
    let p = paper();
    let text = toml::to_string(&p).unwrap();
    assert_eq!(Scenario::from_toml(&text).unwrap(), p);
    poq_sim::simulate(&sc).unwrap();
}

#[test]
fn bad_fields_are_named() {
    let cases: [(&str, &str, &str); 9] = [
        ("k = 2", "k = 3", "`k`"),
        ("cost = 100.0", "cost = nan", "inference[0].cost"),
        ("cost = 300.0", "cost = -3.0", "inference[1].cost"),
        ("probability = 0.5", "probability = 1.5", "evaluators[1].adversary.probability"),
        ("correlation = 0.6", "correlation = -2.0", "evaluators[0].scoring.correlation"),
        ("targets = [\"b\"]", "targets = [\"zz\"]", "evaluators[1].adversary.targets[0]"),
        ("beta = 0.25", "beta = -1.0", "reward"),
        ("name = \"y\"", "name = \"x\"", "evaluators[1].name"),
        ("stake = 2.0", "stake = -1.0", "evaluators[1].stake"),
    ];
    for (from, to, field) in cases {
        let e = err_toml(&GOOD.replacen(from, to, 1));
        assert!(e.contains(field), "{to}: {e}");
    }
    let e = err_toml(&GOOD.replace("factor = 0.5", "factor = 0.0"));
    assert!(e.contains("inference[1].adversary.factor"), "{e}");
}

#[test]
fn a_wrong_cost_names_the_accepted_forms() {
    let e = err_toml(&GOOD.replace("cost = 300.0", "cost = \"fast\""));
    assert!(e.contains("cost = \"fast\"") && e.contains("line 17"), "{e}");
    assert!(e.contains("mean latency in milliseconds") && e.contains("latency_mean_ms"), "{e}");
    assert!(!e.contains("untagged"), "{e}");
    // JSON says the same, with line and column.
    let json =
        serde_json::to_string(&Scenario::from_toml(GOOD).unwrap()).unwrap().replace("\"cost\":100.0", "\"cost\":[1]");
    let e = Scenario::from_json(&json).unwrap_err().to_string();
    assert!(e.contains("mean latency in milliseconds") && e.contains("column"), "{e}");
}

#[test]
fn defaults_are_the_documented_constants_and_audits_are_off() {
    let sc = Scenario::from_toml(&GOOD.replace("rounds = 100\nseed = 7\n", "")).unwrap();
    assert_eq!((sc.rounds, sc.seed), (Scenario::DEFAULT_ROUNDS, Scenario::DEFAULT_SEED));
    assert_eq!(sc.prompts, Scenario::DEFAULT_PROMPTS);
    assert_eq!(sc.audit, poq_sim::Audit::OFF);
    let built = Scenario::new(sc.inference.clone(), sc.evaluators.clone());
    assert_eq!((built.k, built.audit, built.name.as_str()), (Scenario::DEFAULT_K, poq_sim::Audit::OFF, "custom"));
    // A file that turns audits on with only a rate gets the recommended tolerance and penalty.
    let on = Scenario::from_toml(&format!("audit = {{ rate = 0.05 }}\n{GOOD}")).unwrap();
    assert_eq!(on.audit, poq_sim::Audit::RECOMMENDED);
}

#[test]
fn structural_errors() {
    let mut sc = paper();
    sc.inference.clear();
    assert!(sc.validate().unwrap_err().to_string().contains("inference"));
    let mut sc = paper();
    sc.evaluators.clear();
    assert!(sc.validate().unwrap_err().to_string().contains("evaluators"));
    let mut sc = paper();
    sc.rounds = 0;
    assert!(sc.validate().unwrap_err().to_string().contains("rounds"));
    // A typo is a parse error that names the field and the line.
    let e = err_toml(&GOOD.replace("seed = 7", "sede = 7"));
    assert!(e.contains("sede") && e.contains("line"), "{e}");
    let e = Scenario::from_json("{\"inference\": [], \"evaluators\": [}").unwrap_err().to_string();
    assert!(e.contains("line"), "{e}");
    let e = Scenario::from_path("/nonexistent/s.toml").unwrap_err().to_string();
    assert!(e.contains("/nonexistent/s.toml"), "{e}");
}

#[test]
fn shipped_scenario_files_load_and_run() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let mut sc = Scenario::from_path(&path).unwrap();
        sc.rounds = 500;
        let r = poq_sim::simulate(&sc).unwrap();
        assert!(r.nodes.iter().all(|n| n.answers > 0), "{}", path.display());
        n += 1;
    }
    assert!(n >= 1);
}
