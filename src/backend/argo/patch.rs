//! The exact JSON merge patches `kubectl argo rollouts` sends, as pure functions, and the order
//! they go in. Each one is checked against argoproj/argo-rollouts, `pkg/kubectl-argo-rollouts/cmd/`:
//! `pause/pause.go`, `resume/resume.go`, `promote/promote.go`, `abort/abort.go`, `retry/retry.go`,
//! and `undo/undo.go` (the one JSON patch, RFC 6902).
//!
//! Note `pause` and `resume` change `spec.paused`: they go to the main resource only. The status
//! subresource ignores spec changes, so sending them there would "succeed" and do nothing.

use serde_json::{Value, json};

use super::fields::{POD_TEMPLATE_HASH, current_step_index};

/// The content type of every patch here but undo's (`types.MergePatchType` in the plugin).
pub const MERGE_PATCH: &str = "application/merge-patch+json";

/// Undo's content type (`types.JSONPatchType` in undo.go's `getRolloutPatch`).
pub const JSON_PATCH: &str = "application/json-patch+json";

/// The revision Argo writes on the Rollout and on each of its ReplicaSets.
pub const REVISION: &str = "rollout.argoproj.io/revision";

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

/// What undo sends, and where its template came from.
#[derive(Debug, Clone, PartialEq)]
pub struct UndoPlan {
    pub revision: i64,
    pub replicaset: String,
    /// The RFC 6902 body for the main resource.
    pub body: Value,
}

/// undo.go `RunUndoRollout` (`to_revision` 0: the previous revision): among the ReplicaSets the
/// rollout controls, the one with `to_revision`, or the second-highest revision; its pod template
/// without the `rollouts-pod-template-hash` label, as `[{"op":"replace","path":"/spec/template",...}]`.
/// Refused like the plugin when the current template already matches that revision.
pub fn undo(ro: &Value, replicasets: &[Value], to_revision: i64) -> Result<UndoPlan, String> {
    let rs = revision_replicaset(ro, replicasets, to_revision)?;
    let revision = revision_of(rs).unwrap_or_default();
    let mut template = rs
        .pointer("/spec/template")
        .cloned()
        .ok_or("the ReplicaSet of that revision has no pod template")?;
    let current = ro.pointer("/spec/template").unwrap_or(&Value::Null);
    // equalIgnoreHash: semantically, not byte for byte (the ReplicaSet's copy has defaults filled in).
    if derivative(&without_hash(current), &without_hash(&template)) {
        return Err(format!(
            "the rollout's template already matches revision {revision}; there is nothing to undo"
        ));
    }
    template = without_hash(&template);
    Ok(UndoPlan {
        revision,
        replicaset: rs
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        body: json!([{"op": "replace", "path": "/spec/template", "value": template}]),
    })
}

/// undo.go `revision`: a missing annotation is revision 0; an unreadable one is skipped.
fn revision_of(rs: &Value) -> Option<i64> {
    match rs
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(REVISION))
    {
        None => Some(0),
        Some(v) => v.as_str().and_then(|s| s.parse().ok()),
    }
}

/// `metav1.IsControlledBy` (undo.go `listReplicaSets`): the controller reference has the rollout's uid.
fn controlled_by(rs: &Value, ro: &Value) -> bool {
    rs.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .and_then(|refs| {
            refs.iter()
                .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
        })
        .is_some_and(|r| {
            r.get("uid").and_then(Value::as_str)
                == ro.pointer("/metadata/uid").and_then(Value::as_str)
        })
}

/// undo.go `rolloutRevision`, the same walk: ties and all.
fn revision_replicaset<'a>(
    ro: &Value,
    replicasets: &'a [Value],
    to_revision: i64,
) -> Result<&'a Value, String> {
    let mut latest: (i64, Option<&Value>) = (-1, None);
    let mut previous: (i64, Option<&Value>) = (-1, None);
    for rs in replicasets.iter().filter(|rs| controlled_by(rs, ro)) {
        let Some(v) = revision_of(rs) else { continue };
        if to_revision == 0 {
            if latest.0 < v {
                previous = latest;
                latest = (v, Some(rs));
            } else if previous.0 < v {
                previous = (v, Some(rs));
            }
        } else if to_revision == v {
            return Ok(rs);
        }
    }
    if to_revision > 0 {
        return Err(format!("revision {to_revision} is not in the history"));
    }
    previous
        .1
        .ok_or_else(|| "no previous revision to undo to".to_string())
}

fn without_hash(template: &Value) -> Value {
    let mut t = template.clone();
    if let Some(labels) = t
        .pointer_mut("/metadata/labels")
        .and_then(Value::as_object_mut)
    {
        labels.remove(POD_TEMPLATE_HASH);
        // Go drops the emptied map (`labels,omitempty`).
        if labels.is_empty()
            && let Some(meta) = t.get_mut("metadata").and_then(Value::as_object_mut)
        {
            meta.remove("labels");
        }
    }
    t
}

/// apimachinery's `Semantic.DeepDerivative(a, b)` on JSON: whatever `a` leaves unset (null, "",
/// [], {}) is not compared; maps may not have more keys in `a`; lists must match in length.
fn derivative(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, _) => true,
        (Value::String(s), _) if s.is_empty() => true,
        (Value::Array(x), _) if x.is_empty() => true,
        (Value::Object(x), _) if x.is_empty() => true,
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| derivative(p, q))
        }
        (Value::Object(x), Value::Object(y)) => x
            .iter()
            .all(|(k, v)| derivative(v, y.get(k).unwrap_or(&Value::Null))),
        // Go zero values: an absent field in `b` is 0 / false.
        (Value::Bool(false), Value::Null) => true,
        (Value::Number(n), Value::Null) => n.as_f64() == Some(0.0),
        _ => a == b,
    }
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

    fn fixture(name: &str) -> Value {
        let path = format!(
            "{}/tests/fixtures/argo/{name}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json")
    }

    /// Revisions 31 (canary, current), 30 (stable) and 29 (old); the rollout is at 31.
    fn canary_rs() -> Vec<Value> {
        ["canary_canary-rs", "canary_stable-rs", "canary_old-rs"]
            .into_iter()
            .map(fixture)
            .collect()
    }

    #[test]
    fn undo_puts_back_the_previous_revision_s_template_without_the_hash_label() {
        let ro = fixture("canary_canary-rollout");
        let plan = undo(&ro, &canary_rs(), 0).expect("undo");
        assert_eq!(
            (plan.revision, plan.replicaset.as_str()),
            (30, "canary-demo-877894d5b")
        );
        let mut template = fixture("canary_stable-rs")["spec"]["template"].clone();
        template["metadata"]["labels"] = json!({"app": "canary-demo"});
        assert_eq!(
            plan.body,
            json!([{"op": "replace", "path": "/spec/template", "value": template}])
        );
        assert_eq!(
            plan.body[0]["value"]["spec"]["containers"][0]["image"],
            "argoproj/rollouts-demo:green"
        );
        // The plugin's Go struct keeps `creationTimestamp: null`; so does the raw copy.
        assert_eq!(
            plan.body[0]["value"]["metadata"]["creationTimestamp"],
            Value::Null
        );
        assert!(
            plan.body[0]["value"]["metadata"]
                .as_object()
                .expect("metadata")
                .contains_key("creationTimestamp")
        );
    }

    #[test]
    fn undo_to_a_named_revision_or_refuses() {
        let ro = fixture("canary_canary-rollout");
        let plan = undo(&ro, &canary_rs(), 29).expect("undo to 29");
        assert_eq!(plan.replicaset, "canary-demo-859c99b45c");
        assert_eq!(
            plan.body[0]["value"]["spec"]["containers"][0]["image"],
            "argoproj/rollouts-demo:asdf"
        );
        assert_eq!(
            undo(&ro, &canary_rs(), 7).unwrap_err(),
            "revision 7 is not in the history"
        );
        let only_current = [fixture("canary_canary-rs")];
        assert_eq!(
            undo(&ro, &only_current, 0).unwrap_err(),
            "no previous revision to undo to"
        );
        assert_eq!(
            undo(&ro, &[], 0).unwrap_err(),
            "no previous revision to undo to"
        );
    }

    #[test]
    fn undo_counts_only_replicasets_the_rollout_controls() {
        let ro = fixture("canary_canary-rollout");
        let mut rs = canary_rs();
        // The stable one now belongs to another rollout's incarnation: 29 is the previous.
        rs[1]["metadata"]["ownerReferences"][0]["uid"] = json!("someone-else");
        assert_eq!(undo(&ro, &rs, 0).expect("undo").revision, 29);
        rs[2]["metadata"]["ownerReferences"][0]["controller"] = json!(false);
        assert_eq!(
            undo(&ro, &rs, 0).unwrap_err(),
            "no previous revision to undo to"
        );
    }

    #[test]
    fn undo_revisions_as_the_plugin_reads_them() {
        let ro = fixture("canary_canary-rollout");
        let mut rs = canary_rs();
        // Unreadable: skipped. The stable one drops out, the old one (29) is next.
        rs[1]["metadata"]["annotations"][REVISION] = json!("thirty");
        assert_eq!(undo(&ro, &rs, 0).expect("undo").revision, 29);
        // Missing: revision 0, still a candidate.
        rs[2]["metadata"]["annotations"]
            .as_object_mut()
            .expect("annotations")
            .remove(REVISION);
        assert_eq!(
            undo(&ro, &rs, 0).expect("undo").replicaset,
            "canary-demo-859c99b45c"
        );
    }

    #[test]
    fn undo_refuses_when_the_template_already_matches() {
        // The rollout's own (sparser) template with the stable image: the same as revision 30's
        // once the server's defaults on the ReplicaSet copy are ignored.
        let mut ro = fixture("canary_canary-rollout");
        ro["spec"]["template"]["spec"]["containers"][0]["image"] =
            json!("argoproj/rollouts-demo:green");
        let err = undo(&ro, &canary_rs(), 0).unwrap_err();
        assert!(err.contains("already matches revision 30"), "{err}");
    }

    #[test]
    fn derivative_ignores_what_the_first_leaves_unset() {
        let sparse = json!({"a": "x", "b": null, "c": "", "d": [], "e": {}, "n": 0, "f": false});
        let full = json!({"a": "x", "b": 1, "c": "y", "d": [1], "e": {"k": 1}, "z": 2});
        assert!(derivative(&sparse, &full));
        assert!(!derivative(&full, &sparse));
        assert!(!derivative(&json!({"a": "y"}), &full));
        assert!(!derivative(&json!({"d": [1, 2]}), &full), "list lengths");
        assert!(!derivative(&json!({"n": 1}), &full), "a set number");
        assert!(derivative(
            &json!({"l": {"app": "x"}}),
            &json!({"l": {"app": "x", "h": "1"}})
        ));
    }

    #[test]
    fn without_hash_drops_an_emptied_label_map() {
        let t = json!({"metadata": {"labels": {POD_TEMPLATE_HASH: "abc"}}, "spec": {}});
        assert_eq!(without_hash(&t), json!({"metadata": {}, "spec": {}}));
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
