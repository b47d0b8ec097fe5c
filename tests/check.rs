//! The `check` report through the same update loop as the TUI, on the simulator's scenarios:
//! verdicts, exit codes, the budget policy and its override, and the JSON contract's keys.

mod common;

use common::Harness;
use rollout_console::app::check::{Overall, render_human, report, rollback_advised};
use rollout_console::sim::Scenario;

#[test]
fn healthy_passes_and_is_ready_once_the_hold_is_over() {
    let mut h = Harness::new(Scenario::Healthy, true);
    h.advance(10);
    let r = report(&h.model, None);
    assert_eq!(
        (r.verdict, r.exit_code),
        (Overall::Pass, 0),
        "{:?}",
        r.summary
    );
    assert!(!r.ready_to_promote);
    assert!(r.readiness[0].starts_with("hold: "), "{:?}", r.readiness);
    let text = render_human(&r);
    assert!(text.contains("P95_LATENCY:   PASS (canary "), "{text}");
    assert!(text.contains("READY_TO_PROMOTE: NO (hold: "), "{text}");
    assert!(text.contains("VERDICT: PASS (exit 0)"), "{text}");
    // As if the step had begun 40s earlier: its 30s hold is over and every point passed.
    if let Some(r) = h.model.rollout.as_mut() {
        r.step_started_at -= chrono::Duration::seconds(40);
    }
    let r = report(&h.model, None);
    assert!(r.ready_to_promote, "{:?}", r.readiness);
    assert!(render_human(&r).contains("READY_TO_PROMOTE: YES"));
}

#[test]
fn latency_regression_fails_naming_the_metric() {
    let mut h = Harness::new(Scenario::LatencyRegression, true);
    h.advance(130);
    let r = report(&h.model, None);
    assert_eq!((r.verdict, r.exit_code), (Overall::Fail, 1));
    assert!(
        r.summary.iter().any(|s| s.starts_with("p95 latency: FAIL")),
        "{:?}",
        r.summary
    );
    // p99's gate (1.5× baseline) lets +40% through, but its statistical judge does not, and p99
    // has rollback severity in the demo.
    let p99 = r
        .metrics
        .iter()
        .find(|m| m.name == "p99 latency")
        .expect("p99");
    assert_eq!(
        p99.verdict,
        rollout_console::domain::Verdict::Fail,
        "{:?}",
        p99.reasons
    );
    assert!(
        p99.reasons[0].starts_with("judge: canary is higher"),
        "{:?}",
        p99.reasons
    );
    assert!(rollback_advised(&r));
    let score = r.score.as_ref().expect("a judge score");
    assert_eq!(
        score.overall,
        rollout_console::domain::judge::Overall::Fail,
        "{score:?}"
    );
    let text = render_human(&r);
    assert!(text.contains("P95_LATENCY:   FAIL (canary "), "{text}");
}

#[test]
fn error_spike_is_a_rollback_advice_then_no_data_after_the_rollback() {
    let mut h = Harness::new(Scenario::ErrorSpike, true);
    // Half-way between the spike and the controller's rollback.
    h.advance(50);
    let r = report(&h.model, None);
    if r.verdict == Overall::Fail {
        assert!(rollback_advised(&r), "{:?}", r.summary);
    }
    h.advance(70);
    let r = report(&h.model, None);
    assert_eq!(
        (r.verdict, r.exit_code),
        (Overall::Inconclusive, 3),
        "no canary traffic is no data: {:?}",
        r.summary
    );
    assert!(
        r.summary.iter().any(|s| s.contains("NO DATA")),
        "{:?}",
        r.summary
    );
    assert!(!r.ready_to_promote);
}

#[test]
fn low_budget_blocks_unless_overridden() {
    let mut h = Harness::new(Scenario::SlowBurn, true);
    h.model.settings.min_budget_to_promote_pct = 20.0; // the slow burn has ~12% left
    h.advance(10);
    let r = report(&h.model, None);
    assert_eq!(r.verdict, Overall::Fail, "{:?}", r.summary);
    assert!(
        r.policy[0].contains("under the 20% needed to promote"),
        "{:?}",
        r.policy
    );
    assert!(
        r.summary.iter().any(|s| s.contains("--override-reason")),
        "{:?}",
        r.summary
    );
    let r = report(&h.model, Some("INC-42: fix is this canary"));
    assert_eq!(r.verdict, Overall::Pass, "{:?}", r.summary);
    assert!(
        r.summary
            .iter()
            .any(|s| s == "policy overridden: INC-42: fix is this canary")
    );
}

#[test]
fn json_keeps_the_contract_keys() {
    let mut h = Harness::new(Scenario::Healthy, true);
    h.advance(10);
    let v = serde_json::to_value(report(&h.model, None)).expect("json");
    for key in [
        "rollout",
        "evaluated_at",
        "verdict",
        "metrics",
        "slos",
        "ready_to_promote",
    ] {
        assert!(v.get(key).is_some(), "missing {key}: {v}");
    }
    assert_eq!(v["verdict"], "pass");
    assert!(
        v["evaluated_at"]
            .as_str()
            .is_some_and(|t| t.ends_with(":00Z") || t.len() == 20),
        "{}",
        v["evaluated_at"]
    );
    let m = &v["metrics"][0];
    for key in [
        "name", "unit", "baseline", "canary", "verdict", "severity", "reasons",
    ] {
        assert!(m.get(key).is_some(), "missing metrics[].{key}: {m}");
    }
    assert_eq!(
        (m["unit"].as_str(), m["severity"].as_str()),
        (Some("seconds"), Some("hold"))
    );
    let s = &v["slos"][0];
    for key in [
        "name",
        "objective",
        "error_ratio",
        "budget_remaining_pct",
        "burn_rates",
        "alert",
    ] {
        assert!(s.get(key).is_some(), "missing slos[].{key}: {s}");
    }
    assert!(
        s["burn_rates"]["5m"].as_f64().is_some() && s["burn_rates"]["1h"].as_f64().is_some(),
        "{s}"
    );
    assert!(s["alert"].is_null());
}

#[test]
fn a_dead_backend_is_inconclusive_never_pass() {
    let mut h = Harness::new(Scenario::Healthy, true);
    h.model.rollout = None;
    h.model.rollout_error = Some("cannot connect to http://127.0.0.1:1/".into());
    let r = report(&h.model, None);
    assert_eq!(r.verdict, Overall::Inconclusive);
    assert!(r.summary[0].contains("cannot read the rollout"));
}
