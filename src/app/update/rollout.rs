//! The rollout's answer: the rollout as read into the model, and its changes (steps, state,
//! messages, analysis runs) as events.

use chrono::{DateTime, Utc};

use crate::app::explain::{AnalysisVoice, analysis_words};
use crate::app::model::{EventLevel, Model, Overlay};
use crate::backend::ReadError;
use crate::domain::format::short_duration;
use crate::domain::{AnalysisPhase, AnalysisResult, Rollout};

pub(super) fn apply_rollout(
    model: &mut Model,
    i: usize,
    at: DateTime<Utc>,
    result: Result<Rollout, ReadError>,
) {
    match result {
        Ok(new) => {
            if model.rollouts[i].rollout_error.take().is_some() {
                model.push_event_to(i, EventLevel::Good, "backend reachable again");
            }
            model.rollouts[i].last_rollout_ok = Some(at);
            model.rollouts[i].awaiting_reread = false;
            note_rollout_changes(model, i, &new);
            if let Overlay::Confirm(p) = &mut model.overlay
                && p.index == i
                && p.moved_on.is_none()
                && p.state_unknown.is_some()
            {
                // Now that the state is known, the rollback should be decided on it.
                p.moved_on = Some(format!(
                    "the rollout can be read again (step {} at {}%, {}); press Esc and decide on it",
                    new.step + 1,
                    new.canary_weight,
                    new.state.label()
                ));
            }
            if let Overlay::Confirm(p) = &mut model.overlay
                && p.index == i
                && p.moved_on.is_none()
                && (new.step != p.seen_step || new.state != p.seen_state)
            {
                // Both steps 1-based, as the header shows them.
                p.moved_on = Some(format!(
                    "the rollout moved on while this prompt was open: you saw step {} ({}%, {}), \
                     now step {} ({}%, {}); press Esc",
                    p.seen_step + 1,
                    p.from_weight,
                    p.seen_state.label(),
                    new.step + 1,
                    new.canary_weight,
                    new.state.label()
                ));
            }
            model.rollouts[i].rollout = Some(new);
        }
        Err(e) => {
            if model.rollouts[i].rollout_error.as_ref() != Some(&e) {
                model.push_event_to(i, EventLevel::Bad, format!("backend: {e}"));
            }
            model.rollouts[i].rollout_error = Some(e);
        }
    }
}

/// Turn differences between the old and new rollout into events.
fn note_rollout_changes(model: &mut Model, i: usize, new: &Rollout) {
    let Some(old) = model.rollouts[i].rollout.clone() else {
        model.push_event_to(
            i,
            EventLevel::Info,
            format!(
                "watching {}: {} → {}, step {}/{} at {}%",
                new.name,
                new.stable_version,
                new.canary_version,
                new.step + 1,
                new.steps.len(),
                new.canary_weight
            ),
        );
        if let Some(m) = &new.message {
            model.push_event_to(i, EventLevel::Info, format!("backend: {m}"));
        }
        note_analysis(model, i, &[], &new.analysis);
        return;
    };
    note_analysis(model, i, &old.analysis, &new.analysis);
    if old.step != new.step {
        let took = old
            .step_duration(old.step)
            .map(|d| format!(" after {}", short_duration(d)))
            .unwrap_or_default();
        model.push_event_to(
            i,
            EventLevel::Good,
            format!(
                "step {} → {}: canary at {}%{took}",
                old.step + 1,
                new.step + 1,
                new.canary_weight
            ),
        );
    }
    if old.state != new.state {
        let level = match new.state {
            crate::domain::RolloutState::Completed => EventLevel::Good,
            crate::domain::RolloutState::RolledBack | crate::domain::RolloutState::Failed => {
                EventLevel::Bad
            }
            _ => EventLevel::Warn,
        };
        model.push_event_to(
            i,
            level,
            format!("state {} → {}", old.state.label(), new.state.label()),
        );
    }
    if old.message != new.message
        && let Some(m) = &new.message
    {
        model.push_event_to(i, EventLevel::Info, format!("backend: {m}"));
    }
}

/// An event for each analysis metric whose phase changed (or that is new and already decided),
/// with its value and message: "why did it stop", answered in the events pane.
fn note_analysis(model: &mut Model, i: usize, old: &[AnalysisResult], new: &[AnalysisResult]) {
    for result in new.iter().rev() {
        let before = old
            .iter()
            .find(|o| o.run == result.run && o.metric == result.metric)
            .map(|o| o.phase);
        if before == Some(result.phase)
            || (before.is_none() && matches!(result.phase, AnalysisPhase::Pending))
        {
            continue;
        }
        let level = match result.phase {
            AnalysisPhase::Successful => EventLevel::Good,
            p if p.is_bad() => EventLevel::Bad,
            _ => EventLevel::Info,
        };
        model.push_event_to(i, level, analysis_words(result, AnalysisVoice::Event));
    }
}
