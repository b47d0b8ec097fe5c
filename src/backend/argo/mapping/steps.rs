//! Argo's step list (`spec.strategy.canary.steps`) folded into the console's steps: weights,
//! pauses as holds, where analyses run, and which Argo step is which console step. Pure.

use serde_json::Value;
use std::time::Duration;

use crate::domain::Step;

/// How Argo's step list folds into ours: one console step per `setWeight`, with the pause after it
/// as its hold. Argo goes to 100% by itself after the last step, so a final 100% step is added.
#[derive(Debug, Clone, PartialEq)]
pub struct StepPlan {
    pub steps: Vec<Step>,
    /// Console step index for each Argo step index (and one past the end: the final step).
    pub console_index: Vec<usize>,
    /// Console steps (0-based) that run an analysis or an experiment.
    pub analysis_at: Vec<usize>,
    /// Pauses whose duration we could not read, kept as manual gates.
    pub unreadable: Vec<String>,
}

impl StepPlan {
    pub fn from_argo(argo_steps: &[Value]) -> Self {
        let mut plan = Self {
            steps: Vec::new(),
            console_index: Vec::with_capacity(argo_steps.len() + 1),
            analysis_at: Vec::new(),
            unreadable: Vec::new(),
        };
        // A step that only has a pause so far: a second timed pause adds to its hold.
        for step in argo_steps {
            if let Some(weight) = step.get("setWeight").and_then(Value::as_i64) {
                plan.steps.push(Step {
                    weight: clamp_weight(weight),
                    hold: None,
                });
            } else if plan.steps.is_empty() {
                // A pause or analysis before any setWeight runs at the initial 0%.
                plan.steps.push(Step {
                    weight: 0,
                    hold: None,
                });
            }
            let current = plan.steps.len() - 1;
            if let Some(pause) = step.get("pause") {
                match pause.get("duration") {
                    // `pause: {}`: a manual gate, released by promote; the hold stays None.
                    None | Some(Value::Null) => {}
                    Some(d) => match pause_duration(d) {
                        Some(d) => {
                            let hold = &mut plan.steps[current].hold;
                            *hold = Some(hold.unwrap_or_default() + d);
                        }
                        None => plan.unreadable.push(d.to_string()),
                    },
                }
            }
            if (step.get("analysis").is_some() || step.get("experiment").is_some())
                && plan.analysis_at.last() != Some(&current)
            {
                plan.analysis_at.push(current);
            }
            plan.console_index.push(current);
        }
        if plan.steps.last().is_none_or(|s| s.weight < 100) {
            plan.steps.push(Step {
                weight: 100,
                hold: None,
            });
        }
        plan.console_index.push(plan.steps.len() - 1);
        plan
    }

    /// The console step for Argo's `currentStepIndex` (clamped: past the end is the last step).
    pub fn console_step(&self, argo_index: usize) -> usize {
        let last = self.console_index.len() - 1;
        self.console_index[argo_index.min(last)]
    }
}

pub(super) fn clamp_weight(w: i64) -> u8 {
    // Lossless: clamped to 0..=100 first.
    w.clamp(0, 100) as u8
}

/// Argo's `DurationString`: a Go duration ("10s", "1h30m") or a bare number of seconds.
fn pause_duration(v: &Value) -> Option<Duration> {
    match v {
        Value::Number(n) => n.as_u64().map(Duration::from_secs),
        Value::String(s) => {
            if let Ok(secs) = s.trim().parse::<u64>() {
                return Some(Duration::from_secs(secs));
            }
            humantime::parse_duration(s.trim()).ok()
        }
        _ => None,
    }
}

pub(super) fn argo_steps(ro: &Value) -> &[Value] {
    ro.pointer("/spec/strategy/canary/steps")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::argo::mapping::tests::fixture;
    use serde_json::json;

    #[test]
    fn steps_fold_pauses_into_holds_and_end_at_100() {
        let ro = fixture("canary_canary-rollout");
        let plan = StepPlan::from_argo(argo_steps(&ro));
        let got: Vec<(u8, Option<u64>)> = plan
            .steps
            .iter()
            .map(|s| (s.weight, s.hold.map(|d| d.as_secs())))
            .collect();
        assert_eq!(
            got,
            [
                (20, None),
                (40, Some(10)),
                (60, Some(10)),
                (80, Some(10)),
                (100, None)
            ]
        );
        assert_eq!(plan.console_index, [0, 0, 1, 1, 2, 2, 3, 3, 4]);
        assert_eq!(plan.console_step(99), 4, "past the end clamps");
    }

    #[test]
    fn pause_durations_in_every_spelling() {
        let plan = StepPlan::from_argo(&[
            json!({"pause": {"duration": 30}}),
            json!({"setWeight": 10}),
            json!({"pause": {"duration": "1h30m"}}),
            json!({"analysis": {"templates": []}}),
            json!({"setWeight": 100}),
            json!({"pause": {"duration": "soon"}}),
        ]);
        let got: Vec<(u8, Option<u64>)> = plan
            .steps
            .iter()
            .map(|s| (s.weight, s.hold.map(|d| d.as_secs())))
            .collect();
        assert_eq!(got, [(0, Some(30)), (10, Some(5400)), (100, None)]);
        assert_eq!(plan.analysis_at, [1]);
        assert_eq!(plan.unreadable, ["\"soon\""]);
    }
}
