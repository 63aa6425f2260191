//! Summary statistics against numpy (fixtures/make_stats.py → fixtures/stats.json).
// Helpers outside #[test] functions may unwrap too: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::panic)]

use poq_profile::Summary;

#[derive(serde::Deserialize)]
struct Case {
    name: String,
    samples: Vec<f64>,
    mean: f64,
    std: f64,
    p50: f64,
    p95: f64,
    p99: f64,
    min: f64,
    max: f64,
}

#[test]
fn summary_matches_numpy() {
    let cases: Vec<Case> = serde_json::from_str(include_str!("fixtures/stats.json")).unwrap();
    assert_eq!(cases.len(), 4);
    for c in cases {
        let s = Summary::of(&c.name, &c.samples).unwrap();
        assert_eq!(s.n, c.samples.len());
        for (what, got, want) in [
            ("mean", s.mean, c.mean),
            ("std", s.std, c.std),
            ("p50", s.p50, c.p50),
            ("p95", s.p95, c.p95),
            ("p99", s.p99, c.p99),
            ("min", s.min, c.min),
            ("max", s.max, c.max),
        ] {
            assert!((got - want).abs() <= 1e-12 * want.abs().max(1.0), "{} {what}: {got} vs numpy {want}", c.name);
        }
    }
}

#[test]
fn hand_computed_percentiles() {
    // [35, 40, 45, 50, 55, 60]: h = 5·0.95 = 4.75 → 55 + 0.75·5.
    let s = Summary::of("x", &[60.0, 35.0, 50.0, 45.0, 40.0, 55.0]).unwrap();
    assert_eq!(s.p50, 47.5);
    assert_eq!(s.p95, 58.75);
    assert!((s.p99 - 59.75).abs() < 1e-12);
    assert!((s.std - 3.5f64.sqrt() * 5.0).abs() < 1e-12);
}
