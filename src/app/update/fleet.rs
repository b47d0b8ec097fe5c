//! The fleet as it changes: asking the backend for its list of rollouts, following one that
//! appears, and telling the user when a rollout changes rank in the attention sort.

use super::poll::ROW_POLL_FACTOR;
use crate::app::effect::Effect;
use crate::app::model::{EventLevel, Model};
use crate::backend::ReadError;
use crate::domain::attention::Attention;
use crate::domain::format::age;

/// How many row polls apart the backend is asked again for its list of rollouts.
const LIST_EVERY_ROW_POLLS: u32 = 4;

/// The list is asked at start and then every few row polls, when the console can follow a
/// rollout it was not started with (`Model::template`) and does not read the fleet whole.
pub(super) fn list_due(model: &mut Model) -> Vec<Effect> {
    // A backend that reads its fleet whole lists it at every poll (`Msg::FleetFetched`).
    if model.template.is_none() || model.reads_fleet_whole {
        return vec![];
    }
    let every = model.settings.poll_interval * ROW_POLL_FACTOR * LIST_EVERY_ROW_POLLS;
    if model.list_asked.is_some_and(|t| age(t, model.now) < every) {
        return vec![];
    }
    model.list_asked = Some(model.now);
    vec![Effect::ListRollouts]
}

/// A rollout the backend lists and the console does not follow yet is followed from now on (its
/// row appears, and an event says so). One no longer listed keeps its row: its reads say why.
pub(super) fn add_listed(model: &mut Model, result: Result<Vec<String>, ReadError>) {
    let names = match result {
        Ok(names) => names,
        Err(e) => {
            let text = format!("could not list the rollouts: {e}");
            if model.fleet_events.front().is_none_or(|ev| ev.text != text) {
                model.push_fleet_event(EventLevel::Warn, text);
            }
            return;
        }
    };
    let Some(template) = model.template.clone() else {
        return;
    };
    for name in names {
        if model.rollouts.iter().any(|r| r.name == name) {
            continue;
        }
        model.rollouts.push(template.instantiate(&name));
        model.push_fleet_event(EventLevel::Info, format!("new rollout: {name}"));
    }
}

fn rank_level(rank: Attention) -> EventLevel {
    match rank {
        Attention::RollbackAdvised | Attention::Unreadable => EventLevel::Bad,
        Attention::WaitingForHuman => EventLevel::Warn,
        Attention::ReadyToPromote | Attention::Finished => EventLevel::Good,
        Attention::Progressing => EventLevel::Info,
    }
}

/// Compares each row's rank (as just derived) with the last one seen: a change is an event in
/// the fleet's log and the rollout's own. A rollout never read yet has no rank to change from.
pub(super) fn note_rank_changes(model: &mut Model) {
    if model.rollouts.len() < 2 {
        return;
    }
    let ranks = model.derived.fleet_ranks.clone();
    for (i, rank) in ranks {
        let r = &mut model.rollouts[i];
        if r.rollout.is_none() && r.rollout_error.is_none() {
            continue;
        }
        let old = r.rank.replace(rank);
        let step = r.rollout.as_ref().map(|r| r.step);
        let promoted = step > r.ranked_at_step;
        r.ranked_at_step = step;
        // Ready → progressing at the next step is a promotion: said as one on the list (its own
        // events already say the step moved).
        let promotion =
            promoted && old == Some(Attention::ReadyToPromote) && rank == Attention::Progressing;
        if promotion && let Some(ro) = &r.rollout {
            let text = format!(
                "{} promoted to step {}/{} ({}%)",
                r.name,
                ro.step + 1,
                ro.steps.len(),
                ro.canary_weight
            );
            model.push_fleet_event(EventLevel::Info, text);
        } else if let Some(old) = old.filter(|old| *old != rank) {
            let text = format!("{} now {} (was {})", r.name, rank.label(), old.label());
            model.push_event_to(i, rank_level(rank), text.clone());
            model.push_fleet_event(rank_level(rank), text);
        }
    }
}
