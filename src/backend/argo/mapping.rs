//! Argo Rollouts objects (as the Kubernetes API returns them, untyped JSON) to our `Rollout`.
//! Pure: no I/O, and `now` is an argument. The phase rules follow the kubectl plugin's
//! `utils/rollout/rolloututil.go` (`GetRolloutPhase` / `CalculateRolloutPhase`).

use chrono::{DateTime, Utc};
use serde_json::Value;
use std::time::Duration;

use super::fields::{POD_TEMPLATE_HASH, current_step_index, i64_at, str_at, time_at};
use crate::domain::format::age;
use crate::domain::{AnalysisPhase, AnalysisResult, Rollout, RolloutState, Step};

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

fn clamp_weight(w: i64) -> u8 {
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

/// Argo's phases (`v1alpha1.RolloutPhase`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Healthy,
    Progressing,
    Paused,
    Degraded,
}

fn parse_phase(s: &str) -> Option<Phase> {
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

fn pause_conditions(ro: &Value) -> &[Value] {
    ro.pointer("/status/pauseConditions")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn spec_paused(ro: &Value) -> bool {
    ro.pointer("/spec/paused")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

fn argo_steps(ro: &Value) -> &[Value] {
    ro.pointer("/spec/strategy/canary/steps")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// The client-side phase of rollouts from controllers before `status.phase` existed
/// (`CalculateRolloutPhase`, minus the replica-count checks that only say "still progressing").
fn derived_phase(ro: &Value) -> (Phase, String) {
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

/// The version a ReplicaSet runs: its first container's image tag (or short digest).
fn version_of(replicasets: &[Value], hash: &str) -> Option<String> {
    let rs = replicasets.iter().find(|rs| {
        rs.pointer("/metadata/labels")
            .and_then(|l| l.get(POD_TEMPLATE_HASH))
            .and_then(Value::as_str)
            == Some(hash)
    })?;
    let images: Vec<String> = rs
        .pointer("/spec/template/spec/containers")?
        .as_array()?
        .iter()
        .filter_map(|c| c.get("image").and_then(Value::as_str))
        .map(image_version)
        .collect();
    (!images.is_empty()).then(|| images.join(","))
}

fn image_version(image: &str) -> String {
    if let Some((_, digest)) = image.split_once('@') {
        return digest.chars().take(19).collect();
    }
    let name = image.rsplit('/').next().unwrap_or(image);
    match name.rsplit_once(':') {
        Some((_, tag)) => tag.to_string(),
        None => "latest".to_string(),
    }
}

fn describe_version(replicasets: &[Value], hash: &str) -> String {
    if hash.is_empty() {
        return "unknown".into();
    }
    // Without the ReplicaSet (deleted, or no RBAC to list it) the hash still tells versions apart.
    version_of(replicasets, hash).unwrap_or_else(|| format!("rs {hash}"))
}

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

/// What `undo` would put back (the same choice as `patch::undo`), for its prompt:
/// "revision 30 (green)"; `None` when there is nothing to undo to.
fn undo_target(ro: &Value, replicasets: &[Value]) -> Option<String> {
    let plan = super::patch::undo(ro, replicasets, 0).ok()?;
    let version = replicasets
        .iter()
        .find(|rs| str_at(rs, "/metadata/name") == Some(plan.replicaset.as_str()))
        .and_then(|rs| {
            rs.pointer("/metadata/labels")?
                .get(POD_TEMPLATE_HASH)?
                .as_str()
        })
        .and_then(|hash| version_of(replicasets, hash));
    Some(match version {
        Some(v) => format!("revision {} ({v})", plan.revision),
        None => format!("revision {}", plan.revision),
    })
}

/// Why it was aborted: the `RolloutAborted` condition, else the failed background analysis.
fn aborted_message(ro: &Value) -> Option<String> {
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
    use chrono::TimeZone;
    use serde_json::json;

    fn fixture(name: &str) -> Value {
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

    #[test]
    fn images_name_the_versions() {
        assert_eq!(image_version("argoproj/rollouts-demo:green"), "green");
        assert_eq!(image_version("registry:5000/app"), "latest");
        assert_eq!(
            image_version("app@sha256:0123456789abcdef0123"),
            "sha256:0123456789ab"
        );
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
