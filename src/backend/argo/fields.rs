//! Reading fields out of Argo's untyped JSON: the pointer helpers and the few names both the
//! mapping (objects to our `Rollout`) and the patches (actions to JSON) need. Pure, no I/O.

use chrono::{DateTime, Utc};
use serde_json::Value;

/// The label Argo puts on every ReplicaSet it manages; `status.stableRS` and
/// `status.currentPodHash` name ReplicaSets by its value.
pub const POD_TEMPLATE_HASH: &str = "rollouts-pod-template-hash";

pub fn str_at<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str)
}

pub fn time_at(v: &Value, pointer: &str) -> Option<DateTime<Utc>> {
    str_at(v, pointer)
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

pub fn i64_at(v: &Value, pointer: &str) -> Option<i64> {
    v.pointer(pointer).and_then(Value::as_i64)
}

/// `status.currentStepIndex`, 0 when unset (as `GetCurrentCanaryStep` does).
pub fn current_step_index(ro: &Value) -> usize {
    i64_at(ro, "/status/currentStepIndex")
        .and_then(|i| usize::try_from(i).ok())
        .unwrap_or(0)
}
