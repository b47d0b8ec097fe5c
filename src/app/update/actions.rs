//! Actions: the confirm prompt (open, type, confirm), the action's result, and its receipts,
//! including the one that resolves an UNKNOWN outcome on the next good read.

use chrono::{DateTime, Utc};

use super::poll::fetch_rollout;
use super::rollout::apply_rollout;
use crate::app::effect::Effect;
use crate::app::model::{EventLevel, InFlight, Model, Overlay, Prompt, PromptField, Unresolved};
use crate::audit::{AuditRecord, VerdictRecord};
use crate::backend::{ActionError, ActionRequest};
use crate::domain::Rollout;
use crate::domain::action::ActionKind;
use crate::domain::policy::promotion_blockers;

/// Opens the prompt for `kind` on rollout `i` (or says in its events why not).
pub(super) fn open_prompt(model: &mut Model, i: usize, kind: ActionKind) {
    let refuse = |model: &mut Model, text: String| tell(model, i, EventLevel::Warn, text);
    if model.settings.read_only {
        return refuse(
            model,
            format!("read-only: {} is disabled in watch mode", kind.verb()),
        );
    }
    if let Some(f) = model.rollouts[i].in_flight {
        return refuse(
            model,
            format!(
                "{} is in flight; wait for its result before {}",
                f.kind.verb(),
                kind.verb()
            ),
        );
    }
    // Rolling back is the safe direction: it stays possible while the rollout cannot be read.
    let unknown = match (&model.rollouts[i].rollout_error, kind) {
        (Some(e), ActionKind::Rollback) => Some(e.clone()),
        _ => None,
    };
    if model.rollouts[i].awaiting_reread && unknown.is_none() {
        return refuse(
            model,
            "re-reading the rollout after the last action; try again in a moment".into(),
        );
    }
    if !model.actions.contains(&kind) {
        return refuse(
            model,
            format!(
                "this backend cannot {} ({})",
                kind.verb(),
                model.settings.source_label
            ),
        );
    }
    if let Some(why) = model.rollouts[i]
        .permissions
        .as_ref()
        .and_then(|p| p.denied(kind))
    {
        let text = format!("{} is not allowed for you: {why}", kind.verb());
        return refuse(model, text);
    }
    if let Some(error) = unknown {
        let last = model.rollouts[i].rollout.as_ref();
        model.overlay = Overlay::Confirm(Box::new(Prompt {
            action: kind,
            index: i,
            rollout: model.rollouts[i].name.clone(),
            seen_step: last.map_or(0, |r| r.step),
            seen_state: last.map_or(crate::domain::RolloutState::Progressing, |r| r.state),
            from_weight: last.map_or(0, |r| r.canary_weight),
            to: None,
            verdicts: vec![],
            blockers: vec![],
            typed_name: String::new(),
            reason: String::new(),
            field: PromptField::Name,
            moved_on: None,
            state_unknown: Some(error),
            error: None,
        }));
        return;
    }
    let Some(r) = model.rollouts[i].rollout.clone() else {
        return refuse(model, "no rollout loaded yet; nothing to act on".into());
    };
    if let Err(why) = kind.allowed_in(r.state) {
        return refuse(model, why);
    }
    let to = match kind {
        ActionKind::Promote => Some(
            r.steps
                .get(r.step + 1)
                .map_or((r.step + 1, 100), |s| (r.step + 1, s.weight)),
        ),
        ActionKind::PromoteFull => Some((r.steps.len().saturating_sub(1), 100)),
        ActionKind::Rollback => Some((r.step, 0)),
        ActionKind::Retry => Some((0, r.steps.first().map_or(0, |s| s.weight))),
        _ => None,
    };
    let verdicts = model.rollouts[i]
        .panels
        .iter()
        .map(|p| (p.def.name.clone(), p.verdict(), p.reason()))
        .collect();
    let blockers = if matches!(kind, ActionKind::Promote | ActionKind::PromoteFull) {
        promotion_blockers(
            &model.rollouts[i].gate_evaluations(),
            &model.rollouts[i].budgets(),
            model.settings.min_budget_to_promote_pct,
        )
    } else {
        vec![]
    };
    model.overlay = Overlay::Confirm(Box::new(Prompt {
        action: kind,
        index: i,
        rollout: model.rollouts[i].name.clone(),
        seen_step: r.step,
        seen_state: r.state,
        from_weight: r.canary_weight,
        to,
        verdicts,
        blockers,
        typed_name: String::new(),
        reason: String::new(),
        field: PromptField::Name,
        moved_on: None,
        state_unknown: None,
        error: None,
    }));
}

/// An event in rollout `i`'s log; on the fleet list, in the list's too (the row's log is not on
/// screen there, and an action's outcome must be seen where it was asked for).
fn tell(model: &mut Model, i: usize, level: EventLevel, text: impl Into<String>) {
    let text = text.into();
    if model.fleet.shown {
        let name = model.rollouts[i].name.clone();
        model.push_fleet_event(level, format!("{name}: {text}"));
    }
    model.push_event_to(i, level, text);
}

pub(super) fn confirm(model: &mut Model) -> Vec<Effect> {
    let Overlay::Confirm(prompt) = &mut model.overlay else {
        return vec![];
    };
    let i = prompt.index;
    // The state must still be the one the user confirmed: compare with the newest read (a
    // rollback with the state unknown confirmed exactly that).
    let current = model.rollouts[i]
        .rollout
        .as_ref()
        .map(|r| (r.step, r.state));
    let unknown = prompt.state_unknown.is_some();
    if prompt.moved_on.is_some()
        || (!unknown && current != Some((prompt.seen_step, prompt.seen_state)))
    {
        let now_text = model.rollouts[i].rollout.as_ref().map_or_else(
            || "unknown".to_string(),
            |r| {
                format!(
                    "step {} at {}%, {}",
                    r.step + 1,
                    r.canary_weight,
                    r.state.label()
                )
            },
        );
        let verb = prompt.action.verb();
        model.overlay = Overlay::None;
        tell(
            model,
            i,
            EventLevel::Warn,
            format!("the rollout moved on (now {now_text}); {verb} was not sent, nothing was done"),
        );
        return vec![];
    }
    if prompt.needs_override() {
        if prompt.typed_name != prompt.rollout {
            prompt.error = Some(format!(
                "type the rollout's name ({}) exactly to override",
                prompt.rollout
            ));
            return vec![];
        }
        if prompt.reason.trim().is_empty() {
            prompt.error = Some("give a reason for the override (Tab to the reason field)".into());
            return vec![];
        }
    }
    let prompt = (**prompt).clone();
    model.overlay = Overlay::None;
    let reason = prompt.reason.trim().to_string();
    let request = ActionRequest {
        kind: prompt.action,
        rollout: prompt.rollout.clone(),
        expected_step: prompt.state_unknown.is_none().then_some(prompt.seen_step),
        actor: model.settings.actor.clone(),
        reason: reason.clone(),
    };
    let mut receipt = AuditRecord::new(
        model.now,
        (&model.settings.actor, model.settings.ssh_client.as_deref()),
        &prompt.rollout,
        prompt.action.as_str(),
        crate::audit::operation(prompt.action, false),
        (prompt.seen_step, prompt.from_weight),
    );
    receipt.id = Some(receipt_id(model.now, &prompt.rollout, prompt.action));
    receipt.to_step = prompt.to.map(|t| t.0);
    receipt.to_weight = prompt.to.map(|t| t.1);
    receipt.verdicts = receipt_verdicts(model, i);
    receipt.override_reason = prompt.needs_override().then(|| reason.clone());
    receipt.state_unknown = prompt.state_unknown.as_ref().map(|e| {
        format!("sent without a step check: the last read failed ({e}); steps and weights are the last known")
    });
    model.rollouts[i].in_flight = Some(InFlight {
        kind: prompt.action,
        since: model.now,
    });
    model.rollouts[i].action_status = None;
    model.rollouts[i].unresolved = Some(Unresolved {
        kind: prompt.action,
        seen_step: prompt.seen_step,
        seen_state: prompt.seen_state,
        seen_canary: model.rollouts[i]
            .rollout
            .as_ref()
            .map(|r| r.canary_version.clone())
            .unwrap_or_default(),
        receipt: Box::new(receipt.clone()),
    });
    let what = match prompt.to {
        Some((step, weight)) if prompt.action == ActionKind::Promote => format!(
            " (step {} → {}, {}% → {}%)",
            prompt.seen_step + 1,
            step + 1,
            prompt.from_weight,
            weight
        ),
        _ => String::new(),
    };
    let unknown_note = if prompt.state_unknown.is_some() {
        " with the rollout's state unknown"
    } else {
        ""
    };
    let overriding = if prompt.needs_override() {
        format!(" OVERRIDE: {reason}")
    } else {
        String::new()
    };
    tell(
        model,
        i,
        EventLevel::Action,
        format!(
            "{} sent by {}{unknown_note}{what}{overriding}",
            prompt.action.verb(),
            model.settings.actor
        ),
    );
    vec![Effect::Act {
        request,
        receipt: Box::new(receipt),
    }]
}

pub(super) fn finish_action(
    model: &mut Model,
    i: usize,
    kind: ActionKind,
    at: DateTime<Utc>,
    result: Result<Rollout, ActionError>,
    audit_error: Option<String>,
) -> Vec<Effect> {
    model.rollouts[i].in_flight = None;
    model.rollouts[i].awaiting_reread = true;
    // Only an UNKNOWN outcome is left for a read to decide.
    if !matches!(result, Err(ActionError::Unknown(_))) {
        model.rollouts[i].unresolved = None;
    }
    match result {
        Ok(rollout) => {
            let text = format!(
                "{} done: now step {} at {}%, {}",
                kind.verb(),
                rollout.step + 1,
                rollout.canary_weight,
                rollout.state.label()
            );
            tell(model, i, EventLevel::Good, text);
            apply_rollout(model, i, at, Ok(rollout));
            model.rollouts[i].awaiting_reread = true;
        }
        Err(e @ ActionError::Unknown(_)) => {
            tell(model, i, EventLevel::Bad, format!("{}: {e}", kind.verb()));
            model.rollouts[i].action_status = Some((
                EventLevel::Bad,
                format!("{} outcome UNKNOWN: waiting for the next read", kind.verb()),
            ));
        }
        Err(e) => tell(model, i, EventLevel::Warn, format!("{}: {e}", kind.verb())),
    }
    if let Some(err) = audit_error {
        tell(
            model,
            i,
            EventLevel::Bad,
            format!("AUDIT LOG WRITE FAILED: {err}"),
        );
    }
    // Re-read before anything else: a late poll from before the action is dropped by generation.
    vec![fetch_rollout(model, i)]
}

/// Names a receipt so a follow-up can point at it.
fn receipt_id(now: DateTime<Utc>, rollout: &str, kind: ActionKind) -> String {
    format!(
        "{}-{rollout}-{}",
        now.format("%Y%m%dT%H%M%S%.3fZ"),
        kind.as_str()
    )
}

/// Whether the rollout as read shows the action applied.
fn took_effect(u: &Unresolved, r: &Rollout) -> bool {
    use crate::domain::RolloutState as S;
    match u.kind {
        ActionKind::Pause => r.state == S::Paused,
        ActionKind::Resume => r.state != S::Paused,
        ActionKind::Promote => r.step > u.seen_step || r.state == S::Completed,
        ActionKind::PromoteFull => r.state == S::Completed,
        ActionKind::Rollback => r.state == S::RolledBack,
        ActionKind::Retry => !matches!(r.state, S::RolledBack | S::Failed),
        ActionKind::Undo => r.canary_version != u.seen_canary,
    }
}

/// After an UNKNOWN outcome, the first good read says what happened: an event, the footer's
/// status, and a receipt that resolves the `unknown` one.
pub(super) fn resolve_unknown(
    model: &mut Model,
    i: usize,
    at: DateTime<Utc>,
    r: &Rollout,
) -> Vec<Effect> {
    if model.rollouts[i].in_flight.is_some() {
        return vec![];
    }
    let Some(u) = model.rollouts[i].unresolved.take() else {
        return vec![];
    };
    let verb = u.kind.verb();
    let where_ = format!(
        "{} at step {} ({}%)",
        r.state.label(),
        r.step + 1,
        r.canary_weight
    );
    let applied = took_effect(&u, r);
    let (level, text) = if applied {
        (EventLevel::Good, format!("{verb} took effect: {where_}"))
    } else {
        (
            EventLevel::Bad,
            format!("{verb} did not take effect: still {where_}"),
        )
    };
    tell(model, i, level, text.clone());
    model.rollouts[i].action_status = Some((level, text.clone()));
    let receipt = u.receipt.resolution(at, u.kind, applied, r, &text);
    vec![Effect::Audit {
        receipt: Box::new(receipt),
    }]
}

/// Every metric's verdict as a receipt records it: the gate's evaluation and the sequential
/// judge's figures, at the moment of decision.
pub(crate) fn receipt_verdicts(model: &Model, i: usize) -> Vec<VerdictRecord> {
    model.rollouts[i]
        .gate_evaluations()
        .iter()
        .zip(&model.rollouts[i].panels)
        .map(|((name, e), p)| {
            VerdictRecord::new(name, e, p.sequential_shown().map(|r| r.figures()))
        })
        .collect()
}
