//! The pure state transition: `update(&mut Model, Msg) -> Vec<Effect>`, the single entry point.
//! No I/O, no clock. This file dispatches each message; the work is by concern in `poll`
//! (polling and generations), `rollout` (the rollout's answer and its events), `metrics` (the
//! metrics' answer: panels, judges, SLOs) and `actions` (prompt, confirm, result, receipts).

mod actions;
mod fleet;
mod metrics;
mod poll;
mod rollout;

use super::derived::refresh_derived;
use super::effect::Effect;
use super::model::{EventLevel, Model, Overlay, PromptField};
use super::msg::{Msg, ScrollTo};
pub(crate) use actions::receipt_verdicts;
use actions::{confirm, finish_action, open_prompt, resolve_unknown};
use metrics::apply_metrics;
pub use poll::{FINISHED_POLL_FACTOR, ROW_POLL_FACTOR};
use poll::{fetch_metrics, fetch_rollout, polls_due};
use rollout::apply_rollout;

/// An answer from a source (or the view's own measure): the fleet's rows take it in at the next
/// tick, not at once.
fn is_background_answer(msg: &Msg) -> bool {
    matches!(
        msg,
        Msg::RolloutFetched { .. }
            | Msg::FleetFetched { .. }
            | Msg::MetricsFetched { .. }
            | Msg::RolloutChanged(_)
            | Msg::PermissionsFetched { .. }
            | Msg::OverlayMeasured(_)
    )
}

/// Whether the screen can wait for the next tick to show what `msg` changed: on the fleet list
/// an answer changes no row until the tick works the rows out again, so drawing for it (about
/// two frames a second on a fleet of 50 besides the tick's) drew the same list again.
pub fn draw_waits_for_tick(model: &Model, msg: &Msg) -> bool {
    model.fleet.shown && model.rollouts.len() > 1 && is_background_answer(msg)
}

pub fn update(model: &mut Model, msg: Msg) -> Vec<Effect> {
    // A fleet's rows are worked out again at every tick (each second) and on what the user does,
    // not on each of the many answers in between (50 rollouts send dozens a second): a row is
    // at most a second behind its answers, and the console's CPU does not grow with them.
    let rows_due = !is_background_answer(&msg);
    let effects = apply(model, msg);
    refresh_derived(model, rows_due);
    if rows_due {
        fleet::note_rank_changes(model);
    }
    effects
}

fn apply(model: &mut Model, msg: Msg) -> Vec<Effect> {
    match msg {
        Msg::Tick(now) => {
            model.now = now;
            let mut effects = polls_due(model);
            for r in &mut model.rollouts {
                if !r.polls.watch_asked {
                    r.polls.watch_asked = true;
                    effects.push(Effect::WatchRollout {
                        name: r.name.clone(),
                    });
                }
            }
            // Asked once per rollout, when it is first on screen or selected on the list (where
            // its action keys can be pressed): RBAC may differ by namespace.
            let in_hand = if model.fleet.shown {
                model.fleet.selected
            } else {
                model.open
            };
            if let Some(r) = model.rollouts.get_mut(in_hand)
                && !model.settings.read_only
                && !r.polls.permissions_asked
            {
                r.polls.permissions_asked = true;
                effects.push(Effect::FetchPermissions {
                    name: r.name.clone(),
                });
            }
            effects.extend(fleet::list_due(model));
            effects
        }
        Msg::RolloutsListed { result } => {
            fleet::add_listed(model, result);
            vec![]
        }
        Msg::PermissionsFetched { rollout, result } => {
            let Some(i) = model.rollouts.iter().position(|r| r.name == rollout) else {
                return vec![];
            };
            match result {
                Ok(p) => {
                    for (kind, why) in &p.denied {
                        model.push_event_to(
                            i,
                            EventLevel::Warn,
                            format!("{} is not allowed for you: {why}", kind.verb()),
                        );
                    }
                    model.rollouts[i].permissions = Some(p);
                }
                // Unknown permissions deny nothing: the backend still refuses what it must.
                Err(e) => model.push_event_to(
                    i,
                    EventLevel::Warn,
                    format!("could not check your permissions: {e}"),
                ),
            }
            vec![]
        }
        Msg::Notice(level, text) => {
            model.push_event(level, text);
            vec![]
        }
        Msg::Quit => {
            model.quit = true;
            vec![]
        }
        Msg::ToggleHelp => {
            model.overlay = match model.overlay {
                Overlay::Help => Overlay::None,
                _ => Overlay::Help,
            };
            vec![]
        }
        Msg::CloseOverlay => {
            model.overlay = Overlay::None;
            vec![]
        }
        Msg::OpenDetail => {
            if model.current().focus < model.current().panels.len() {
                model.overlay = Overlay::Detail {
                    metric: model.current().focus,
                    scroll: 0,
                };
                model.overlay_last_scroll = usize::MAX;
            }
            vec![]
        }
        Msg::OpenEvents => {
            model.overlay = Overlay::Events { scroll: 0 };
            model.overlay_last_scroll = usize::MAX;
            vec![]
        }
        Msg::Resize(width, height) => {
            model.screen = (width, height);
            vec![]
        }
        Msg::OverlayMeasured(last) => {
            model.overlay_last_scroll = last;
            if let Overlay::Events { scroll } | Overlay::Detail { scroll, .. } = &mut model.overlay
            {
                *scroll = (*scroll).min(last);
            }
            vec![]
        }
        Msg::Scroll(to) => {
            // Events scroll by event, the detail by row; never past the last page (as last
            // measured), so the first key back up moves the view.
            let last = model.overlay_last_scroll;
            let (Overlay::Events { scroll } | Overlay::Detail { scroll, .. }) = &mut model.overlay
            else {
                return vec![];
            };
            *scroll = match to {
                ScrollTo::By(n) if n < 0 => (*scroll).min(last).saturating_sub(n.unsigned_abs()),
                ScrollTo::By(n) => scroll.saturating_add(n.unsigned_abs()).min(last),
                ScrollTo::Top => 0,
                ScrollTo::Bottom => last,
            };
            vec![]
        }
        Msg::CycleWindow => {
            model.chart_window = model.chart_window.next();
            // A new window makes the answer in flight useless: ask again, drop the old answer.
            let open = model.open;
            model.rollouts[open].polls.metrics_in_flight = false;
            let (_, priority) = poll::pace(model, open);
            vec![fetch_metrics(model, open, priority)]
        }
        Msg::FocusNext => {
            let r = model.current_mut();
            if !r.panels.is_empty() {
                r.focus = (r.focus + 1) % r.panels.len();
            }
            vec![]
        }
        Msg::FocusPrev => {
            let r = model.current_mut();
            if !r.panels.is_empty() {
                r.focus = (r.focus + r.panels.len() - 1) % r.panels.len();
            }
            vec![]
        }
        Msg::Request(kind) => {
            // On the fleet list an action key acts on the selected row, with the same prompt.
            let i = if model.fleet.shown {
                model.fleet.selected
            } else {
                model.open
            };
            if i < model.rollouts.len() {
                open_prompt(model, i, kind);
            }
            vec![]
        }
        Msg::Confirmed => confirm(model),
        Msg::Cancel => {
            if let Overlay::Confirm(p) = &model.overlay {
                let text = format!("{} cancelled; nothing was done", p.action.verb());
                model.overlay = Overlay::None;
                model.push_event(EventLevel::Info, text);
            }
            vec![]
        }
        Msg::PromptInput(c) => {
            if let Overlay::Confirm(p) = &mut model.overlay {
                p.error = None;
                match p.field {
                    PromptField::Name => p.typed_name.push(c),
                    PromptField::Reason => p.reason.push(c),
                }
            }
            vec![]
        }
        Msg::PromptBackspace => {
            if let Overlay::Confirm(p) = &mut model.overlay {
                match p.field {
                    PromptField::Name => p.typed_name.pop(),
                    PromptField::Reason => p.reason.pop(),
                };
            }
            vec![]
        }
        Msg::PromptNextField => {
            if let Overlay::Confirm(p) = &mut model.overlay {
                p.field = match p.field {
                    PromptField::Name => PromptField::Reason,
                    PromptField::Reason => PromptField::Name,
                };
            }
            vec![]
        }
        // A newer read supersedes one in flight: its late answer is dropped by generation.
        Msg::RolloutChanged(name) => match model.rollouts.iter().position(|r| r.name == name) {
            Some(i) => vec![fetch_rollout(model, i)],
            None => vec![],
        },
        Msg::RolloutFetched {
            generation,
            at,
            result,
        } => {
            // Generations are unique over the console: the answer's finds its rollout, and a
            // late answer to an older request finds none.
            match model
                .rollouts
                .iter()
                .position(|r| r.polls.rollout_generation == generation)
            {
                Some(i) => rollout_answered(model, i, at, result),
                None => vec![],
            }
        }
        Msg::FleetFetched {
            generation,
            at,
            result,
        } => fleet_answered(model, generation, at, result),
        Msg::MetricsFetched {
            generation,
            at,
            result,
        } => {
            let Some(i) = model
                .rollouts
                .iter()
                .position(|r| r.polls.metrics_generation == generation)
            else {
                return vec![];
            };
            model.rollouts[i].polls.metrics_in_flight = false;
            model.rollouts[i].polls.metrics_answered = true;
            apply_metrics(model, i, at, result);
            vec![]
        }
        Msg::ActionFinished {
            rollout,
            kind,
            at,
            result,
            audit_error,
        } => match model.rollouts.iter().position(|r| r.name == rollout) {
            Some(i) => finish_action(model, i, kind, at, result, audit_error),
            None => vec![],
        },
        Msg::FleetSelect(to) => {
            fleet_select(model, to);
            vec![]
        }
        Msg::FleetFilterStart => {
            // A console with one rollout has no list: `/` does nothing there.
            if model.rollouts.len() > 1 {
                model.fleet.shown = true;
                model.fleet.typing = true;
                model.overlay = Overlay::None;
            }
            vec![]
        }
        Msg::FleetFilterInput(c) => {
            if model.fleet.typing {
                model.fleet.filter.push(c);
            }
            vec![]
        }
        Msg::FleetFilterBackspace => {
            if model.fleet.typing {
                model.fleet.filter.pop();
            }
            vec![]
        }
        Msg::FleetFilterKeep => {
            model.fleet.typing = false;
            vec![]
        }
        Msg::FleetFilterClear => {
            model.fleet.typing = false;
            model.fleet.filter.clear();
            vec![]
        }
        Msg::FleetOpen => {
            if model.fleet.shown && model.fleet.selected < model.rollouts.len() {
                model.open = model.fleet.selected;
                model.fleet.shown = false;
                model.fleet.typing = false;
                model.overlay = Overlay::None;
                // A row was polled at the list's pace: its screen asks at once, not at the next
                // tick, so it never opens on answers older than the interval.
                let open = model.open;
                return poll::polls_due_for(model, open);
            }
            vec![]
        }
        Msg::FleetShow => {
            if model.rollouts.len() > 1 {
                // The list opens on the rollout just left.
                model.fleet.selected = model.open;
                model.fleet.chosen = true;
                model.fleet.shown = true;
                model.overlay = Overlay::None;
            }
            vec![]
        }
    }
}

/// Rollout `i`'s read answered (on its own, or with the fleet's).
fn rollout_answered(
    model: &mut Model,
    i: usize,
    at: chrono::DateTime<chrono::Utc>,
    result: Result<crate::domain::Rollout, crate::backend::ReadError>,
) -> Vec<Effect> {
    model.rollouts[i].polls.rollout_in_flight = false;
    let first = model.rollouts[i].rollout.is_none();
    let mut effects = match &result {
        Ok(r) => resolve_unknown(model, i, at, r),
        Err(_) => vec![],
    };
    apply_rollout(model, i, at, result);
    // Requests are counted from the canary's start, and pod-hash tracks need the hashes,
    // both known only now: ask at once rather than a poll (or a row poll) later.
    let counts_wait = model.rollouts[i]
        .panels
        .iter()
        .any(|p| p.counters.is_some())
        || model.rollouts[i].pod_hash_tracks.is_some();
    // In a grouped fleet, once every row has been read (the next tick asks them all).
    if first
        && model.rollouts[i].rollout.is_some()
        && counts_wait
        && !poll::waits_for_the_fleet(model, i)
    {
        let (_, priority) = poll::pace(model, i);
        effects.push(fetch_metrics(model, i, priority));
    }
    effects
}

/// The fleet's one read answered: each row it was sent for (its read still carries
/// `generation`: no newer read of its own went since) takes its rollout from the list, or the
/// read's error. A row the list lacks is read on its own; a rollout listed for the first time
/// is followed from now on, as the backend's list would add it.
fn fleet_answered(
    model: &mut Model,
    generation: u64,
    at: chrono::DateTime<chrono::Utc>,
    result: Result<Vec<crate::domain::Rollout>, crate::backend::ReadError>,
) -> Vec<Effect> {
    let rows: Vec<usize> = (0..model.rollouts.len())
        .filter(|&i| model.rollouts[i].polls.rollout_generation == generation)
        .collect();
    if rows.is_empty() {
        return vec![];
    }
    let mut read = match result {
        Ok(all) => Ok(all
            .into_iter()
            .map(|r| (r.name.clone(), r))
            .collect::<std::collections::HashMap<_, _>>()),
        Err(e) => Err(e),
    };
    let mut effects = vec![];
    for i in rows {
        let own = match &mut read {
            Ok(all) => match all.remove(&model.rollouts[i].name) {
                Some(r) => Ok(r),
                // Not in the list (gone, or one the config names that the API does not list):
                // its own read says what it is.
                None => {
                    effects.push(fetch_rollout(model, i));
                    continue;
                }
            },
            Err(e) => Err(e.clone()),
        };
        effects.extend(rollout_answered(model, i, at, own));
    }
    if let Ok(rest) = read
        && !rest.is_empty()
    {
        let mut names: Vec<String> = rest.into_keys().collect();
        // The backend's order is lost in the map: new rows come in name order.
        names.sort();
        fleet::add_listed(model, Ok(names));
    }
    effects
}

/// Moves the fleet selection over the rows as last derived (sorted and filtered).
fn fleet_select(model: &mut Model, to: ScrollTo) {
    let rows = &model.derived.fleet_rows;
    if rows.is_empty() {
        return;
    }
    let at = rows
        .iter()
        .position(|r| r.index == model.fleet.selected)
        .unwrap_or(0);
    let last = rows.len() - 1;
    let next = match to {
        ScrollTo::By(n) if n < 0 => at.saturating_sub(n.unsigned_abs()),
        ScrollTo::By(n) => at.saturating_add(n.unsigned_abs()).min(last),
        ScrollTo::Top => 0,
        ScrollTo::Bottom => last,
    };
    model.fleet.selected = rows[next].index;
    model.fleet.chosen = true;
}
