//! Correlations, p-values and calibration fits agree with scipy and sklearn
//! (fixtures from scripts/gen_stats_fixture.py); bootstrap intervals are seeded and sane.

// Test helpers outside #[test] fns may unwrap: a failure there is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use poq_core::Task;
use poq_eval::stats::{
    BootstrapConfig, Calibration, IsotonicFit, LinearFit, Method, correlate, correlate_by_task, kendall_tau_b, pearson,
    spearman,
};
use serde_json::Value;

fn cases() -> Vec<Value> {
    let v: Value = serde_json::from_str(include_str!("fixtures/stats/stats_parity.json")).unwrap();
    v["cases"].as_array().unwrap().clone()
}

fn vec(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

fn close(got: f64, want: f64, tol: f64, what: &str) {
    assert!((got - want).abs() <= tol * want.abs().max(1.0), "{what}: got {got}, want {want}");
}

#[test]
fn coefficients_and_p_values_match_scipy() {
    for c in cases() {
        let name = c["name"].as_str().unwrap();
        let (x, y) = (vec(&c["x"]), vec(&c["y"]));
        for (key, t) in [
            ("pearson", pearson(&x, &y).unwrap()),
            ("spearman", spearman(&x, &y).unwrap()),
            ("kendall", kendall_tau_b(&x, &y).unwrap()),
        ] {
            let est = if key == "kendall" { "kendall_b" } else { key };
            close(t.estimate, c[est].as_f64().unwrap(), 1e-12, &format!("{name} {key}"));
            let want_p = c[format!("{key}_p")].as_f64().unwrap();
            // Absolute for tiny p-values, relative otherwise.
            let p = t.p_value.unwrap();
            assert!((p - want_p).abs() <= 1e-10 + 1e-7 * want_p, "{name} {key} p: got {p}, want {want_p}");
        }
    }
}

#[test]
fn calibration_matches_linregress_and_sklearn_isotonic() {
    for c in cases() {
        let name = c["name"].as_str().unwrap();
        let (x, y) = (vec(&c["x"]), vec(&c["y"]));
        let lin = LinearFit::fit(&x, &y).unwrap();
        close(lin.slope, c["slope"].as_f64().unwrap(), 1e-10, &format!("{name} slope"));
        close(lin.intercept, c["intercept"].as_f64().unwrap(), 1e-10, &format!("{name} intercept"));
        let iso = IsotonicFit::fit(&x, &y).unwrap();
        for (xi, want) in x.iter().zip(vec(&c["iso_fit"])) {
            close(iso.predict(*xi), want, 1e-10, &format!("{name} iso fit at {xi}"));
        }
        for (g, want) in vec(&c["iso_grid"]).iter().zip(vec(&c["iso_pred"])) {
            close(iso.predict(*g), want, 1e-10, &format!("{name} iso predict at {g}"));
        }
        assert!(iso.y.windows(2).all(|w| w[0] <= w[1]));
    }
}

#[test]
fn bootstrap_is_seeded_and_brackets_the_estimate() {
    let c = &cases()[5]; // normal_n100
    let (x, y) = (vec(&c["x"]), vec(&c["y"]));
    let cfg = BootstrapConfig { resamples: 500, level: 0.95, seed: 7 };
    for m in Method::ALL {
        let a = correlate(m, &x, &y, &cfg).unwrap();
        assert_eq!(a, correlate(m, &x, &y, &cfg).unwrap(), "{m:?} not deterministic");
        assert!(a.ci_low < a.estimate && a.estimate < a.ci_high, "{m:?}: {a:?}");
        assert!(a.ci_high - a.ci_low < 0.6 && a.resamples_used == 500, "{m:?}: {a:?}");
        let b = correlate(m, &x, &y, &BootstrapConfig { seed: 8, ..cfg }).unwrap();
        assert_ne!((a.ci_low, a.ci_high), (b.ci_low, b.ci_high));
        // A wider level gives a wider interval.
        let w = correlate(m, &x, &y, &BootstrapConfig { level: 0.99, ..cfg }).unwrap();
        assert!(w.ci_low <= a.ci_low && w.ci_high >= a.ci_high);
    }
    // The same seed gives the same answer whatever the number of threads.
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let serial = one.install(|| correlate(Method::KendallTauB, &x, &y, &cfg).unwrap());
    assert_eq!(serial, correlate(Method::KendallTauB, &x, &y, &cfg).unwrap());
}

#[test]
fn per_task_rows_and_errors() {
    let c = &cases()[6]; // normal_n400
    let (x, y) = (vec(&c["x"]), vec(&c["y"]));
    let tasks: Vec<Task> =
        (0..x.len()).map(|i| if i % 2 == 0 { Task::Summarization } else { Task::QuestionAnswering }).collect();
    let cfg = BootstrapConfig { resamples: 200, ..Default::default() };
    let rows = correlate_by_task(&tasks, Method::Spearman, &x, &y, &cfg).unwrap();
    assert_eq!(
        rows.iter().map(|r| r.task).collect::<Vec<_>>(),
        [Some(Task::QuestionAnswering), Some(Task::Summarization), None]
    );
    assert_eq!(rows[0].correlation.n, 200);
    assert_eq!(rows[2].correlation.estimate, spearman(&x, &y).unwrap().estimate);
    // A task whose scores are constant is reported by name.
    let mut flat = x.clone();
    for (v, t) in flat.iter_mut().zip(&tasks) {
        if *t == Task::QuestionAnswering {
            *v = 5.0;
        }
    }
    let e = correlate_by_task(&tasks, Method::Pearson, &flat, &y, &cfg).unwrap_err().to_string();
    assert!(e.contains("qa") && e.contains("equal"), "{e}");
    assert!(correlate_by_task(&tasks[1..], Method::Pearson, &x, &y, &cfg).is_err());
    assert!(correlate(Method::Pearson, &x, &y, &BootstrapConfig { level: 1.0, ..cfg }).is_err());
}

#[test]
fn calibration_errors_and_shapes() {
    assert!(LinearFit::fit(&[2.0, 2.0, 2.0], &[0.1, 0.5, 0.9]).unwrap_err().to_string().contains("equal"));
    assert!(Calibration::fit(&[1.0, f64::INFINITY], &[0.0, 1.0]).is_err());
    let iso = IsotonicFit::fit(&[1.0, 2.0, 3.0, 4.0], &[0.0, 0.6, 0.2, 1.0]).unwrap();
    assert_eq!(iso.y, [0.0, 0.4, 0.4, 1.0]);
    assert_eq!(iso.predict(-5.0), 0.0);
    assert_eq!(iso.predict(9.0), 1.0);
    assert_eq!(iso.predict(1.5), 0.2);
}
