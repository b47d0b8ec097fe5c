//! A Rollout's status read as a phase: `status.phase` when the controller wrote one, else derived
//! from its conditions and pause conditions the way the kubectl plugin does
//! (`CalculateRolloutPhase`); whether the status is current (observed generation) and why it
//! was aborted. Pure.

use serde_json::Value;

use crate::backend::argo::fields::{i64_at, str_at};

/// Argo's phases (`v1alpha1.RolloutPhase`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    Healthy,
    Progressing,
    Paused,
    Degraded,
}

pub(super) fn parse_phase(s: &str) -> Option<Phase> {
    match s {
        "Healthy" => Some(Phase::Healthy),
        "Progressing" => Some(Phase::Progressing),
        "Paused" => Some(Phase::Paused),
        "Degraded" => Some(Phase::Degraded),
        _ => None,
    }
}

/// `status.observedGeneration` is a string in older controllers (sometimes a hash, before v0.10)
/// and a number in newer ones; like `isGenerationObserved`, anything non-numeric counts as observed.
pub fn generation_observed(ro: &Value) -> bool {
    let observed = match ro.pointer("/status/observedGeneration") {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.parse::<i64>().ok(),
        _ => None,
    };
    match (observed, i64_at(ro, "/metadata/generation")) {
        (Some(obs), Some(generation)) => obs >= generation,
        _ => true,
    }
}

pub(super) fn pause_conditions(ro: &Value) -> &[Value] {
    ro.pointer("/status/pauseConditions")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

pub(super) fn spec_paused(ro: &Value) -> bool {
    ro.pointer("/spec/paused")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// The client-side phase of rollouts from controllers before `status.phase` existed
/// (`CalculateRolloutPhase`, minus the replica-count checks that only say "still progressing").
pub(super) fn derived_phase(ro: &Value) -> (Phase, String) {
    let conditions = ro
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    for c in conditions {
        let message = str_at(c, "/message").unwrap_or_default();
        if str_at(c, "/type") == Some("InvalidSpec") {
            return (Phase::Degraded, format!("InvalidSpec: {message}"));
        }
        if let Some(reason @ ("RolloutAborted" | "ProgressDeadlineExceeded")) = str_at(c, "/reason")
        {
            return (Phase::Degraded, format!("{reason}: {message}"));
        }
    }
    if spec_paused(ro) {
        return (Phase::Paused, "manually paused".into());
    }
    if let Some(reason) = pause_conditions(ro)
        .first()
        .and_then(|c| str_at(c, "/reason"))
    {
        return (Phase::Paused, reason.to_string());
    }
    let stable = str_at(ro, "/status/stableRS").unwrap_or_default();
    let current = str_at(ro, "/status/currentPodHash").unwrap_or_default();
    if stable.is_empty() || stable != current {
        return (
            Phase::Progressing,
            "waiting for all steps to complete".into(),
        );
    }
    (Phase::Healthy, String::new())
}

/// Why it was aborted: the `RolloutAborted` condition, else the failed background analysis.
pub(super) fn aborted_message(ro: &Value) -> Option<String> {
    let from_condition = ro
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|cs| {
            cs.iter()
                .find(|c| str_at(c, "/reason") == Some("RolloutAborted"))
                .and_then(|c| str_at(c, "/message"))
        });
    from_condition
        .or_else(|| {
            str_at(
                ro,
                "/status/canary/currentBackgroundAnalysisRunStatus/message",
            )
        })
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn observed_generation_as_string_number_or_hash() {
        let mut ro = json!({"metadata": {"generation": 5}, "status": {"observedGeneration": "5"}});
        assert!(generation_observed(&ro));
        ro["status"]["observedGeneration"] = json!(4);
        assert!(!generation_observed(&ro));
        ro["status"]["observedGeneration"] = json!("7d84d44bb8");
        assert!(
            generation_observed(&ro),
            "a pre-0.10 hash counts as observed"
        );
    }
}
