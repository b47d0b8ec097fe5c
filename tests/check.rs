//! The `check` report through the same update loop as the TUI, on the simulator's scenarios:
//! verdicts, exit codes, the budget policy and its override, and the JSON contract's keys.

mod common;

use common::Harness;
use rollout_console::app::check::{Overall, render_human, report, rollback_advised};
use rollout_console::sim::Scenario;

#[test]
fn healthy_is_collecting_then_passes_and_is_ready_when_the_hold_ends() {
    let mut h = Harness::new(Scenario::Healthy, true);
    h.advance(10);
    let r = report(&h.model, None);
    // The sequential judge is still counting: not a PASS yet, and not a FAIL.
    assert_eq!(
        (r.verdict, r.exit_code),
        (Overall::Inconclusive, 3),
        "{:?}",
        r.summary
    );
    assert!(
        r.summary
            .iter()
            .any(|s| s.starts_with("p95 latency: COLLECTING (sequential: collecting: latency ×")),
        "{:?}",
        r.summary
    );
    assert!(!r.ready_to_promote);
    let text = render_human(&r);
    assert!(
        text.contains("P95_LATENCY:   COLLECTING (canary "),
        "{text}"
    );
    assert!(
        text.contains("sequential COLLECTING: evidence "),
        "the judge's figures are in the table: {text}"
    );
    assert!(text.contains("VERDICT: INCONCLUSIVE (exit 3)"), "{text}");
    // The first hold (30s) ends 22s after the console opened; the controller promotes at its
    // next check. In between, the judge passes the step and it is ready to promote.
    let mut passed = None;
    for _ in 0..15 {
        h.advance(2);
        let r = report(&h.model, None);
        if r.verdict == Overall::Pass {
            passed = Some(r);
            break;
        }
    }
    let r = passed.expect("the hold's end passes a healthy canary");
    assert!(r.ready_to_promote, "{:?}", r.readiness);
    let p95 = &r.metrics[0];
    let figures = p95.sequential.as_ref().expect("sequential figures");
    assert_eq!(
        figures.decision,
        rollout_console::domain::sequential::Decision::Pass
    );
    assert!(figures.requests.canary >= 100.0, "{figures:?}");
    assert!(render_human(&r).contains("READY_TO_PROMOTE: YES"));
}

#[test]
fn latency_regression_fails_naming_the_metric() {
    let mut h = Harness::new(Scenario::LatencyRegression, true);
    h.advance(130);
    let r = report(&h.model, None);
    assert_eq!((r.verdict, r.exit_code), (Overall::Fail, 1));
    assert!(
        r.summary
            .iter()
            .any(|s| s.starts_with("p95 latency: FAIL (sequential: canary is slower: latency ×1.")),
        "{:?}",
        r.summary
    );
    // p95 is critical in the demo: its judge's FAIL advises a rollback.
    assert!(rollback_advised(&r));
    let p95 = &r.metrics[0];
    let figures = p95.sequential.as_ref().expect("figures");
    assert!(figures.evidence >= figures.threshold, "{figures:?}");
    let [lo, hi] = figures.range.expect("a range");
    assert!(lo > 1.2 && hi < 1.7, "the +40% canary's range: {lo}..{hi}");
    let text = render_human(&r);
    assert!(text.contains("P95_LATENCY:   FAIL (canary "), "{text}");
    assert!(text.contains("sequential FAIL: evidence "), "{text}");
}

#[test]
fn the_mann_whitney_judge_collects_before_it_scores() {
    // Mann–Whitney stays an option: on p99, with 10 points per track needed.
    let mut h = Harness::new(Scenario::LatencyRegression, true);
    h.model.current_mut().panels[1].judge = Some(rollout_console::domain::judge::JudgeSettings {
        allowed_increase: 1.1,
        min_samples: 6,
        ..Default::default()
    });
    // It judges one point per query window (10s here): points over overlapping windows are
    // not independent.
    h.model.current_mut().panels[1].window = Some(std::time::Duration::from_secs(10));
    h.advance(2);
    assert!(h.model.judge_collecting(), "too few points: collecting");
    let screen = h.render(160, 48);
    assert!(screen.contains("judge collecting"), "{screen}");
    assert!(
        !screen.contains("/100"),
        "no score while collecting: {screen}"
    );
    h.advance(128);
    assert!(!h.model.judge_collecting());
    let r = report(&h.model, None);
    let score = r.score.as_ref().expect("a judge score");
    assert_eq!(
        score.overall,
        rollout_console::domain::judge::Overall::Fail,
        "{score:?}"
    );
    let p99 = r
        .metrics
        .iter()
        .find(|m| m.name == "p99 latency")
        .expect("p99");
    assert!(
        p99.reasons[0].starts_with("judge: canary is higher"),
        "{:?}",
        p99.reasons
    );
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
    // Rolled back, the canary serves nothing: its gates have no data, but the judge's FAIL on
    // the error ratio stays for this canary version.
    assert_eq!(
        (r.verdict, r.exit_code),
        (Overall::Fail, 1),
        "{:?}",
        r.summary
    );
    assert!(
        r.summary
            .iter()
            .any(|s| s.starts_with("p95 latency: NO DATA")),
        "{:?}",
        r.summary
    );
    assert!(
        r.summary
            .iter()
            .any(|s| s.starts_with("error rate: FAIL (sequential: canary is failing more")),
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
    // Overridden, the budget no longer fails it; the judge is still counting.
    assert_eq!(r.verdict, Overall::Inconclusive, "{:?}", r.summary);
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
    assert_eq!(
        v["verdict"], "inconclusive",
        "the judge is still collecting"
    );
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
    // The sequential judge's figures, nested so the gate's `threshold` keeps its meaning.
    let f = &m["sequential"];
    for key in [
        "decision",
        "effect",
        "evidence",
        "threshold",
        "estimate",
        "range",
        "confidence",
        "requests",
    ] {
        assert!(
            f.get(key).is_some(),
            "missing metrics[].sequential.{key}: {f}"
        );
    }
    assert_eq!(
        (f["decision"].as_str(), f["effect"].as_str()),
        (Some("collecting"), Some("latency_factor"))
    );
    assert!(
        f["requests"]["canary"].as_f64().is_some_and(|n| n > 0.0),
        "{f}"
    );
    assert!(
        v["metrics"][1].get("sequential").is_none(),
        "p99 has no judge"
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
    h.model.current_mut().rollout = None;
    h.model.current_mut().rollout_error = Some(rollout_console::backend::ReadError::other(
        "cannot connect to http://127.0.0.1:1/",
    ));
    let r = report(&h.model, None);
    assert_eq!(r.verdict, Overall::Inconclusive);
    assert!(r.summary[0].contains("cannot read the rollout"));
}

#[test]
fn an_slo_without_data_prints_unknown_not_no_alert() {
    use rollout_console::domain::slo::SloMeasurement;
    let mut h = Harness::new(Scenario::Healthy, true);
    h.advance(10);
    let slo = &mut h.model.current_mut().slos[0];
    slo.status = Some(slo.def.evaluate(&SloMeasurement {
        error_ratio: None,
        window_ratios: vec![("5m".into(), None), ("1h".into(), None)],
    }));
    let text = render_human(&report(&h.model, None));
    let line = text
        .lines()
        .find(|l| l.starts_with("SLO "))
        .expect("an SLO line");
    assert!(
        line.contains("budget left unknown") && line.contains("burn unknown; alert unknown"),
        "{text}"
    );
}

#[test]
fn a_completed_rollout_says_completed_and_exits_0() {
    let mut h = Harness::new(Scenario::Healthy, true);
    h.advance(10);
    for _ in 0..10 {
        let r = h.sim.rollout_mut();
        if r.state == rollout_console::domain::RolloutState::Completed {
            break;
        }
        let step = r.step;
        r.promote(step, h.now).expect("promote");
    }
    h.advance(4);
    let r = report(&h.model, None);
    assert_eq!(
        (r.verdict, r.exit_code),
        (Overall::Completed, 0),
        "{:?}",
        r.summary
    );
    assert!(!r.ready_to_promote);
    assert!(
        r.summary[0].starts_with("completed: v1.2.3 serves 100% of traffic"),
        "{:?}",
        r.summary
    );
    let text = render_human(&r);
    assert!(text.contains("VERDICT: COMPLETED (exit 0)"), "{text}");
    assert!(
        text.contains("READY_TO_PROMOTE: NO (completed: nothing left to promote)"),
        "{text}"
    );
    assert!(!text.contains("INCONCLUSIVE"), "{text}");
    let v = serde_json::to_value(&r).expect("json");
    assert_eq!(v["verdict"], "completed");
}

#[test]
fn steps_are_1_based_for_people_and_an_index_in_json() {
    let mut h = Harness::new(Scenario::Healthy, true);
    h.advance(10);
    let step = h.sim.rollout().step;
    h.sim
        .rollout_mut()
        .promote(step, h.now)
        .expect("to the second step");
    h.advance(2);
    let r = report(&h.model, None);
    let text = render_human(&r);
    assert!(text.starts_with("checkout: step 2 at 25%"), "{text}");
    let v = serde_json::to_value(&r).expect("json");
    assert_eq!(v["step_index"], 1, "{v}");
    assert!(v.get("step").is_none(), "the ambiguous key is gone: {v}");
}

#[test]
fn not_ready_says_why_on_the_same_line() {
    let mut h = Harness::new(Scenario::LatencyRegression, true);
    h.advance(130);
    let r = report(&h.model, None);
    let text = render_human(&r);
    let line = text
        .lines()
        .find(|l| l.starts_with("READY_TO_PROMOTE:"))
        .expect("the line");
    assert!(!line.contains("see above"), "{line}");
    assert!(
        line.starts_with("READY_TO_PROMOTE: NO (") && line.len() > 30,
        "{line}"
    );
}

#[test]
fn a_failing_check_says_the_advice_is_the_consoles() {
    let mut h = Harness::new(Scenario::LatencyRegression, true);
    h.advance(130);
    let text = render_human(&report(&h.model, None));
    assert!(
        text.contains("VERDICT: FAIL (exit 1); console advises roll back"),
        "{text}"
    );
    // The rollout's own state is the controller's: it is still progressing.
    assert!(text.starts_with("checkout: step "), "{text}");
}
