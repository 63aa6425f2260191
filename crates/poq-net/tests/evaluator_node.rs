//! The evaluator node over HTTP: scores, commit–reveal, typed errors, and its queue bound under
//! many clients.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test
#![cfg(feature = "network")]

mod common;

use common::Overlap;
use poq_core::Evaluator;
use poq_net::wire::{CommitResponse, RevealResponse, ScoreResponse};
use poq_net::{EvaluatorNodeConfig, NodeLimits, serve_evaluator};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

fn post(url: &str, body: &str) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut resp = agent.post(url).header("content-type", "application/json").send(body).unwrap();
    let status = resp.status().as_u16();
    (status, resp.body_mut().read_json().unwrap_or(Value::Null))
}

#[test]
fn scores_and_commits_then_reveals_what_it_committed() {
    let node = common::evaluator_node(0);
    let base = node.url();
    let (status, v) = post(
        &format!("{base}/v1/score"),
        r#"{"items":[{"candidate":"alpha beta","references":["alpha beta gamma delta"]},{"candidate":"x","references":["x"],"input":"q"}]}"#,
    );
    assert_eq!(status, 200, "{v}");
    let r: ScoreResponse = serde_json::from_value(v).unwrap();
    assert_eq!((r.scores, r.model.as_str()), (vec![5.0, 10.0], "overlap"));
    assert!(r.timings.score_ms >= 0.0);

    let commit = json!({"round": 7, "evaluator": 3, "answers": [
        {"node": 0, "candidate": "alpha", "references": ["alpha beta"]},
        {"node": 2, "candidate": "beta alpha", "references": ["alpha beta"]}]});
    let (status, v) = post(&format!("{base}/v1/commit"), &commit.to_string());
    assert_eq!(status, 200, "{v}");
    let c: CommitResponse = serde_json::from_value(v).unwrap();
    // The same round again is refused: a commitment cannot be changed after the fact.
    assert_eq!(post(&format!("{base}/v1/commit"), &commit.to_string()).0, 409);
    let (status, v) = post(&format!("{base}/v1/reveal"), r#"{"round": 7, "evaluator": 3}"#);
    assert_eq!(status, 200, "{v}");
    let r: RevealResponse = serde_json::from_value(v).unwrap();
    assert_eq!(r.reveals.iter().map(|x| (x.node, x.score)).collect::<Vec<_>>(), vec![(0, 5.0), (2, 10.0)]);
    for (x, h) in r.reveals.iter().zip(&c.commitments) {
        assert_eq!(poq_sim::commitment(7, x.node, 3, x.score, x.salt), *h);
    }
    assert_ne!(r.reveals[0].salt, r.reveals[1].salt, "salts are fresh per answer");
    // Revealed once: a second reveal finds nothing.
    let (status, v) = post(&format!("{base}/v1/reveal"), r#"{"round": 7, "evaluator": 3}"#);
    assert_eq!((status, v["error"]["code"].as_str()), (404, Some("no_commitment")));
}

#[test]
fn bad_requests_get_typed_errors_naming_the_field() {
    let node = common::evaluator_node(0);
    let base = node.url();
    let cases = [
        ("/v1/score", r#"{"items":[]}"#, 400, "items"),
        ("/v1/score", r#"{"items":[{"candidate":"a","references":[]}]}"#, 400, "items[0].references"),
        ("/v1/score", r#"{"items":[{"candidate":"a","references":["b"],"extra":1}]}"#, 400, "items[0]"),
        ("/v1/score", r#"{"items":[{"candidate":5,"references":["b"]}]}"#, 400, "items[0].candidate"),
        ("/v1/commit", r#"{"round":-1,"evaluator":0,"answers":[]}"#, 400, "round"),
        ("/v1/reveal", r#"{"round":1}"#, 400, ""),
    ];
    for (route, body, status, param) in cases {
        let (s, v) = post(&format!("{base}{route}"), body);
        assert_eq!(s, status, "{route} {body}: {v}");
        let got = v["error"]["param"].as_str().unwrap_or("");
        assert!(got.starts_with(param), "{body}: param {got:?}, message {}", v["error"]["message"]);
    }
    // Refused from its declared length: the server may answer 413 and close the connection before
    // the client has sent the body, which the client then sees as a broken pipe. Either way the
    // body is not read and the server keeps serving.
    let huge = format!(r#"{{"items":[{{"candidate":"{}","references":["a"]}}]}}"#, "é".repeat(600_000));
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    match agent.post(&format!("{base}/v1/score")).header("content-type", "application/json").send(&huge) {
        Ok(resp) => assert_eq!(resp.status().as_u16(), 413),
        Err(ureq::Error::Io(e)) => {
            assert!(matches!(e.kind(), std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset), "{e}")
        }
        Err(e) => panic!("{e}"),
    }
    assert_eq!(post(&format!("{base}/v1/score"), r#"{"items":[{"candidate":"a","references":["a"]}]}"#).0, 200);
    assert_eq!(post(&format!("{base}/v1/nothing"), "{}").0, 404);
}

#[test]
fn a_slow_evaluator_times_out_with_504() {
    let e: Arc<dyn Evaluator> = Arc::new(Overlap { delay: Duration::from_millis(400) });
    let mut config = EvaluatorNodeConfig::default();
    config.limits.request_timeout = Duration::from_millis(100);
    let node = serve_evaluator("127.0.0.1:0".parse().unwrap(), e, config).unwrap();
    let (s, v) = post(&format!("{}/v1/score", node.url()), r#"{"items":[{"candidate":"a","references":["a"]}]}"#);
    assert_eq!((s, v["error"]["code"].as_str()), (504, Some("timeout")));
}

#[test]
fn sixty_four_clients_get_only_200_or_503_and_none_is_lost() {
    let e: Arc<dyn Evaluator> = Arc::new(Overlap { delay: Duration::from_millis(30) });
    let config =
        EvaluatorNodeConfig { limits: NodeLimits { max_queue: 8, ..NodeLimits::default() }, ..Default::default() };
    let node = serve_evaluator("127.0.0.1:0".parse().unwrap(), e, config).unwrap();
    let url = format!("{}/v1/score", node.url());
    let barrier = std::sync::Barrier::new(64);
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let calls: Vec<_> = (0..64)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    post(&url, r#"{"items":[{"candidate":"a b","references":["a b"]}]}"#)
                })
            })
            .collect();
        calls
            .into_iter()
            .map(|c| {
                let (status, v) = c.join().unwrap();
                if status == 200 {
                    assert_eq!(v["scores"], json!([10.0]));
                }
                status
            })
            .collect()
    });
    assert_eq!(statuses.len(), 64, "every client got an answer");
    assert!(statuses.iter().all(|&s| s == 200 || s == 503), "{statuses:?}");
    let ok = statuses.iter().filter(|&&s| s == 200).count();
    // At most 8 admitted at once and 30 ms each, one at a time: most of a burst of 64 is turned away,
    // yet the queue serves at least its own length.
    assert!((8..64).contains(&ok), "{ok} answered 200");
    let health: Value = ureq::get(&format!("{}/health", node.url())).call().unwrap().body_mut().read_json().unwrap();
    assert_eq!(health["admitted"], 0, "every admission slot is released");
}
