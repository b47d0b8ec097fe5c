//! The pure state transition: `update(&mut Model, Msg) -> Vec<Effect>`. No I/O, no clock.

use chrono::{DateTime, Utc};
use std::time::Duration;

use super::derived::refresh_derived;
use super::effect::Effect;
use super::model::{EventLevel, InFlight, Model, Overlay, Prompt, PromptField, Unresolved};
use super::msg::{Msg, ScrollTo};
use crate::audit::{AuditRecord, VerdictRecord};
use crate::backend::{ActionError, ActionRequest};
use crate::domain::action::ActionKind;
use crate::domain::counts::Counts;
use crate::domain::format::{age, short_duration};
use crate::domain::gate::DEFAULT_MIN_REQUESTS;
use crate::domain::policy::promotion_blockers;
use crate::domain::sequential::{self, Decision};
use crate::domain::{AnalysisPhase, AnalysisResult, Rollout, Unit, Verdict};
use crate::metrics::{CountsQuery, FetchRequest, FetchResult, MetricQuery, SloQuery};

pub fn update(model: &mut Model, msg: Msg) -> Vec<Effect> {
    let effects = apply(model, msg);
    refresh_derived(model);
    effects
}

fn apply(model: &mut Model, msg: Msg) -> Vec<Effect> {
    match msg {
        Msg::Tick(now) => {
            model.now = now;
            let mut effects = polls_due(model);
            if !model.polls.watch_asked {
                model.polls.watch_asked = true;
                effects.push(Effect::WatchRollout {
                    name: model.settings.rollout_name.clone(),
                });
            }
            if model.permissions.is_none()
                && !model.settings.read_only
                && !model.polls.permissions_asked
            {
                model.polls.permissions_asked = true;
                effects.push(Effect::FetchPermissions {
                    name: model.settings.rollout_name.clone(),
                });
            }
            effects
        }
        Msg::PermissionsFetched { result } => {
            match result {
                Ok(p) => {
                    for (kind, why) in &p.denied {
                        model.push_event(
                            EventLevel::Warn,
                            format!("{} is not allowed for you: {why}", kind.verb()),
                        );
                    }
                    model.permissions = Some(p);
                }
                // Unknown permissions deny nothing: the backend still refuses what it must.
                Err(e) => model.push_event(
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
            if model.focus < model.panels.len() {
                model.overlay = Overlay::Detail {
                    metric: model.focus,
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
            model.polls.metrics_in_flight = false;
            vec![fetch_metrics(model)]
        }
        Msg::FocusNext => {
            if !model.panels.is_empty() {
                model.focus = (model.focus + 1) % model.panels.len();
            }
            vec![]
        }
        Msg::FocusPrev => {
            if !model.panels.is_empty() {
                model.focus = (model.focus + model.panels.len() - 1) % model.panels.len();
            }
            vec![]
        }
        Msg::Request(kind) => {
            open_prompt(model, kind);
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
        Msg::RolloutChanged => vec![fetch_rollout(model)],
        Msg::RolloutFetched {
            generation,
            at,
            result,
        } => {
            if generation != model.polls.rollout_generation {
                return vec![]; // a late answer to an older request
            }
            model.polls.rollout_in_flight = false;
            let first = model.rollout.is_none();
            let mut effects = match &result {
                Ok(r) => resolve_unknown(model, at, r),
                Err(_) => vec![],
            };
            apply_rollout(model, at, result);
            // Requests are counted from the canary's start, known only now: count at once
            // rather than a poll later.
            let counts_wait = model.panels.iter().any(|p| p.counters.is_some());
            if first && model.rollout.is_some() && counts_wait {
                effects.push(fetch_metrics(model));
            }
            effects
        }
        Msg::MetricsFetched {
            generation,
            at,
            result,
        } => {
            if generation != model.polls.metrics_generation {
                return vec![];
            }
            model.polls.metrics_in_flight = false;
            apply_metrics(model, at, result);
            vec![]
        }
        Msg::ActionFinished {
            kind,
            at,
            result,
            audit_error,
        } => finish_action(model, kind, at, result, audit_error),
    }
}

fn polls_due(model: &mut Model) -> Vec<Effect> {
    let interval = model.settings.poll_interval;
    let due = |started: Option<DateTime<Utc>>, now| started.is_none_or(|s| age(s, now) >= interval);
    let mut effects = vec![];
    // A request that never answers must not stop polling forever: retry after 3 intervals.
    let stuck =
        |started: Option<DateTime<Utc>>, now| started.is_some_and(|s| age(s, now) >= interval * 3);
    if (!model.polls.rollout_in_flight || stuck(model.polls.rollout_started, model.now))
        && due(model.polls.rollout_started, model.now)
    {
        effects.push(fetch_rollout(model));
    }
    if (!model.polls.metrics_in_flight || stuck(model.polls.metrics_started, model.now))
        && due(model.polls.metrics_started, model.now)
    {
        effects.push(fetch_metrics(model));
    }
    effects
}

fn fetch_rollout(model: &mut Model) -> Effect {
    model.polls.rollout_generation += 1;
    model.polls.rollout_in_flight = true;
    model.polls.rollout_started = Some(model.now);
    Effect::FetchRollout {
        generation: model.polls.rollout_generation,
        name: model.settings.rollout_name.clone(),
    }
}

fn fetch_metrics(model: &mut Model) -> Effect {
    model.polls.metrics_generation += 1;
    model.polls.metrics_in_flight = true;
    model.polls.metrics_started = Some(model.now);
    // Requests are counted over the canary's life: unknown until the rollout is read.
    let since = model.rollout.as_ref().map(counted_since);
    for p in model.panels.iter_mut().filter(|p| p.counters.is_some()) {
        p.counted_since = since;
    }
    let request = FetchRequest {
        now: model.now,
        lookback: model.lookback(),
        step: model.settings.poll_interval,
        metrics: model
            .panels
            .iter()
            .map(|p| MetricQuery {
                name: p.def.name.clone(),
                query: p.query.clone(),
                window: p.window,
                counts: p
                    .counters
                    .clone()
                    .zip(since)
                    .map(|(counters, (since, _))| CountsQuery { counters, since }),
            })
            .collect(),
        slos: model
            .slos
            .iter()
            .map(|s| SloQuery {
                name: s.def.name.clone(),
                error_ratio: s.query.clone(),
                window: s.def.window,
            })
            .collect(),
        tracks: model
            .pod_hash_tracks
            .as_ref()
            .and_then(|p| p.tracks(model.rollout.as_ref())),
    };
    // What this poll sends, as sent, for the detail view.
    for p in &mut model.panels {
        p.sent_queries =
            p.rendered_queries(model.query_selectors.as_ref(), request.tracks.as_ref());
    }
    Effect::FetchMetrics {
        generation: model.polls.metrics_generation,
        request,
    }
}

/// Where counting starts: the canary's first step when the backend reports its steps' history
/// (`true`), else the current step's start.
fn counted_since(r: &Rollout) -> (DateTime<Utc>, bool) {
    match r.history.iter().find(|h| h.step == 0) {
        Some(first) => (first.started_at, true),
        None => (r.step_started_at, false),
    }
}

/// The steps' starts, oldest first, for the judge's warm-up.
fn step_starts(r: &Rollout) -> Vec<DateTime<Utc>> {
    let mut starts: Vec<DateTime<Utc>> = r.history.iter().map(|h| h.started_at).collect();
    if !starts.contains(&r.step_started_at) {
        starts.push(r.step_started_at);
    }
    starts.sort();
    starts
}

/// Canary requests behind each canary point (its window), where the counts cover that window.
fn requests_behind(
    counts: &Counts,
    points: &crate::domain::Series,
    window: Duration,
) -> Vec<(DateTime<Utc>, f64)> {
    let Some(first) = counts.blocks.first().map(|b| b.start) else {
        return Vec::new();
    };
    let span = chrono::Duration::from_std(window).unwrap_or_default();
    points
        .points
        .iter()
        .filter(|p| p.at - span >= first)
        .map(|p| (p.at, counts.canary_requests_within(p.at, window)))
        .collect()
}

fn apply_rollout(model: &mut Model, at: DateTime<Utc>, result: Result<Rollout, String>) {
    match result {
        Ok(new) => {
            if model.rollout_error.take().is_some() {
                model.push_event(EventLevel::Good, "backend reachable again");
            }
            model.last_rollout_ok = Some(at);
            model.awaiting_reread = false;
            note_rollout_changes(model, &new);
            if let Overlay::Confirm(p) = &mut model.overlay
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
            model.rollout = Some(new);
        }
        Err(e) => {
            if model.rollout_error.as_deref() != Some(e.as_str()) {
                model.push_event(EventLevel::Bad, format!("backend: {e}"));
            }
            model.rollout_error = Some(e);
        }
    }
}

/// Turn differences between the old and new rollout into events.
fn note_rollout_changes(model: &mut Model, new: &Rollout) {
    let Some(old) = model.rollout.clone() else {
        model.push_event(
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
            model.push_event(EventLevel::Info, format!("backend: {m}"));
        }
        note_analysis(model, &[], &new.analysis);
        return;
    };
    note_analysis(model, &old.analysis, &new.analysis);
    if old.step != new.step {
        let took = old
            .step_duration(old.step)
            .map(|d| format!(" after {}", short_duration(d)))
            .unwrap_or_default();
        model.push_event(
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
        model.push_event(
            level,
            format!("state {} → {}", old.state.label(), new.state.label()),
        );
    }
    if old.message != new.message
        && let Some(m) = &new.message
    {
        model.push_event(EventLevel::Info, format!("backend: {m}"));
    }
}

/// An event for each analysis metric whose phase changed (or that is new and already decided),
/// with its value and message: "why did it stop", answered in the events pane.
fn note_analysis(model: &mut Model, old: &[AnalysisResult], new: &[AnalysisResult]) {
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
        let value = result
            .value
            .as_deref()
            .map(|v| format!(" value {v}"))
            .unwrap_or_default();
        let message = result
            .message
            .as_deref()
            .map(|m| format!(": {m}"))
            .unwrap_or_default();
        model.push_event(
            level,
            format!(
                "analysis {} {}{value}{message} ({})",
                result.metric,
                result.phase.label(),
                result.run
            ),
        );
    }
}

fn apply_metrics(model: &mut Model, at: DateTime<Utc>, result: FetchResult) {
    model.polls.queries_last_poll = result.queries;
    let poll = model.settings.poll_interval;
    // The judge compares the points of the current step only: the canary at its current weight.
    let step_start = model.rollout.as_ref().map(|r| r.step_started_at);
    let alpha = model.sequential_alpha_per_metric();
    let rollout = model.rollout.clone();
    let mut counts_by_name = result.counts;
    let mut empty_by_name = result.empty;
    let mut events = Vec::new();
    for (name, answer) in result.metrics {
        let Some(panel) = model.panels.iter_mut().find(|p| p.def.name == name) else {
            continue;
        };
        let before = panel.verdict();
        let was_known = panel.eval.is_some() || panel.sequential_result.is_some();
        let counts = counts_by_name
            .iter()
            .position(|(n, _)| *n == name)
            .map(|i| counts_by_name.swap_remove(i).1);
        let counts = match counts {
            Some(Ok(counts)) => {
                if panel.counts_error.take().is_some() {
                    events.push((EventLevel::Good, format!("{name}: requests counted again")));
                }
                if let (Some(settings), Some(r)) = (panel.sequential, &rollout) {
                    judge_counts(panel, &settings, &counts, r, alpha, model.now);
                }
                Some(counts)
            }
            Some(Err(e)) => {
                if panel.counts_error.as_deref() != Some(e.as_str()) {
                    events.push((EventLevel::Bad, format!("{name}: counting requests: {e}")));
                }
                panel.counts_error = Some(e);
                None
            }
            None => None,
        };
        match answer {
            Ok(series) => {
                let requests = counts.as_ref().map(|c| {
                    requests_behind(
                        c,
                        &series.canary,
                        panel
                            .window
                            .unwrap_or(crate::metrics::source::DEFAULT_WINDOW),
                    )
                });
                let min_requests = panel.def.gate.min_requests.or_else(|| {
                    matches!(panel.def.unit, Unit::Ratio | Unit::Percent)
                        .then_some(DEFAULT_MIN_REQUESTS)
                });
                let eval = panel.def.gate.evaluate_counted(
                    &panel.def.name,
                    panel.def.unit,
                    &series.baseline,
                    &series.canary,
                    poll,
                    requests.as_deref().zip(min_requests),
                );
                if series.canary.latest().is_some() || series.baseline.latest().is_some() {
                    panel.last_good = Some(at);
                }
                if panel.error.take().is_some() {
                    events.push((EventLevel::Good, format!("{name}: query answers again")));
                }
                if let Some(settings) = &panel.judge {
                    // One point per query window: overlapping windows are not independent.
                    let spacing = panel
                        .window
                        .unwrap_or(crate::metrics::source::DEFAULT_WINDOW);
                    let in_step = |s: &crate::domain::Series| -> Vec<f64> {
                        let points: Vec<crate::domain::Sample> = s
                            .points
                            .iter()
                            .filter(|p| step_start.is_none_or(|t| p.at >= t))
                            .copied()
                            .collect();
                        crate::domain::judge::independent_points(&points, spacing)
                    };
                    let (b, c) = (in_step(&series.baseline), in_step(&series.canary));
                    panel.judge_result = Some(crate::domain::judge::classify(
                        &b,
                        &c,
                        settings,
                        panel.def.unit,
                    ));
                }
                panel.series = series;
                panel.eval = Some(eval);
                panel.empty = empty_by_name
                    .iter()
                    .position(|(n, _)| *n == name)
                    .map(|i| empty_by_name.swap_remove(i).1);
            }
            Err(e) => {
                if panel.error.as_deref() != Some(e.as_str()) {
                    events.push((EventLevel::Bad, format!("{name}: {e}")));
                }
                panel.error = Some(e);
            }
        }
        let after = panel.verdict();
        // Counting starting (first counts, or a new step judged afresh) is not news; any other
        // change is.
        let started =
            matches!(before, Verdict::NoData | Verdict::Pass) && after == Verdict::Collecting;
        if before != after && was_known && !started {
            let level = match after {
                Verdict::Pass => EventLevel::Good,
                Verdict::Fail => EventLevel::Bad,
                _ => EventLevel::Warn,
            };
            let reason = panel.reason();
            events.push((
                level,
                format!("{name}: {} → {} ({reason})", before.label(), after.label()),
            ));
        }
    }
    for (name, answer) in result.slos {
        let Some(slo) = model.slos.iter_mut().find(|s| s.def.name == name) else {
            continue;
        };
        match answer {
            Ok(m) => {
                let status = slo.def.evaluate(&m);
                if status.alert != slo.status.as_ref().and_then(|s| s.alert)
                    && let Some(alert) = status.alert
                {
                    let what = format!("{alert:?}").to_uppercase();
                    events.push((
                        EventLevel::Bad,
                        format!("SLO {name}: burn-rate alert {what} (multi-window)"),
                    ));
                }
                slo.status = Some(status);
                slo.last_good = Some(at);
                slo.error = None;
            }
            Err(e) => {
                if slo.error.as_deref() != Some(e.as_str()) {
                    events.push((EventLevel::Bad, format!("SLO {name}: {e}")));
                }
                slo.error = Some(e);
            }
        }
    }
    // Prometheus repeats a warning on every answer: say it once, and again only after it went away.
    for w in &result.warnings {
        if !model.metrics_warnings.contains(w) {
            events.push((EventLevel::Warn, format!("metrics warning: {w}")));
        }
    }
    model.metrics_warnings = result.warnings;
    for (level, text) in events {
        model.push_event(level, text);
    }
}

/// Run the sequential judge on the counts; a FAIL stays for the canary version it was found on.
fn judge_counts(
    panel: &mut super::model::MetricPanel,
    settings: &sequential::SequentialSettings,
    counts: &Counts,
    r: &Rollout,
    alpha: f64,
    now: DateTime<Utc>,
) {
    let context = sequential::Context {
        alpha,
        step_starts: step_starts(r),
        // A rollout that has ended holds no more: no "hold ended" PASS after a rollback.
        hold_left: (!r.state.is_terminal())
            .then(|| r.hold_remaining(now))
            .flatten(),
    };
    let mut result = sequential::evaluate(counts, settings, &context);
    if r.state.is_terminal() {
        result = result.ended(settings);
    }
    if panel
        .sticky_fail
        .as_ref()
        .is_some_and(|(version, _)| *version != r.canary_version)
    {
        panel.sticky_fail = None;
    }
    if result.decision == Decision::Fail && panel.sticky_fail.is_none() {
        panel.sticky_fail = Some((r.canary_version.clone(), result.clone()));
    }
    panel.sequential_result = Some(result);
}

fn open_prompt(model: &mut Model, kind: ActionKind) {
    let refuse = |model: &mut Model, text: String| model.push_event(EventLevel::Warn, text);
    if model.settings.read_only {
        return refuse(
            model,
            format!("read-only: {} is disabled in watch mode", kind.verb()),
        );
    }
    if let Some(f) = model.in_flight {
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
    let unknown = match (&model.rollout_error, kind) {
        (Some(e), ActionKind::Rollback) => Some(e.clone()),
        _ => None,
    };
    if model.awaiting_reread && unknown.is_none() {
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
    if let Some(why) = model.permissions.as_ref().and_then(|p| p.denied(kind)) {
        let text = format!("{} is not allowed for you: {why}", kind.verb());
        return refuse(model, text);
    }
    if let Some(error) = unknown {
        let last = model.rollout.as_ref();
        model.overlay = Overlay::Confirm(Box::new(Prompt {
            action: kind,
            rollout: model.settings.rollout_name.clone(),
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
    let Some(r) = model.rollout.clone() else {
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
    let verdicts = model
        .panels
        .iter()
        .map(|p| (p.def.name.clone(), p.verdict(), p.reason()))
        .collect();
    let blockers = if matches!(kind, ActionKind::Promote | ActionKind::PromoteFull) {
        promotion_blockers(
            &model.gate_evaluations(),
            &model.budgets(),
            model.settings.min_budget_to_promote_pct,
        )
    } else {
        vec![]
    };
    model.overlay = Overlay::Confirm(Box::new(Prompt {
        action: kind,
        rollout: r.name.clone(),
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

fn confirm(model: &mut Model) -> Vec<Effect> {
    let Overlay::Confirm(prompt) = &mut model.overlay else {
        return vec![];
    };
    // The state must still be the one the user confirmed: compare with the newest read (a
    // rollback with the state unknown confirmed exactly that).
    let current = model.rollout.as_ref().map(|r| (r.step, r.state));
    let unknown = prompt.state_unknown.is_some();
    if prompt.moved_on.is_some()
        || (!unknown && current != Some((prompt.seen_step, prompt.seen_state)))
    {
        let now_text = model.rollout.as_ref().map_or_else(
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
        model.push_event(
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
    let evals = model.gate_evaluations();
    let receipt = AuditRecord {
        id: Some(receipt_id(model.now, &prompt.rollout, prompt.action)),
        resolves: None,
        time: model.now,
        actor: model.settings.actor.clone(),
        ssh_client: model.settings.ssh_client.clone(),
        rollout: prompt.rollout.clone(),
        action: prompt.action.as_str().into(),
        operation: crate::audit::operation(prompt.action, false).into(),
        from_step: prompt.seen_step,
        from_weight: prompt.from_weight,
        to_step: prompt.to.map(|t| t.0),
        to_weight: prompt.to.map(|t| t.1),
        verdicts: evals
            .iter()
            .zip(&model.panels)
            .map(|((name, e), p)| VerdictRecord {
                metric: name.clone(),
                verdict: e.verdict.as_str().into(),
                baseline: e.baseline,
                canary: e.canary,
                threshold: e.threshold,
                reason: e.reasons.join("; "),
                sequential: p.sequential_shown().map(|r| r.figures()),
            })
            .collect(),
        override_reason: (prompt.needs_override()).then(|| reason.clone()),
        state_unknown: prompt.state_unknown.as_ref().map(|e| {
            format!("sent without a step check: the last read failed ({e}); steps and weights are the last known")
        }),
        result: "pending".into(),
        message: None,
        response: None,
    };
    model.in_flight = Some(InFlight {
        kind: prompt.action,
        since: model.now,
    });
    model.action_status = None;
    model.unresolved = Some(Unresolved {
        kind: prompt.action,
        seen_step: prompt.seen_step,
        seen_state: prompt.seen_state,
        seen_canary: model
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
    model.push_event(
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

fn finish_action(
    model: &mut Model,
    kind: ActionKind,
    at: DateTime<Utc>,
    result: Result<Rollout, ActionError>,
    audit_error: Option<String>,
) -> Vec<Effect> {
    model.in_flight = None;
    model.awaiting_reread = true;
    // Only an UNKNOWN outcome is left for a read to decide.
    if !matches!(result, Err(ActionError::Unknown(_))) {
        model.unresolved = None;
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
            model.push_event(EventLevel::Good, text);
            apply_rollout(model, at, Ok(rollout));
            model.awaiting_reread = true;
        }
        Err(e @ ActionError::Unknown(_)) => {
            model.push_event(EventLevel::Bad, format!("{}: {e}", kind.verb()));
            model.action_status = Some((
                EventLevel::Bad,
                format!("{} outcome UNKNOWN: waiting for the next read", kind.verb()),
            ));
        }
        Err(e) => model.push_event(EventLevel::Warn, format!("{}: {e}", kind.verb())),
    }
    if let Some(err) = audit_error {
        model.push_event(EventLevel::Bad, format!("AUDIT LOG WRITE FAILED: {err}"));
    }
    // Re-read before anything else: a late poll from before the action is dropped by generation.
    vec![fetch_rollout(model)]
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
fn resolve_unknown(model: &mut Model, at: DateTime<Utc>, r: &Rollout) -> Vec<Effect> {
    if model.in_flight.is_some() {
        return vec![];
    }
    let Some(u) = model.unresolved.take() else {
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
    let (level, text, result) = if applied {
        (
            EventLevel::Good,
            format!("{verb} took effect: {where_}"),
            "confirmed",
        )
    } else {
        (
            EventLevel::Bad,
            format!("{verb} did not take effect: still {where_}"),
            "not_applied",
        )
    };
    model.push_event(level, text.clone());
    model.action_status = Some((level, text.clone()));
    let first = *u.receipt;
    let completed = r.state == crate::domain::RolloutState::Completed;
    let receipt = AuditRecord {
        // Distinct from the first even when the read comes in the same millisecond.
        id: first.id.as_ref().map(|id| format!("{id}-resolved")),
        resolves: first.id.clone(),
        time: at,
        operation: if applied {
            crate::audit::operation(u.kind, completed).into()
        } else {
            first.operation.clone()
        },
        to_step: Some(r.step),
        to_weight: Some(r.canary_weight),
        // The first receipt has the verdicts the action was decided on.
        verdicts: vec![],
        override_reason: None,
        result: result.into(),
        message: Some(format!(
            "{text} (read after the UNKNOWN outcome of receipt {})",
            first.id.as_deref().unwrap_or("?")
        )),
        response: serde_json::to_value(r).ok(),
        ..first
    };
    vec![Effect::Audit {
        receipt: Box::new(receipt),
    }]
}

/// The time an in-flight action has taken, for the footer.
pub fn in_flight_for(model: &Model) -> Option<Duration> {
    model.in_flight.map(|f| age(f.since, model.now))
}
