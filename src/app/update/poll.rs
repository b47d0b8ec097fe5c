//! Polling: which reads are due on a tick, and the generation counters that let a newer read
//! supersede one in flight (a late answer to an older request is dropped).

use chrono::{DateTime, Utc};

use crate::app::effect::Effect;
use crate::app::model::Model;
use crate::domain::Rollout;
use crate::domain::format::age;
use crate::metrics::{CountsQuery, FetchRequest, MetricQuery, SloQuery};

pub(super) fn polls_due(model: &mut Model) -> Vec<Effect> {
    let interval = model.settings.poll_interval;
    let due = |started: Option<DateTime<Utc>>, now| started.is_none_or(|s| age(s, now) >= interval);
    let mut effects = vec![];
    // A request that never answers must not stop polling forever: retry after 3 intervals.
    let stuck =
        |started: Option<DateTime<Utc>>, now| started.is_some_and(|s| age(s, now) >= interval * 3);
    if (!model.rollouts[model.open].polls.rollout_in_flight
        || stuck(model.rollouts[model.open].polls.rollout_started, model.now))
        && due(model.rollouts[model.open].polls.rollout_started, model.now)
    {
        effects.push(fetch_rollout(model));
    }
    if (!model.rollouts[model.open].polls.metrics_in_flight
        || stuck(model.rollouts[model.open].polls.metrics_started, model.now))
        && due(model.rollouts[model.open].polls.metrics_started, model.now)
    {
        effects.push(fetch_metrics(model));
    }
    effects
}

pub(super) fn fetch_rollout(model: &mut Model) -> Effect {
    model.rollouts[model.open].polls.rollout_generation += 1;
    model.rollouts[model.open].polls.rollout_in_flight = true;
    model.rollouts[model.open].polls.rollout_started = Some(model.now);
    Effect::FetchRollout {
        generation: model.rollouts[model.open].polls.rollout_generation,
        name: model.settings.rollout_name.clone(),
    }
}

pub(super) fn fetch_metrics(model: &mut Model) -> Effect {
    model.rollouts[model.open].polls.metrics_generation += 1;
    model.rollouts[model.open].polls.metrics_in_flight = true;
    model.rollouts[model.open].polls.metrics_started = Some(model.now);
    // Requests are counted over the canary's life: unknown until the rollout is read.
    let since = model.rollouts[model.open]
        .rollout
        .as_ref()
        .map(counted_since);
    for p in model.rollouts[model.open]
        .panels
        .iter_mut()
        .filter(|p| p.counters.is_some())
    {
        p.counted_since = since;
    }
    // The SLO windows move slowly: asked at most every `slo_refresh`, and at every poll while
    // one has no answer, an error or no data (a window Prometheus could not fill yet).
    let slos_due = {
        let r = &model.rollouts[model.open];
        r.polls
            .slos_answered
            .is_none_or(|t| age(t, model.now) >= model.slo_refresh)
            || r.slos.iter().any(|s| {
                s.error.is_some() || s.status.as_ref().is_none_or(|st| st.error_ratio.is_none())
            })
    };
    let request = FetchRequest {
        now: model.now,
        lookback: model.lookback(),
        step: model.settings.poll_interval,
        metrics: model.rollouts[model.open]
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
        slos: slos_due
            .then_some(&model.rollouts[model.open].slos)
            .into_iter()
            .flatten()
            .map(|s| SloQuery {
                name: s.def.name.clone(),
                error_ratio: s.query.clone(),
                window: s.def.window,
                recorded: s.def.recorded.clone(),
            })
            .collect(),
        tracks: model.rollouts[model.open]
            .pod_hash_tracks
            .as_ref()
            .and_then(|p| p.tracks(model.rollouts[model.open].rollout.as_ref())),
        priority: crate::metrics::Priority::Open,
    };
    // What this poll sends, as sent, for the detail view.
    for p in &mut model.rollouts[model.open].panels {
        p.sent_queries =
            p.rendered_queries(model.query_selectors.as_ref(), request.tracks.as_ref());
    }
    Effect::FetchMetrics {
        generation: model.rollouts[model.open].polls.metrics_generation,
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
