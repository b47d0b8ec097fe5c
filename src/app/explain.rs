//! "Why is it where it is", in words: one line derived from the rollout and the verdicts.
//! Two voices stay apart: what the controller did ("paused by alice", "rolled back: …") and
//! what the console advises ("console advises hold: …"); the controller may do otherwise.

use super::model::Model;
pub use super::model::Tone;
use crate::domain::format::{age, short_duration};
use crate::domain::slo::Alert;
use crate::domain::{AnalysisResult, RolloutState, Severity, Verdict};

/// Where an analysis result is told: the "why" line puts the value in parentheses, an event
/// leaves it bare and names the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnalysisVoice {
    /// `analysis web FAILED (value [0.91]): message`
    Why,
    /// `analysis web FAILED value [0.91]: message (run)`
    Event,
}

/// One Argo analysis result in words: its metric, phase, value and message.
pub fn analysis_words(a: &AnalysisResult, voice: AnalysisVoice) -> String {
    let value = a.value.as_deref().map(|v| match voice {
        AnalysisVoice::Why => format!(" (value {v})"),
        AnalysisVoice::Event => format!(" value {v}"),
    });
    let message = a
        .message
        .as_deref()
        .map(|m| format!(": {m}"))
        .unwrap_or_default();
    let run = match voice {
        AnalysisVoice::Why => String::new(),
        AnalysisVoice::Event => format!(" ({})", a.run),
    };
    format!(
        "analysis {} {}{}{message}{run}",
        a.metric,
        a.phase.label(),
        value.unwrap_or_default()
    )
}

/// The first failed, errored or inconclusive analysis metric, in words.
pub fn bad_analysis(r: &crate::domain::Rollout) -> Option<String> {
    let a = r.analysis.iter().find(|a| a.phase.is_bad())?;
    Some(analysis_words(a, AnalysisVoice::Why))
}

/// A burn-rate alert as the console prints it: `PAGE`, `TICKET`.
pub fn alert_label(alert: Alert) -> &'static str {
    match alert {
        Alert::Page => "PAGE",
        Alert::Ticket => "TICKET",
    }
}

/// The "why" line without its lead when the header beside it already says as much ("rolled
/// back: " under `ROLLED BACK`): what a narrow screen shows rather than cutting the reason's end.
pub fn why_short(model: &Model, why: &str) -> Option<String> {
    let lead = match model.current().rollout.as_ref()?.state {
        RolloutState::RolledBack => "rolled back: ",
        RolloutState::Failed => "failed: ",
        _ => return None,
    };
    why.strip_prefix(lead).map(str::to_string)
}

/// Whether the undo key is there to press: the backend has it, this user may, not watch mode.
fn undo_offered(model: &Model) -> bool {
    let undo = crate::domain::action::ActionKind::Undo;
    model.actions.contains(&undo)
        && !model.settings.read_only
        && model
            .current()
            .permissions
            .as_ref()
            .is_none_or(|p| p.denied(undo).is_none())
}

pub fn why(model: &Model) -> (Tone, String) {
    let Some(r) = &model.current().rollout else {
        return match &model.current().rollout_error {
            Some(e) => (Tone::Bad, format!("cannot read the rollout: {e}")),
            None => (Tone::Neutral, "waiting for the backend…".into()),
        };
    };
    let now = model.now;
    let message = r.message.clone().unwrap_or_default();
    let analysis = bad_analysis(r);
    match r.state {
        // An inconclusive analysis pauses an Argo rollout: that is the reason to show.
        RolloutState::Paused if r.paused_by.is_none() && analysis.is_some() => {
            let text = analysis.unwrap_or_default();
            return (Tone::Warn, format!("paused by the {text}"));
        }
        RolloutState::Paused => {
            let who = r.paused_by.as_deref().unwrap_or("someone");
            let ago = r
                .paused_at
                .map(|t| format!(" {} ago", short_duration(age(t, now))))
                .unwrap_or_default();
            return (
                Tone::Warn,
                format!("paused by {who}{ago}; the hold clock is stopped (space resumes)"),
            );
        }
        RolloutState::RolledBack => {
            let text = if message.starts_with("rolled back") {
                message
            } else {
                format!("rolled back: {message}")
            };
            return (Tone::Bad, text);
        }
        RolloutState::Failed => return (Tone::Bad, format!("failed: {message}")),
        RolloutState::Progressing if analysis.is_some() => {
            return (Tone::Bad, analysis.unwrap_or_default());
        }
        RolloutState::Completed | RolloutState::Progressing => {}
    }
    let evals = model.gate_evaluations();
    let failing: Vec<_> = evals
        .iter()
        .filter(|(_, e)| e.verdict == Verdict::Fail)
        .collect();
    let no_data: Vec<_> = evals
        .iter()
        .filter(|(_, e)| e.verdict == Verdict::NoData)
        .collect();
    let pending: Vec<_> = evals
        .iter()
        .filter(|(_, e)| e.verdict == Verdict::Pending)
        .collect();
    let hold_left = r.hold_remaining(now);
    // Whose word the FAIL is: the sequential judge's ("p95 latency: canary is slower …") or the
    // gate's ("p95 latency gate FAIL (…)").
    let detail = |name: &str, e: &crate::domain::GateEvaluation| {
        let judged = model
            .current()
            .panels
            .iter()
            .find(|p| p.def.name == name)
            .filter(|p| p.sequential_verdict() == Some(Verdict::Fail))
            .and_then(|p| {
                let settings = p.sequential.as_ref()?;
                Some(crate::domain::sequential::short_headline(
                    p.sequential_shown()?,
                    settings,
                ))
            });
        judged.unwrap_or_else(|| format!("gate FAIL ({})", e.summary()))
    };
    let worst = failing
        .iter()
        .find(|(_, e)| e.severity == Severity::Rollback)
        .or(failing.first());
    if r.state == RolloutState::Completed {
        // The controller promoted it all the way; a FAIL decided on the way (a slow burn the
        // controller's analysis missed) is what the person at the screen must read first.
        return match worst {
            Some((name, e)) => {
                let undo = if undo_offered(model) {
                    " (u undoes it)"
                } else {
                    ""
                };
                (
                    Tone::Bad,
                    format!("completed while {name} FAILs{undo}: {}", detail(name, e)),
                )
            }
            None => (
                Tone::Good,
                format!("completed: {} serves 100% of traffic", r.canary_version),
            ),
        };
    }
    if let Some((name, e)) = worst {
        // Short of a rollback, the console's advice, not the controller's decision: it may
        // still promote.
        let advice = if e.severity == Severity::Rollback {
            "roll back"
        } else {
            "hold"
        };
        return (
            Tone::Bad,
            format!("console advises {advice}: {name} {}", detail(name, e)),
        );
    }
    if let Some((name, e)) = no_data.first() {
        return (
            Tone::Warn,
            format!("not judged: {name} has NO DATA ({})", e.summary()),
        );
    }
    let collecting: Vec<_> = evals
        .iter()
        .filter(|(_, e)| e.verdict == Verdict::Collecting)
        .collect();
    if let Some((name, e)) = pending.first() {
        return (
            Tone::Warn,
            format!(
                "watching: {name} {}",
                e.reasons.last().map_or("", String::as_str)
            ),
        );
    }
    if !collecting.is_empty() {
        let names: Vec<&str> = collecting.iter().map(|(n, _)| n.as_str()).collect();
        let lead = match hold_left {
            Some(left) if !left.is_zero() => format!(
                "holding at {}% for {} more; judge collecting",
                r.canary_weight,
                short_duration(left)
            ),
            _ => "hold done; judge still collecting".to_string(),
        };
        return (Tone::Neutral, format!("{lead} ({})", names.join(", ")));
    }
    match hold_left {
        Some(left) if !left.is_zero() => (
            Tone::Good,
            format!(
                "holding at {}% for {} more; all gates PASS",
                r.canary_weight,
                short_duration(left)
            ),
        ),
        _ => match model.readiness() {
            Some(ready) if ready.ready => (
                Tone::Good,
                format!(
                    "READY TO PROMOTE: hold at {}% done and every gate passed throughout it",
                    r.canary_weight
                ),
            ),
            Some(ready) => (
                Tone::Warn,
                format!(
                    "hold done, not ready: {}",
                    ready.reasons.first().map_or("", String::as_str)
                ),
            ),
            None => (Tone::Neutral, "waiting for the backend…".into()),
        },
    }
}
