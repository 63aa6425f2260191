//! Hostile numbers and scenarios: NaN, negative and infinite costs, K larger than the evaluator
//! pool, scenarios without nodes. Each is a typed error whose message names the bad field.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg(feature = "sim")]

use poq::core::{CostProfile, Error, Normalization, normalize_costs};
use poq::sim::{Cost, Scenario, SimError, evaluator_node, inference_node, paper};

/// Sets one field of a profile to a value.
type Setter = Box<dyn Fn(&mut CostProfile)>;

const BAD: [f64; 4] = [f64::NAN, -1.0, f64::INFINITY, f64::NEG_INFINITY];

#[test]
fn normalize_costs_rejects_bad_values_by_index() {
    for how in [Normalization::MinMax, Normalization::DivideByMax, Normalization::LogMinMax] {
        for bad in BAD {
            let err = normalize_costs(&[10.0, 20.0, bad], how).unwrap_err();
            match &err {
                Error::InvalidCost { field, value } => {
                    assert_eq!(field, "cost[2]");
                    assert!(value.is_nan() == bad.is_nan() && (bad.is_nan() || *value == bad));
                }
                other => panic!("{how:?} {bad}: {other:?}"),
            }
            assert!(err.to_string().contains("cost[2]"), "{err}");
        }
        // Extreme but valid pools stay in [0, 1] and never produce NaN.
        for pool in [vec![0.0, f64::MAX], vec![f64::MIN_POSITIVE, f64::MAX, 1.0], vec![0.0], vec![]] {
            let out = normalize_costs(&pool, how).unwrap();
            assert!(out.iter().all(|c| (0.0..=1.0).contains(c)), "{how:?} {pool:?} -> {out:?}");
        }
    }
}

#[test]
fn cost_profile_validate_names_the_field() {
    let good = CostProfile::from_latency_ms(12.0).unwrap();
    good.validate().unwrap();
    for bad in BAD {
        assert!(
            matches!(CostProfile::from_latency_ms(bad), Err(Error::InvalidCost { ref field, .. }) if field == "latency_mean_ms")
        );
        let cases: Vec<(&str, Setter)> = vec![
            ("latency_p95_ms", Box::new(move |p| p.latency_p95_ms = bad)),
            ("throughput_items_per_s", Box::new(move |p| p.throughput_items_per_s = bad)),
            ("peak_memory_mb", Box::new(move |p| p.peak_memory_mb = bad)),
            ("decode_tokens_per_s", Box::new(move |p| p.decode_tokens_per_s = Some(bad))),
            ("energy_j", Box::new(move |p| p.energy_j = Some(bad))),
        ];
        for (field, set) in cases {
            let mut p = good.clone();
            set(&mut p);
            let err = p.validate().unwrap_err();
            assert!(matches!(&err, Error::InvalidCost { field: f, .. } if f == field), "{field}: {err:?}");
            assert!(err.to_string().contains(field), "{err}");
        }
    }
    let mut p = good;
    p.batch_size = 0;
    assert!(p.validate().unwrap_err().to_string().contains("batch_size"));
}

fn invalid_field(err: &SimError) -> &str {
    match err {
        SimError::Invalid { field, .. } | SimError::Core { field, .. } => field,
        other => panic!("expected a field error, got {other:?}"),
    }
}

#[test]
fn scenario_costs_nan_negative_infinite() {
    for bad in BAD {
        let mut sc = paper();
        sc.evaluators[1].cost = Cost::Latency(bad);
        let err = sc.validate().unwrap_err();
        assert!(invalid_field(&err).starts_with("evaluators[1].cost"), "{err}");

        let mut sc = paper();
        sc.inference[0].reported_cost = Some(Cost::Latency(bad));
        let err = sc.validate().unwrap_err();
        assert!(invalid_field(&err).contains("inference"), "{err}");

        let mut sc = paper();
        let mut profile = CostProfile::from_latency_ms(5.0).unwrap();
        profile.peak_memory_mb = bad;
        sc.inference[2].cost = Cost::Profile(profile);
        let err = sc.validate().unwrap_err();
        assert!(invalid_field(&err).starts_with("inference[2].cost"), "{err}");
        assert!(err.to_string().contains("peak_memory_mb"), "{err}");
    }
}

#[test]
fn scenario_text_with_nan_and_inf_costs() {
    // TOML can spell nan and inf; JSON cannot, so it is a parse error that names line and column.
    let base = r#"
        k = 1
        [[inference]]
        name = "a"
        quality = { model = "normal", mean = 5.0, sd = 1.0 }
        cost = COST
        [[evaluators]]
        name = "e"
        scoring = { model = "noisy", sd = 1.0 }
        cost = 10.0
    "#;
    for cost in ["nan", "inf", "-inf", "-5.0"] {
        let err = Scenario::from_toml(&base.replace("COST", cost)).unwrap_err();
        assert!(invalid_field(&err).starts_with("inference[0].cost"), "{cost}: {err}");
    }
    Scenario::from_toml(&base.replace("COST", "100.0")).unwrap();
    let err = Scenario::from_json(r#"{"inference": [{"name": "a", "quality": {"model": "normal", "mean": 5, "sd": 1}, "cost": NaN}], "evaluators": []}"#)
        .unwrap_err();
    assert!(matches!(&err, SimError::Parse { message, .. } if message.contains("line 1")), "{err}");
}

#[test]
fn k_larger_than_the_pool_and_zero_nodes() {
    let mut sc = paper();
    sc.k = sc.evaluators.len() + 1;
    let err = sc.validate().unwrap_err();
    assert_eq!(invalid_field(&err), "k", "{err}");
    assert!(err.to_string().contains(&sc.k.to_string()), "{err}");

    let mut sc = paper();
    sc.k = 0;
    assert_eq!(invalid_field(&sc.validate().unwrap_err()), "k");

    let mut sc = paper();
    sc.k = usize::MAX;
    assert_eq!(invalid_field(&sc.validate().unwrap_err()), "k");

    let sc = Scenario::new(vec![], vec![evaluator_node("e", 0.5, 0.0, 1.0, 10.0)]);
    assert_eq!(invalid_field(&sc.validate().unwrap_err()), "inference");
    let sc = Scenario::new(vec![inference_node("a", 5.0, 1.0, 100.0)], vec![]);
    assert_eq!(invalid_field(&sc.validate().unwrap_err()), "evaluators");
    let err = Scenario::from_toml("inference = []\nevaluators = []\n").unwrap_err();
    assert_eq!(invalid_field(&err), "inference", "{err}");
    let err = Scenario::from_json(r#"{"inference": [], "evaluators": []}"#).unwrap_err();
    assert!(err.to_string().contains("inference"), "{err}");
}
