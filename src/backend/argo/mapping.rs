//! Argo Rollouts objects (as the Kubernetes API returns them, untyped JSON) to our `Rollout`.
//! Pure: no I/O, and `now` is an argument. The phase rules follow the kubectl plugin's
//! `utils/rollout/rolloututil.go` (`GetRolloutPhase` / `CalculateRolloutPhase`).
//!
//! This file assembles the `Rollout` ([`to_rollout`]); the parts it reads live beside it:
//! `mapping/steps.rs` (the step plan), `mapping/phase.rs` (status to phase, observed generation,
//! why aborted), `mapping/versions.rs` (versions and the undo target), `mapping/analysis.rs`
//! (AnalysisRuns to results).

mod analysis;
mod phase;
mod steps;
mod versions;

pub use analysis::{analysis_results, owned_by};
pub use phase::generation_observed;
pub use steps::StepPlan;

use chrono::{DateTime, Utc};
use serde_json::Value;
use std::time::Duration;

use super::fields::{current_step_index, i64_at, str_at, time_at};
use crate::domain::format::age;
use crate::domain::{Rollout, RolloutState};
use phase::{Phase, aborted_message, derived_phase, parse_phase, pause_conditions, spec_paused};
use steps::{argo_steps, clamp_weight};
use versions::{describe_version, undo_target};

/// Map a Rollout object and the ReplicaSets of its selector to the console's model.
pub fn to_rollout(
    ro: &Value,
    replicasets: &[Value],
    now: DateTime<Utc>,
) -> Result<Rollout, String> {
    let name = str_at(ro, "/metadata/name")
        .ok_or("the object has no metadata.name: not a Rollout")?
        .to_string();
    if ro
        .get("kind")
        .and_then(Value::as_str)
        .is_some_and(|k| k != "Rollout")
    {
        return Err(format!("{name} is not a Rollout"));
    }
    let blue_green = ro.pointer("/spec/strategy/blueGreen").is_some();
    let plan = StepPlan::from_argo(argo_steps(ro));
    let argo_index = current_step_index(ro);
    let mut step = plan.console_step(argo_index);
    let current_argo_step = argo_steps(ro).get(argo_index);

    let observed = generation_observed(ro);
    let (phase, phase_message) = if !observed {
        (
            Phase::Progressing,
            format!(
                "waiting for the controller to observe generation {} (status is from an older spec)",
                i64_at(ro, "/metadata/generation").unwrap_or_default()
            ),
        )
    } else if let Some(phase) = str_at(ro, "/status/phase").and_then(parse_phase) {
        // Argo 1.0+: the controller computes phase and message; trust them.
        let message = str_at(ro, "/status/message")
            .unwrap_or_default()
            .to_string();
        (phase, message)
    } else {
        derived_phase(ro)
    };
    let aborted = observed
        && ro
            .pointer("/status/abort")
            .and_then(Value::as_bool)
            .unwrap_or(false);

    let pause_started = pause_conditions(ro)
        .iter()
        .filter_map(|c| time_at(c, "/startTime"))
        .min();
    // A timed pause step runs out by itself: show it as a running hold, not a frozen pause.
    let timed_pause = phase == Phase::Paused
        && !spec_paused(ro)
        && pause_conditions(ro)
            .iter()
            .all(|c| str_at(c, "/reason") == Some("CanaryPauseStep"))
        && current_argo_step
            .and_then(|s| s.pointer("/pause/duration"))
            .is_some_and(|d| !d.is_null());

    let mut state = match phase {
        Phase::Healthy => RolloutState::Completed,
        Phase::Progressing => RolloutState::Progressing,
        Phase::Paused if timed_pause => RolloutState::Progressing,
        Phase::Paused => RolloutState::Paused,
        Phase::Degraded => RolloutState::Failed,
    };
    if aborted {
        state = RolloutState::RolledBack;
    }
    if state == RolloutState::Completed {
        step = plan.steps.len() - 1;
    }

    let canary_weight = match state {
        RolloutState::Completed => 100,
        RolloutState::RolledBack => 0,
        _ => match i64_at(ro, "/status/canary/weights/canary/weight") {
            Some(w) => clamp_weight(w),
            None if blue_green => 0,
            None => plan.steps.get(step).map_or(0, |s| s.weight),
        },
    };

    // Argo records no step start time: the pause's start when pausing, else the last progress.
    let step_started_at = pause_started
        .or_else(|| {
            ro.pointer("/status/conditions")
                .and_then(Value::as_array)
                .and_then(|cs| {
                    cs.iter()
                        .find(|c| str_at(c, "/type") == Some("Progressing"))
                        .and_then(|c| time_at(c, "/lastUpdateTime"))
                })
        })
        .or_else(|| time_at(ro, "/metadata/creationTimestamp"))
        .unwrap_or(now);

    let mut notes: Vec<String> = Vec::new();
    if !phase_message.is_empty() {
        notes.push(phase_message);
    }
    // The derived phase already quotes the RolloutAborted condition; say it once.
    if aborted
        && let Some(why) = aborted_message(ro)
        && !notes.iter().any(|n| n.contains(&why))
    {
        notes.push(format!("aborted: {why}"));
    }
    if timed_pause && let (Some(hold), Some(start)) = (plan.steps[step].hold, pause_started) {
        let left = hold.saturating_sub(age(start, now));
        notes.push(format!(
            "pause step: continues by itself in {}",
            humantime::format_duration(Duration::from_secs(left.as_secs()))
        ));
    }
    if current_argo_step.is_some_and(|s| s.get("analysis").is_some()) {
        notes.push("running an analysis step".into());
    } else if current_argo_step.is_some_and(|s| s.get("experiment").is_some()) {
        notes.push("running an experiment step".into());
    }
    if !plan.analysis_at.is_empty() {
        let at: Vec<String> = plan
            .analysis_at
            .iter()
            .map(|i| (i + 1).to_string())
            .collect();
        notes.push(format!("analysis at step {}", at.join(", ")));
    }
    if !plan.unreadable.is_empty() {
        notes.push(format!(
            "pause durations not understood (kept as manual gates): {}",
            plan.unreadable.join(", ")
        ));
    }
    if blue_green {
        notes.push("blue-green strategy: one switch to 100%".into());
    }

    let stable_hash = str_at(ro, "/status/stableRS").unwrap_or_default();
    let canary_hash = str_at(ro, "/status/currentPodHash").unwrap_or_default();
    Ok(Rollout {
        name,
        state,
        stable_version: describe_version(replicasets, stable_hash),
        canary_version: describe_version(replicasets, canary_hash),
        step,
        canary_weight,
        steps: plan.steps,
        step_started_at,
        message: (!notes.is_empty()).then(|| notes.join("; ")),
        paused_by: None,
        paused_at: if state == RolloutState::Paused {
            pause_started
        } else {
            None
        },
        history: Vec::new(),
        stable_hash: Some(stable_hash.to_string()).filter(|h| !h.is_empty()),
        canary_hash: Some(canary_hash.to_string()).filter(|h| !h.is_empty()),
        analysis: Vec::new(),
        undo_to: undo_target(ro, replicasets),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::AnalysisPhase;
    use chrono::TimeZone;
    use serde_json::json;

    pub(super) fn fixture(name: &str) -> Value {
        let path = format!(
            "{}/tests/fixtures/argo/{name}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).expect("fixture");
        serde_json::from_str(&text).expect("fixture json")
    }

    fn canary_rs() -> Vec<Value> {
        ["canary_stable-rs", "canary_canary-rs", "canary_old-rs"]
            .into_iter()
            .map(fixture)
            .collect()
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2019, 10, 28, 5, 0, 0)
            .single()
            .expect("valid time")
    }

    fn map(ro: &Value, rs: &[Value], now: DateTime<Utc>) -> Rollout {
        to_rollout(ro, rs, now).expect("maps")
    }

    // Real objects first (controllers before `status.phase`: the phase is derived).

    #[test]
    fn snapshot_canary_past_progress_deadline_is_failed() {
        let r = map(&fixture("canary_canary-rollout"), &canary_rs(), now());
        assert_eq!(r.state, RolloutState::Failed);
        assert_eq!(
            (r.stable_version.as_str(), r.canary_version.as_str()),
            ("green", "does-not-exist")
        );
        insta::assert_snapshot!(serde_json::to_string_pretty(&r).expect("json"));
    }

    #[test]
    fn snapshot_canary_weight_from_traffic_routing_status() {
        let r = map(&fixture("canary_canary-rollout5"), &canary_rs(), now());
        assert_eq!(r.canary_weight, 20);
    }

    #[test]
    fn snapshot_aborted_is_rolled_back() {
        let rs: Vec<Value> = ["rollout-aborted_rs1", "rollout-aborted_rs2"]
            .into_iter()
            .map(fixture)
            .collect();
        let r = map(&fixture("rollout-aborted_rollout"), &rs, now());
        assert_eq!(r.state, RolloutState::RolledBack);
        assert_eq!(r.canary_weight, 0);
        insta::assert_snapshot!(serde_json::to_string_pretty(&r).expect("json"));
    }

    #[test]
    fn snapshot_experiment_analysis() {
        let r = map(
            &fixture("experiment-analysis_rollout-experiment-analysis"),
            &[],
            now(),
        );
        insta::assert_snapshot!(serde_json::to_string_pretty(&r).expect("json"));
    }

    #[test]
    fn snapshot_blue_green_waiting_for_promotion() {
        let r = map(&fixture("blue-green_bluegreen-rollout"), &[], now());
        assert_eq!(r.state, RolloutState::Paused);
        insta::assert_snapshot!(serde_json::to_string_pretty(&r).expect("json"));
    }

    // The same canary moved on by a 1.0+ controller (phase and message in the status).

    fn modern(step: usize, phase: &str, message: &str) -> Value {
        let mut ro = fixture("canary_canary-rollout");
        ro["status"]["conditions"] = json!([]);
        ro["status"]["currentStepIndex"] = json!(step);
        ro["status"]["phase"] = json!(phase);
        ro["status"]["message"] = json!(message);
        ro
    }

    #[test]
    fn snapshot_paused_at_a_manual_gate() {
        let mut ro = modern(1, "Paused", "CanaryPauseStep");
        ro["status"]["pauseConditions"] =
            json!([{"reason": "CanaryPauseStep", "startTime": "2019-10-28T04:50:00Z"}]);
        let r = map(&ro, &canary_rs(), now());
        assert_eq!(
            (r.state, r.step, r.canary_weight),
            (RolloutState::Paused, 0, 20)
        );
        assert_eq!(
            r.paused_at,
            time_at(&ro, "/status/pauseConditions/0/startTime")
        );
        insta::assert_snapshot!(serde_json::to_string_pretty(&r).expect("json"));
    }

    #[test]
    fn snapshot_timed_pause_counts_down_from_its_start() {
        let mut ro = modern(3, "Paused", "CanaryPauseStep");
        ro["status"]["pauseConditions"] =
            json!([{"reason": "CanaryPauseStep", "startTime": "2019-10-28T04:59:57Z"}]);
        let r = map(&ro, &canary_rs(), now());
        assert_eq!((r.state, r.step), (RolloutState::Progressing, 1));
        // 10s hold, started 3s before `now`.
        assert_eq!(r.hold_remaining(now()), Some(Duration::from_secs(7)));
        insta::assert_snapshot!(serde_json::to_string_pretty(&r).expect("json"));
    }

    #[test]
    fn snapshot_progressing() {
        let r = map(
            &modern(4, "Progressing", "more replicas need to be updated"),
            &canary_rs(),
            now(),
        );
        assert_eq!(
            (r.state, r.step, r.canary_weight),
            (RolloutState::Progressing, 2, 60)
        );
        insta::assert_snapshot!(serde_json::to_string_pretty(&r).expect("json"));
    }

    #[test]
    fn snapshot_completed() {
        let mut ro = modern(8, "Healthy", "");
        ro["status"]["stableRS"] = json!("65fb5ffc84");
        let r = map(&ro, &canary_rs(), now());
        assert_eq!(
            (r.state, r.step, r.canary_weight),
            (RolloutState::Completed, 4, 100)
        );
        insta::assert_snapshot!(serde_json::to_string_pretty(&r).expect("json"));
    }

    #[test]
    fn snapshot_degraded_from_phase() {
        let r = map(
            &modern(
                2,
                "Degraded",
                "RolloutAborted: metric \"web\" assessed Failed",
            ),
            &canary_rs(),
            now(),
        );
        assert_eq!(r.state, RolloutState::Failed);
    }

    // AnalysisRuns: the real failed background run of the aborted rollout, and the inconclusive
    // one of the experiment fixture.

    #[test]
    fn snapshot_failed_background_analysis() {
        let ro = fixture("rollout-aborted_rollout");
        let run = fixture("rollout-aborted_analysisrun");
        assert!(owned_by(&run, &ro));
        let canary = str_at(&ro, "/status/currentPodHash").expect("hash");
        let got = analysis_results(std::slice::from_ref(&run), canary);
        assert_eq!(got.len(), 1);
        let r = &got[0];
        assert_eq!(
            (r.run.as_str(), r.metric.as_str(), r.phase),
            (
                "rollout-background-analysis-db976bc44-2",
                "web",
                AnalysisPhase::Failed
            )
        );
        assert_eq!(r.value.as_deref(), Some("false"));
        // Neither the metric nor the measurement has a message: the run's says why.
        assert_eq!(
            r.message.as_deref(),
            Some("metric \"web\" assessed Failed due to failed (1) > failureLimit (0)")
        );
        assert_eq!(r.at, time_at(&run, "/status/startedAt"));
        insta::assert_snapshot!(serde_json::to_string_pretty(&got).expect("json"));
        // The rollout's own message still carries the abort reason.
        let mapped = map(&ro, &[], now());
        assert!(
            mapped
                .message
                .as_deref()
                .is_some_and(|m| m.contains("assessed Failed")),
            "{mapped:?}"
        );
    }

    #[test]
    fn an_unobserved_generation_is_not_trusted() {
        let mut ro = modern(2, "Degraded", "stale");
        ro["metadata"]["generation"] = json!(430);
        let r = map(&ro, &canary_rs(), now());
        assert_eq!(r.state, RolloutState::Progressing);
        let message = r.message.expect("message");
        assert!(message.contains("waiting for the controller"), "{message}");
        assert!(!message.contains("stale"), "{message}");
    }
}
