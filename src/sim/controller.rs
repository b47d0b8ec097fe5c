//! The simulated rollout controller: the rollout it starts (its steps, holds scaled by `--speed`,
//! and the pods' hashes), its own analysis gates, and what it decides every few seconds: roll back
//! on a failing error rate, promote when a hold is over and latency is within 10% of baseline,
//! otherwise hold and say why.

use chrono::{DateTime, Utc};
use std::time::Duration;

use crate::domain::gate::ForSpec;
use crate::domain::{Gate, Rollout, RolloutState, Series, Step, StepRecord, Track, Unit, Verdict};

use super::measures::SimMetric;

/// The simulated pods' template hashes (as Argo labels them), so configs without baseline /
/// canary selectors can be tried against `simulate`.
pub const STABLE_HASH: &str = "5f7c9d6b8";
pub const CANARY_HASH: &str = "7b9f4c6d5";
/// Nominal holds (real-world lengths); `--speed` divides them.
const NOMINAL_STEPS: [(u8, Option<u64>); 4] = [
    (5, Some(600)),
    (25, Some(600)),
    (50, Some(1800)),
    (100, None),
];
/// The controller judges every this many seconds.
pub(super) const CONTROLLER_PERIOD_SECS: i64 = 5;

/// The controller's own analysis: roll back on errors, hold on latency (like an Argo AnalysisTemplate).
fn controller_error_gate() -> Gate {
    Gate {
        max: Some(0.01),
        for_: ForSpec::Checks(2),
        ..Gate::default()
    }
}

fn controller_latency_gate() -> Gate {
    Gate {
        max_increase_pct: Some(10.0),
        for_: ForSpec::Checks(2),
        ..Gate::default()
    }
}

/// The rollout `name` as it begins at `started_at`: at its first step, holds divided by `speed`
/// (a finite, positive number, else 1) and at least a second each.
pub(super) fn initial_rollout(name: &str, speed: f64, started_at: DateTime<Utc>) -> Rollout {
    let speed = if speed.is_finite() && speed > 0.0 {
        speed
    } else {
        1.0
    };
    let steps = NOMINAL_STEPS
        .iter()
        .map(|(weight, hold)| Step {
            weight: *weight,
            hold: hold
                .map(|s| Duration::from_secs_f64(s as f64 / speed).max(Duration::from_secs(1))),
        })
        .map(|mut s| {
            if let Some(h) = s.hold {
                s.hold = Some(Duration::from_secs(h.as_secs().max(1)));
            }
            s
        })
        .collect();
    Rollout {
        name: name.to_string(),
        state: RolloutState::Progressing,
        stable_version: "v1.2.2".into(),
        canary_version: "v1.2.3".into(),
        step: 0,
        canary_weight: NOMINAL_STEPS[0].0,
        steps,
        step_started_at: started_at,
        message: None,
        paused_by: None,
        paused_at: None,
        history: vec![StepRecord {
            step: 0,
            started_at,
            finished_at: None,
        }],
        stable_hash: Some(STABLE_HASH.into()),
        canary_hash: Some(CANARY_HASH.into()),
        analysis: Vec::new(),
        undo_to: None,
    }
}

/// One check at `now`: aborts on a failing error-rate analysis, and advances a step when its hold
/// is over and latency is within 10% of baseline (otherwise it holds and says why). `series` reads
/// a metric of a track over `lookback` at `step` spacing, newest point at `now`.
pub(super) fn run(
    rollout: &mut Rollout,
    now: DateTime<Utc>,
    series: impl Fn(SimMetric, Track, Duration, Duration) -> Series,
) {
    if rollout.state != RolloutState::Progressing {
        return;
    }
    let period = Duration::from_secs(CONTROLLER_PERIOD_SECS as u64);
    let lookback = Duration::from_secs(30);
    let step = rollout.step;
    let errors = controller_error_gate().evaluate(
        "error rate",
        Unit::Ratio,
        &series(SimMetric::ErrorRatio, Track::Baseline, lookback, period),
        &series(SimMetric::ErrorRatio, Track::Canary, lookback, period),
        period,
    );
    if errors.verdict == Verdict::Fail {
        let why = format!(
            "{} for {} checks (controller analysis)",
            errors.summary(),
            errors.required_points
        );
        roll_back(rollout, step, &why, now);
        return;
    }
    if rollout.hold_remaining(now) != Some(Duration::ZERO) {
        return;
    }
    let latency = controller_latency_gate().evaluate(
        "p95 latency",
        Unit::Seconds,
        &series(SimMetric::P95, Track::Baseline, lookback, period),
        &series(SimMetric::P95, Track::Canary, lookback, period),
        period,
    );
    if latency.verdict == Verdict::Pass {
        let weight = rollout.steps.get(step + 1).map_or(100, |s| s.weight);
        if rollout.promote(step, now).is_ok() && rollout.state != RolloutState::Completed {
            rollout.message = Some(format!(
                "controller: hold over, analysis passed; promoted to {weight}%"
            ));
        }
    } else if !rollout
        .message
        .as_deref()
        .is_some_and(|m| m.starts_with("controller held"))
    {
        // Said once per hold, not at every check: the numbers live in the panels.
        rollout.message = Some(format!("controller held: {}", latency.summary()));
    }
}

/// Roll the rollout back from `step` for `why`. Should the state machine refuse (the rollout is
/// already over, or moved past `step`), the refusal becomes the rollout's message, so it shows in
/// the header and the events instead of vanishing.
fn roll_back(rollout: &mut Rollout, step: usize, why: &str, now: DateTime<Utc>) {
    if let Err(refused) = rollout.rollback(step, why, now) {
        rollout.message = Some(format!("controller could not roll back ({why}): {refused}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::test_support::*;
    use crate::sim::{SERVICE_RPS, Scenario, SimOptions, Simulator};

    #[test]
    fn healthy_walks_to_completion() {
        let mut s = sim(Scenario::Healthy, 5);
        // Holds at speed 20: 30s + 30s + 90s, plus controller periods.
        s.advance_to(now() + chrono::Duration::seconds(200));
        assert_eq!(
            s.rollout().state,
            RolloutState::Completed,
            "{:?}",
            s.rollout().message
        );
        assert_eq!(s.rollout().history.len(), 3);
    }

    #[test]
    fn latency_regression_is_held_at_25_percent_by_about_40_percent() {
        let mut s = sim(Scenario::LatencyRegression, 5);
        s.advance_to(now() + chrono::Duration::seconds(150));
        let r = s.rollout();
        assert_eq!(
            (r.state, r.step, r.canary_weight),
            (RolloutState::Progressing, 1, 25)
        );
        assert!(
            r.message.as_deref().is_some_and(|m| m.contains("held")),
            "{:?}",
            r.message
        );
        let ratio =
            latest(&s, SimMetric::P95, Track::Canary) / latest(&s, SimMetric::P95, Track::Baseline);
        assert!((ratio - 1.4).abs() < 0.12, "canary/baseline p95 {ratio}");
    }

    #[test]
    fn error_spike_is_rolled_back_by_the_controller() {
        let mut s = sim(Scenario::ErrorSpike, 5);
        s.advance_to(now() + chrono::Duration::seconds(120));
        let r = s.rollout();
        assert_eq!(r.state, RolloutState::RolledBack);
        let msg = r.message.clone().unwrap_or_default();
        assert!(
            msg.contains("> max 1.00%") && msg.contains("for 2 checks"),
            "{msg}"
        );
    }

    #[test]
    fn mild_latency_is_held_at_5_percent_once_the_first_hold_is_over() {
        for (seed, rps) in [(2, SERVICE_RPS), (3, 4_000.0)] {
            let mut s = Simulator::new(
                SimOptions {
                    scenario: Scenario::MildLatency,
                    seed,
                    service_rps: rps,
                    ..SimOptions::default()
                },
                now(),
            );
            s.advance_to(now() + secs(150));
            let r = s.rollout();
            assert_eq!(
                (r.state, r.step, r.canary_weight),
                (RolloutState::Progressing, 0, 5),
                "seed {seed}, {rps} rps"
            );
            let msg = r.message.clone().unwrap_or_default();
            assert!(
                msg.starts_with("controller held: canary p95 latency")
                    && msg.contains("limit +10%"),
                "{msg}"
            );
        }
    }

    #[test]
    fn a_rollback_the_state_machine_refuses_is_said_not_dropped() {
        let started = now();
        let why = "canary error rate 5.00% > max 1.00% for 2 checks (controller analysis)";

        // The usual case: rolled back, the reason in the message.
        let mut r = initial_rollout("checkout", 20.0, started);
        roll_back(&mut r, 0, why, now() + secs(30));
        assert_eq!((r.state, r.canary_weight), (RolloutState::RolledBack, 0));
        assert_eq!(
            r.message.as_deref(),
            Some(format!("rolled back: {why}").as_str())
        );

        // Already over: nothing changes but the message, which says why nothing was done.
        let mut done = initial_rollout("checkout", 20.0, started);
        done.state = RolloutState::Completed;
        done.canary_weight = 100;
        roll_back(&mut done, 0, why, now() + secs(30));
        assert_eq!(
            (done.state, done.canary_weight),
            (RolloutState::Completed, 100)
        );
        let msg = done.message.clone().unwrap_or_default();
        assert!(
            msg.starts_with("controller could not roll back")
                && msg.contains(why)
                && msg.contains("already completed"),
            "{msg}"
        );

        // Moved past the step it judged: the same, in the state machine's words.
        let mut moved = initial_rollout("checkout", 20.0, started);
        moved.step = 1;
        roll_back(&mut moved, 0, why, now() + secs(30));
        assert_eq!(moved.state, RolloutState::Progressing);
        let msg = moved.message.clone().unwrap_or_default();
        assert!(
            msg.starts_with("controller could not roll back") && msg.contains("moved on"),
            "{msg}"
        );
    }
}
