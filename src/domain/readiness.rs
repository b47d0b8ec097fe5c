//! Phase readiness: a step is READY TO PROMOTE when its hold has elapsed and every blocking gate
//! held at each evaluation point since the step began (from a range query over the hold, so the
//! console and `check` agree without remembering anything).

use chrono::{DateTime, Utc};
use serde::Serialize;
use std::time::Duration;

use super::format::short_duration;
use super::gate::{Gate, Severity};
use super::rollout::{Rollout, RolloutState};
use super::series::{Series, Unit};

/// One gated metric's series over (at least) the current step.
pub struct GateSeries<'a> {
    pub name: &'a str,
    pub unit: Unit,
    pub gate: &'a Gate,
    pub baseline: &'a Series,
    pub canary: &'a Series,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Readiness {
    pub ready: bool,
    /// Time left in the hold, when there is one.
    pub hold_left: Option<Duration>,
    /// Why not (empty when ready).
    pub reasons: Vec<String>,
}

/// What a blocking gate says of the current step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepGate {
    /// Its first point in the step that did not hold.
    FailedAt(DateTime<Utc>),
    /// Every point in the step held or had no value, and the newest did not hold (no value).
    NoDataNow,
    /// Every point in the step held, the newest too.
    Held,
}

/// What `gate` says of the step that began at `step_started_at`; `None` for a gate that does
/// not block (a warning, or no checks). It reads every point of the step: worked out once per
/// answer (see `readiness_of`), not at every redraw of a fleet's rows.
pub fn step_gate(
    gate: &Gate,
    baseline: &Series,
    canary: &Series,
    step_started_at: DateTime<Utc>,
) -> Option<StepGate> {
    if gate.severity == Severity::Warn || !gate.has_checks() {
        return None;
    }
    let points: Vec<_> = gate
        .holds_at_each_point(baseline, canary)
        .into_iter()
        .filter(|(at, _)| *at >= step_started_at)
        .collect();
    Some(
        if let Some((at, _)) = points.iter().find(|(_, held)| *held == Some(false)) {
            StepGate::FailedAt(*at)
        } else if points.last().is_none_or(|(_, held)| *held != Some(true)) {
            StepGate::NoDataNow
        } else {
            StepGate::Held
        },
    )
}

pub fn readiness(rollout: &Rollout, gates: &[GateSeries], now: DateTime<Utc>) -> Readiness {
    let said: Vec<(&str, Option<StepGate>)> = gates
        .iter()
        .map(|g| {
            let says = step_gate(g.gate, g.baseline, g.canary, rollout.step_started_at);
            (g.name, says)
        })
        .collect();
    readiness_of(rollout, &said, now)
}

/// Readiness from what each gate (by name) says of the current step (`step_gate`).
pub fn readiness_of(
    rollout: &Rollout,
    gates: &[(&str, Option<StepGate>)],
    now: DateTime<Utc>,
) -> Readiness {
    let mut reasons = Vec::new();
    let hold_left = rollout.hold_remaining(now);
    match rollout.state {
        RolloutState::Progressing | RolloutState::Paused => {}
        other => reasons.push(format!("the rollout is {}", other.label())),
    }
    if rollout.is_last_step() {
        reasons.push("already at the last step".into());
    }
    if let Some(left) = hold_left.filter(|d| !d.is_zero()) {
        reasons.push(format!("hold: {} left", short_duration(left)));
    }
    for (name, says) in gates {
        match says {
            Some(StepGate::FailedAt(at)) => reasons.push(format!(
                "{name} failed at {} in this step",
                at.format("%H:%M:%SZ")
            )),
            Some(StepGate::NoDataNow) => reasons.push(format!("{name} has no data now")),
            Some(StepGate::Held) | None => {}
        }
    }
    Readiness {
        ready: reasons.is_empty(),
        hold_left,
        reasons,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Sample;
    use crate::domain::rollout::tests::{sample_rollout, t0};

    fn series(start: i64, values: &[f64]) -> Series {
        Series::new(
            values
                .iter()
                .enumerate()
                .map(|(i, v)| Sample {
                    at: t0() + chrono::Duration::seconds(start + 60 * i as i64),
                    value: *v,
                })
                .collect(),
        )
    }

    fn gate() -> Gate {
        Gate {
            max_increase_pct: Some(10.0),
            ..Gate::default()
        }
    }

    #[test]
    fn ready_only_when_the_hold_is_over_and_every_point_passed() {
        let r = sample_rollout(); // step 0, hold 10m from t0
        let g = gate();
        let base = series(0, &[1.0; 11]);
        let good = series(0, &[1.05; 11]);
        let gs = [GateSeries {
            name: "p95",
            unit: Unit::Seconds,
            gate: &g,
            baseline: &base,
            canary: &good,
        }];
        let early = readiness(&r, &gs, t0() + chrono::Duration::seconds(300));
        assert!(!early.ready);
        assert_eq!(early.reasons, vec!["hold: 5m00s left".to_string()]);
        let done = readiness(&r, &gs, t0() + chrono::Duration::seconds(600));
        assert!(done.ready, "{:?}", done.reasons);

        // One bad point in the middle of the hold is enough to say no, from the range alone.
        let mut blip = vec![1.05; 11];
        blip[4] = 1.5;
        let blip = series(0, &blip);
        let gs = [GateSeries {
            name: "p95",
            unit: Unit::Seconds,
            gate: &g,
            baseline: &base,
            canary: &blip,
        }];
        let r2 = readiness(&r, &gs, t0() + chrono::Duration::seconds(600));
        assert!(!r2.ready);
        assert_eq!(
            r2.reasons,
            vec!["p95 failed at 09:34:00Z in this step".to_string()]
        );
    }

    #[test]
    fn points_before_the_step_and_warn_gates_do_not_count() {
        let r = sample_rollout();
        let g = gate();
        let warn = Gate {
            max: Some(0.0),
            severity: Severity::Warn,
            ..Gate::default()
        };
        let base = series(-600, &[1.0; 21]);
        let mut values = vec![1.05; 21];
        values[2] = 9.0; // before the step began
        let canary = series(-600, &values);
        let gs = [
            GateSeries {
                name: "p95",
                unit: Unit::Seconds,
                gate: &g,
                baseline: &base,
                canary: &canary,
            },
            GateSeries {
                name: "rps",
                unit: Unit::Rps,
                gate: &warn,
                baseline: &base,
                canary: &canary,
            },
        ];
        assert!(readiness(&r, &gs, t0() + chrono::Duration::seconds(600)).ready);
    }

    #[test]
    fn no_data_now_or_a_finished_rollout_is_not_ready() {
        let mut r = sample_rollout();
        let g = gate();
        let base = series(0, &[1.0; 11]);
        let mut values = vec![1.0; 11];
        values[10] = f64::NAN;
        let canary = series(0, &values);
        let gs = [GateSeries {
            name: "p95",
            unit: Unit::Seconds,
            gate: &g,
            baseline: &base,
            canary: &canary,
        }];
        let at = t0() + chrono::Duration::seconds(600);
        assert_eq!(
            readiness(&r, &gs, at).reasons,
            vec!["p95 has no data now".to_string()]
        );
        r.rollback(0, "test", at).expect("rollback");
        assert!(
            readiness(&r, &[], at)
                .reasons
                .iter()
                .any(|s| s.contains("ROLLED BACK"))
        );
    }
}
