//! The exact JSON merge patches `kubectl argo rollouts` sends, as pure functions, and the order
//! they go in. Each one is checked against argoproj/argo-rollouts, `pkg/kubectl-argo-rollouts/cmd/`:
//! `pause/pause.go`, `resume/resume.go`, `promote/promote.go`, `abort/abort.go`, `retry/retry.go`.
//!
//! Note `pause` and `resume` change `spec.paused`: they go to the main resource only. The status
//! subresource ignores spec changes, so sending them there would "succeed" and do nothing.

use serde_json::{Value, json};

use super::mapping::current_step_index;

/// The content type of every patch here (`types.MergePatchType` in the plugin).
pub const MERGE_PATCH: &str = "application/merge-patch+json";

/// What to send for one action, in the plugin's order: `status` to the `/status` subresource
/// first; if that answers 404 (a v0.9 controller without the subresource), `spec` is replaced by
/// `unified` (status and spec in one patch); then `spec` to the main resource.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PatchPlan {
    pub status: Option<Value>,
    pub spec: Option<Value>,
    pub unified: Option<Value>,
}

impl PatchPlan {
    pub fn is_empty(&self) -> bool {
        self.status.is_none() && self.spec.is_none()
    }

    fn spec_only(body: Value) -> Self {
        Self {
            spec: Some(body),
            ..Self::default()
        }
    }

    /// Same body to `/status`, falling back to the main resource on 404 (abort.go, retry.go).
    fn status_with_fallback(body: Value) -> Self {
        Self {
            status: Some(body.clone()),
            spec: None,
            unified: Some(body),
        }
    }
}

/// pause.go: `{"spec":{"paused":true}}` on the main resource.
pub fn pause() -> PatchPlan {
    PatchPlan::spec_only(json!({"spec": {"paused": true}}))
}

/// resume.go: `{"spec":{"paused":false}}` on the main resource.
pub fn resume() -> PatchPlan {
    PatchPlan::spec_only(json!({"spec": {"paused": false}}))
}

/// abort.go: `{"status":{"abort":true}}` (our rollback).
pub fn abort() -> PatchPlan {
    PatchPlan::status_with_fallback(json!({"status": {"abort": true}}))
}

/// retry.go (`retry rollout`): `{"status":{"abort":false}}`.
pub fn retry() -> PatchPlan {
    PatchPlan::status_with_fallback(json!({"status": {"abort": false}}))
}

/// promote.go `--full`: `{"status":{"promoteFull":true}}`, only while the canary is not yet the
/// stable ReplicaSet; the plugin has no fallback for it (nothing is sent on 404).
pub fn promote_full(ro: &Value) -> PatchPlan {
    let stable = ro.pointer("/status/stableRS").and_then(Value::as_str);
    let current = ro.pointer("/status/currentPodHash").and_then(Value::as_str);
    if current == stable {
        return PatchPlan::default();
    }
    PatchPlan {
        status: Some(json!({"status": {"promoteFull": true}})),
        ..PatchPlan::default()
    }
}

/// promote.go (plain `promote`): unpause the spec if paused; clear the pause conditions when
/// paused on a step, else (a canary mid-step, e.g. running an analysis) skip to the next step.
/// Never both: the plugin notes clearing and incrementing together would skip a step.
pub fn promote(ro: &Value) -> PatchPlan {
    let mut plan = PatchPlan {
        unified: Some(json!({"spec": {"paused": false}, "status": {"pauseConditions": null}})),
        ..PatchPlan::default()
    };
    if ro
        .pointer("/spec/paused")
        .and_then(Value::as_bool)
        .unwrap_or(false)
    {
        plan.spec = Some(json!({"spec": {"paused": false}}));
    }
    let paused_on_step = ro
        .pointer("/status/pauseConditions")
        .and_then(Value::as_array)
        .is_some_and(|c| !c.is_empty());
    let canary_steps = ro
        .pointer("/spec/strategy/canary/steps")
        .and_then(Value::as_array)
        .map(Vec::len);
    if paused_on_step {
        plan.status = Some(json!({"status": {"pauseConditions": null}}));
    } else if let Some(len) = canary_steps.filter(|&n| n > 0) {
        let mut index = current_step_index(ro);
        if index < len {
            index += 1;
        }
        plan.status = Some(json!({"status": {"pauseConditions": null, "currentStepIndex": index}}));
        plan.unified = Some(json!({
            "spec": {"paused": false},
            "status": {"pauseConditions": null, "currentStepIndex": index}
        }));
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    // Compared as JSON values: key order is serde_json's, and the server reads JSON.
    fn j(text: &str) -> Option<Value> {
        Some(serde_json::from_str(text).expect("json"))
    }

    fn canary(step: usize, paused: bool, pause_conditions: Value) -> Value {
        json!({
            "spec": {"paused": paused, "strategy": {"canary": {"steps": [
                {"setWeight": 20}, {"pause": {}}, {"setWeight": 40}, {"pause": {"duration": "10s"}}
            ]}}},
            "status": {"currentStepIndex": step, "pauseConditions": pause_conditions,
                       "stableRS": "a", "currentPodHash": "b"}
        })
    }

    #[test]
    fn pause_and_resume_touch_only_the_spec() {
        let p = pause();
        assert_eq!(p.spec, j(r#"{"spec":{"paused":true}}"#));
        assert_eq!((p.status, p.unified), (None, None));
        let r = resume();
        assert_eq!(r.spec, j(r#"{"spec":{"paused":false}}"#));
        assert_eq!((r.status, r.unified), (None, None));
    }

    #[test]
    fn abort_and_retry_go_to_status_with_the_same_fallback() {
        let a = abort();
        assert_eq!(a.status, j(r#"{"status":{"abort":true}}"#));
        assert_eq!(a.unified, a.status);
        assert_eq!(a.spec, None);
        let r = retry();
        assert_eq!(r.status, j(r#"{"status":{"abort":false}}"#));
        assert_eq!(r.unified, r.status);
    }

    #[test]
    fn promote_on_a_pause_step_clears_the_conditions() {
        let ro = canary(1, false, json!([{"reason": "CanaryPauseStep"}]));
        let p = promote(&ro);
        assert_eq!(p.status, j(r#"{"status":{"pauseConditions":null}}"#));
        assert_eq!(p.spec, None);
        assert_eq!(
            p.unified,
            j(r#"{"spec":{"paused":false},"status":{"pauseConditions":null}}"#)
        );
    }

    #[test]
    fn promote_on_a_non_pause_step_skips_it() {
        let p = promote(&canary(2, false, Value::Null));
        assert_eq!(
            p.status,
            j(r#"{"status":{"currentStepIndex":3,"pauseConditions":null}}"#)
        );
        assert_eq!(
            p.unified,
            j(
                r#"{"spec":{"paused":false},"status":{"currentStepIndex":3,"pauseConditions":null}}"#
            )
        );
        // At the end the index stays (promote.go only increments below len).
        let end = promote(&canary(4, false, Value::Null));
        assert_eq!(end.status.expect("status")["status"]["currentStepIndex"], 4);
    }

    #[test]
    fn promote_of_a_user_paused_rollout_also_unpauses_the_spec() {
        let p = promote(&canary(1, true, json!([{"reason": "PausedByUser"}])));
        assert_eq!(p.spec, j(r#"{"spec":{"paused":false}}"#));
        assert_eq!(p.status, j(r#"{"status":{"pauseConditions":null}}"#));
    }

    #[test]
    fn promote_full_only_while_there_is_a_canary() {
        let p = promote_full(&canary(1, false, Value::Null));
        assert_eq!(p.status, j(r#"{"status":{"promoteFull":true}}"#));
        assert_eq!(p.unified, None);
        let mut done = canary(4, false, Value::Null);
        done["status"]["stableRS"] = json!("b");
        assert!(promote_full(&done).is_empty());
    }
}
