//! Argo AnalysisRuns to the console's analysis results: which runs belong to the rollout and its
//! current canary, newest first, and each metric's latest measurement. Pure.

use serde_json::Value;

use crate::backend::argo::fields::{POD_TEMPLATE_HASH, str_at, time_at};
use crate::domain::{AnalysisPhase, AnalysisResult};

/// Whether `obj` (an AnalysisRun, a ReplicaSet) is owned by the Rollout `ro`: an owner reference
/// of kind Rollout with its name, and its uid when both sides have one (the plugin's
/// `info/analysisrun_info.go` matches by uid; a recreated rollout of the same name is not the owner).
pub fn owned_by(obj: &Value, ro: &Value) -> bool {
    let name = str_at(ro, "/metadata/name");
    let uid = str_at(ro, "/metadata/uid");
    obj.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .is_some_and(|refs| {
            refs.iter().any(|r| {
                str_at(r, "/kind") == Some("Rollout")
                    && name.is_some()
                    && str_at(r, "/name") == name
                    && match (str_at(r, "/uid"), uid) {
                        (Some(a), Some(b)) => a == b,
                        _ => true,
                    }
            })
        })
}

fn analysis_phase(s: Option<&str>) -> AnalysisPhase {
    match s {
        Some("Running") => AnalysisPhase::Running,
        Some("Successful") => AnalysisPhase::Successful,
        Some("Failed") => AnalysisPhase::Failed,
        Some("Error") => AnalysisPhase::Error,
        Some("Inconclusive") => AnalysisPhase::Inconclusive,
        // "Pending", unset, or a phase newer than this console.
        _ => AnalysisPhase::Pending,
    }
}

/// The metric results of the AnalysisRuns of the current canary (label
/// `rollouts-pod-template-hash` == `canary_hash`), newest run first. Runs of earlier canaries are
/// left out: they judged another version, and the rollout's message already says why it stopped.
/// No canary hash, or no run for it: nothing. Runs must already be filtered by owner (`owned_by`).
/// A run without `status.metricResults` yet (just created) shows nothing until it measures.
pub fn analysis_results(runs: &[Value], canary_hash: &str) -> Vec<AnalysisResult> {
    if canary_hash.is_empty() {
        return Vec::new();
    }
    let mut current: Vec<&Value> = runs
        .iter()
        .filter(|run| {
            run.pointer("/metadata/labels")
                .and_then(|l| l.get(POD_TEMPLATE_HASH))
                .and_then(Value::as_str)
                == Some(canary_hash)
        })
        .collect();
    // Newest first; the name breaks ties (as the plugin's sort does).
    current.sort_by(|a, b| {
        let key = |r: &Value| {
            (
                time_at(r, "/metadata/creationTimestamp"),
                str_at(r, "/metadata/name").unwrap_or_default().to_string(),
            )
        };
        key(b).cmp(&key(a))
    });
    let mut results = Vec::new();
    for run in current {
        let run_name = str_at(run, "/metadata/name").unwrap_or_default();
        let run_message = str_at(run, "/status/message").filter(|m| !m.is_empty());
        let metrics = run
            .pointer("/status/metricResults")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        for metric in metrics {
            // Argo appends measurements (and trims the oldest): the last one is the latest.
            let latest = metric
                .get("measurements")
                .and_then(Value::as_array)
                .and_then(|m| m.last());
            let latest_str = |p: &str| latest.and_then(|m| str_at(m, p)).filter(|s| !s.is_empty());
            let message = str_at(metric, "/message")
                .filter(|m| !m.is_empty())
                .or_else(|| latest_str("/message"))
                .or(run_message);
            results.push(AnalysisResult {
                run: run_name.to_string(),
                metric: str_at(metric, "/name").unwrap_or_default().to_string(),
                phase: analysis_phase(str_at(metric, "/phase")),
                value: latest_str("/value").map(str::to_string),
                message: message.map(str::to_string),
                at: latest
                    .and_then(|m| time_at(m, "/finishedAt").or_else(|| time_at(m, "/startedAt"))),
            });
        }
    }
    results
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::argo::mapping::tests::fixture;
    use chrono::{TimeZone, Utc};
    use serde_json::json;

    #[test]
    fn inconclusive_analysis_takes_the_latest_measurement() {
        let ro = fixture("experiment-analysis_rollout-experiment-analysis");
        let run = fixture("experiment-analysis_canary-analysis");
        assert!(owned_by(&run, &ro));
        let got = analysis_results(&[run], "6f646bf7b7");
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].phase, AnalysisPhase::Inconclusive);
        // Job measurements have no value; the last one finished at 16:13:40.
        assert_eq!(got[0].value, None);
        assert_eq!(got[0].message, None);
        assert_eq!(
            got[0].at,
            Utc.with_ymd_and_hms(2019, 10, 30, 16, 13, 40).single()
        );
    }

    #[test]
    fn only_the_current_canary_s_runs_newest_first() {
        let old = fixture("rollout-aborted_analysisrun");
        let mut newer = old.clone();
        newer["metadata"]["name"] = json!("step-run");
        newer["metadata"]["creationTimestamp"] = json!("2020-09-22T09:20:00Z");
        newer["status"] = json!({"metricResults": [
            {"name": "latency", "phase": "Running", "measurements": [
                {"phase": "Successful", "startedAt": "2020-09-22T09:20:00Z",
                 "finishedAt": "2020-09-22T09:20:01Z", "value": "[0.93]"},
                {"phase": "Running", "startedAt": "2020-09-22T09:20:05Z",
                 "message": "querying"}
            ]},
            {"name": "errors", "phase": "SomethingNew"}
        ]});
        let mut other_hash = old.clone();
        other_hash["metadata"]["labels"][POD_TEMPLATE_HASH] = json!("7d84d44bb8");
        other_hash["metadata"]["creationTimestamp"] = json!("2020-09-22T10:00:00Z");
        let got = analysis_results(&[old, other_hash, newer], "db976bc44");
        let summary: Vec<(&str, &str, AnalysisPhase)> = got
            .iter()
            .map(|r| (r.run.as_str(), r.metric.as_str(), r.phase))
            .collect();
        assert_eq!(
            summary,
            [
                ("step-run", "latency", AnalysisPhase::Running),
                ("step-run", "errors", AnalysisPhase::Pending),
                (
                    "rollout-background-analysis-db976bc44-2",
                    "web",
                    AnalysisPhase::Failed
                ),
            ]
        );
        // A running measurement: its start time, no value yet, its own message.
        assert_eq!(got[0].value, None);
        assert_eq!(got[0].message.as_deref(), Some("querying"));
        assert_eq!(
            got[0].at,
            Utc.with_ymd_and_hms(2020, 9, 22, 9, 20, 5).single()
        );
        assert_eq!((got[1].value.as_deref(), got[1].at), (None, None));
        assert!(analysis_results(&[], "db976bc44").is_empty());
        assert!(analysis_results(&[fixture("rollout-aborted_analysisrun")], "").is_empty());
    }

    #[test]
    fn ownership_is_by_kind_name_and_uid() {
        let ro = fixture("rollout-aborted_rollout");
        let mut run = fixture("rollout-aborted_analysisrun");
        assert!(owned_by(&run, &ro));
        run["metadata"]["ownerReferences"][0]["uid"] = json!("another-incarnation");
        assert!(!owned_by(&run, &ro), "a recreated rollout of the same name");
        run["metadata"]["ownerReferences"][0]["uid"] = Value::Null;
        assert!(
            owned_by(&run, &ro),
            "no uid on the reference: the name decides"
        );
        run["metadata"]["ownerReferences"][0]["name"] = json!("other");
        assert!(!owned_by(&run, &ro));
        run["metadata"]["ownerReferences"][0]["name"] = json!("rollout-background-analysis");
        run["metadata"]["ownerReferences"][0]["kind"] = json!("Experiment");
        assert!(!owned_by(&run, &ro));
        run["metadata"]
            .as_object_mut()
            .expect("metadata")
            .remove("ownerReferences");
        assert!(!owned_by(&run, &ro), "no owner: not ours");
    }
}
