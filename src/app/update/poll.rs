//! Polling: which reads are due on a tick, and the generation counters that let a newer read
//! supersede one in flight (a late answer to an older request is dropped).

use chrono::{DateTime, Utc};

use crate::app::effect::Effect;
use crate::app::model::Model;
use crate::domain::Rollout;
use crate::domain::attention::Attention;
use crate::domain::format::age;
use crate::metrics::{
    CountsQuery, FetchRequest, ForRollout, Group, MetricQuery, Priority, SloQuery,
};
use std::time::Duration;

/// How much slower than `poll_interval` a fleet row's metrics are asked while it is not on
/// screen: the list needs each row's verdict, not its every point.
pub const ROW_POLL_FACTOR: u32 = 3;
/// A finished rollout (completed, rolled back) moves no more: its row is asked more rarely still.
pub const FINISHED_POLL_FACTOR: u32 = 12;

/// Every read that is due at `model.now`, for every rollout the console follows: the one on
/// screen at `poll_interval` and first in the query budget; the fleet's other rows at a slower
/// pace, those that need a human before the rest.
pub(super) fn polls_due(model: &mut Model) -> Vec<Effect> {
    let mut effects: Vec<Effect> = fleet_read_due(model).into_iter().collect();
    effects.extend((0..model.rollouts.len()).flat_map(|i| polls_due_for(model, i)));
    effects
}

/// Whether rollout `i` is read with the fleet's one call rather than on its own: the backend
/// reads the fleet whole, and the row is not on screen (the rollout on screen is read on its
/// own, so that its read never waits behind the fleet's).
fn read_with_the_fleet(model: &Model, i: usize) -> bool {
    model.reads_fleet_whole && model.rollouts.len() > 1 && model.on_screen() != Some(i)
}

/// The fleet's one read, when any row it covers is due: every covered row's read is then this
/// one (its generation), so that an older read of a row still in flight is dropped on arrival.
/// One `GET /rollouts` every poll, not fifty `GET /rollouts/NAME`.
fn fleet_read_due(model: &mut Model) -> Option<Effect> {
    let covered: Vec<usize> = (0..model.rollouts.len())
        .filter(|&i| read_with_the_fleet(model, i))
        .collect();
    if !covered.iter().any(|&i| rollout_read_due(model, i)) {
        return None;
    }
    let generation = model.next_generation();
    for i in covered {
        mark_read_sent(model, i, generation);
    }
    Some(Effect::FetchFleet { generation })
}

/// Rollout `i`'s read is due (on its own or with the fleet's): every `poll_interval`.
fn rollout_read_due(model: &Model, i: usize) -> bool {
    let polls = &model.rollouts[i].polls;
    due(
        polls.rollout_in_flight,
        polls.rollout_started,
        model.now,
        model.settings.poll_interval,
    )
}

fn mark_read_sent(model: &mut Model, i: usize, generation: u64) {
    let polls = &mut model.rollouts[i].polls;
    polls.rollout_generation = generation;
    polls.rollout_in_flight = true;
    polls.rollout_started = Some(model.now);
    polls.first_read_asked.get_or_insert(model.now);
}

/// The reads of rollout `i` that are due at `model.now`, at its pace.
pub(super) fn polls_due_for(model: &mut Model, i: usize) -> Vec<Effect> {
    let mut effects = vec![];
    let (metrics_every, priority) = pace(model, i);
    let polls = &model.rollouts[i].polls;
    let rollout_due = !read_with_the_fleet(model, i) && rollout_read_due(model, i);
    let metrics_due = match polls.metrics_next_at {
        Some(at)
            if polls.metrics_started.is_some()
                && !polls.metrics_in_flight
                && model.on_screen() != Some(i) =>
        {
            model.now >= at
        }
        _ => due(
            polls.metrics_in_flight,
            polls.metrics_started,
            model.now,
            metrics_every,
        ),
    };
    // Pod-hash tracks need the hashes, and request counts the canary's start: a poll sent
    // before the first read answers asks for nothing it can use (50 rows × every query at
    // start, ahead of the real ones in the query budget), and the read's answer asks again at
    // once (`rollout_answered`).
    let r = &model.rollouts[i];
    let needs_the_rollout =
        r.pod_hash_tracks.is_some() || r.panels.iter().any(|p| p.counters.is_some());
    let waits_for_first_read =
        needs_the_rollout && r.rollout.is_none() && (rollout_due || polls.rollout_in_flight);
    if rollout_due {
        effects.push(fetch_rollout(model, i));
    }
    if metrics_due
        && !waits_for_first_read
        && !waits_for_the_fleet(model, i)
        && !waits_for_its_first_slot(model, i)
    {
        effects.push(fetch_metrics(model, i, priority));
    }
    effects
}

/// Once the fleet is read, one row's first poll reads the fleet's grouped answers whole; once it
/// answered, the other rows' first polls go spread over one step in their slots and read them
/// kept (all at once, fifty members' first answers, each a canary's whole history, were alive
/// together: the start-up peak of the console's memory).
fn waits_for_its_first_slot(model: &mut Model, i: usize) -> bool {
    let on_screen = model.on_screen() == Some(i);
    let step_ms = i64::try_from(model.settings.poll_interval.as_millis()).unwrap_or(i64::MAX);
    let now = model.now;
    if on_screen || !model.rollouts[i].grouped || model.rollouts[i].polls.metrics_started.is_some()
    {
        return false;
    }
    // One row's first poll reads the fleet whole; the others wait for its answer, then go in
    // their slots. Sent together, they all waited on that read and came back at once, fifty
    // rows' whole counts alive together (heaptrack: 14 of the 32 MiB at the start-up peak).
    let grouped = || model.rollouts.iter().filter(|o| o.grouped);
    let fleet_read_pending = grouped()
        .any(|o| o.polls.metrics_started.is_some() && !o.polls.metrics_answered)
        && !grouped().any(|o| o.polls.metrics_answered);
    if fleet_read_pending {
        return true;
    }
    let r = &mut model.rollouts[i];
    // The slot is set the first time the row may poll (the fleet is read), then kept: within
    // one step from then.
    let at = *r
        .polls
        .metrics_next_at
        .get_or_insert_with(|| now + chrono::Duration::milliseconds(slot_offset_ms(step_ms, i)));
    now < at
}

/// A grouped row's first metrics poll waits until every grouped row's first read has answered
/// (or failed, or had three intervals to): the fleet's grouped reads then know every member
/// from the first, and read the fleet's counters whole once. Sent as each read came in, every
/// first poll knew only the rows read so far, and the 50 members of an hour-old fleet were each
/// read whole on their own: about 600 queries in the first 40 seconds, most polls past their
/// 15-second limit.
pub(super) fn waits_for_the_fleet(model: &Model, i: usize) -> bool {
    let grouped_fleet = model
        .template
        .as_ref()
        .and_then(|t| t.selectors.as_ref())
        .is_some_and(|f| f.group_by.is_some());
    let r = &model.rollouts[i];
    if !grouped_fleet || !r.grouped || r.polls.metrics_started.is_some() {
        return false;
    }
    let patience = model.settings.poll_interval * 3;
    model.rollouts.iter().any(|other| {
        other.grouped
            && other.rollout.is_none()
            && other.rollout_error.is_none()
            && other
                .polls
                .first_read_asked
                .is_none_or(|sent| age(sent, model.now) < patience)
    })
}

/// A read is due once its interval has passed since the last was sent, and none is in flight;
/// a request that never answers must not stop polling forever: retried after 3 intervals.
fn due(
    in_flight: bool,
    started: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    every: Duration,
) -> bool {
    match started {
        None => true,
        Some(s) if in_flight => age(s, now) >= every * 3,
        Some(s) => age(s, now) >= every,
    }
}

/// How often rollout `i`'s metrics are asked and at which priority in the query budget.
pub(super) fn pace(model: &Model, i: usize) -> (Duration, Priority) {
    let interval = model.settings.poll_interval;
    if model.on_screen() == Some(i) {
        return (interval, Priority::Open);
    }
    let r = &model.rollouts[i];
    if r.rollout.as_ref().is_some_and(|r| r.state.is_terminal()) {
        return (interval * FINISHED_POLL_FACTOR, Priority::Background);
    }
    let needs_a_human = r.rank.is_none_or(|rank| rank <= Attention::ReadyToPromote);
    let priority = if needs_a_human {
        Priority::Attention
    } else {
        Priority::Background
    };
    (interval * ROW_POLL_FACTOR, priority)
}

/// How many slots a step is cut into for the fleet's rows: they poll spread over the step (so
/// that a few answers are alive at once, not fifty) and all within it (so that a grouped query
/// is asked once for them all, its other members reading the answer).
const ROW_SLOTS: u32 = 5;

/// When row `index`, polled at `now` every `every`, is next due: in the first step of the next
/// `every` on the epoch's grid (steps are `step` long on the epoch's grid, like the queries'
/// ranges), at the row's slot in it. Every row of a cadence thus polls in the same step, however
/// late its last poll went (an answer in flight past its slot, the first polls): a grouped read
/// then serves them all once a cadence. Rows left to drift apart from their own last polls had
/// split into two steps, each reading the fleet's raw counters whole, twice as often.
pub fn next_row_poll(
    now: DateTime<Utc>,
    every: Duration,
    step: Duration,
    index: usize,
) -> DateTime<Utc> {
    let step_ms = i64::try_from(step.as_millis()).unwrap_or(i64::MAX).max(1);
    let every_ms = i64::try_from(every.as_millis())
        .unwrap_or(i64::MAX)
        .max(step_ms);
    let then_ms = now.timestamp_millis().saturating_add(every_ms);
    let cadence_start = then_ms.div_euclid(every_ms) * every_ms;
    let at = cadence_start.saturating_add(slot_offset_ms(step_ms, index));
    DateTime::from_timestamp_millis(at).unwrap_or(now + every)
}

/// How far into a step row `index`'s slot begins.
fn slot_offset_ms(step_ms: i64, index: usize) -> i64 {
    let slot = i64::try_from(index % ROW_SLOTS as usize).unwrap_or(0);
    step_ms * slot / i64::from(ROW_SLOTS)
}

pub(super) fn fetch_rollout(model: &mut Model, i: usize) -> Effect {
    let generation = model.next_generation();
    mark_read_sent(model, i, generation);
    Effect::FetchRollout {
        generation,
        name: model.rollouts[i].name.clone(),
    }
}

pub(super) fn fetch_metrics(model: &mut Model, i: usize, priority: Priority) -> Effect {
    model.rollouts[i].polls.metrics_generation = model.next_generation();
    model.rollouts[i].polls.metrics_asked += 1;
    model.rollouts[i].polls.metrics_in_flight = true;
    model.rollouts[i].polls.metrics_started = Some(model.now);
    let (every, _) = pace(model, i);
    model.rollouts[i].polls.metrics_next_at = (model.on_screen() != Some(i))
        .then(|| next_row_poll(model.now, every, model.settings.poll_interval, i));
    // Requests are counted over the canary's life: unknown until the rollout is read.
    let since = model.rollouts[i].rollout.as_ref().map(counted_since);
    let ended = model.rollouts[i]
        .rollout
        .as_ref()
        .is_some_and(|r| r.state.is_terminal());
    for p in model.rollouts[i]
        .panels
        .iter_mut()
        .filter(|p| p.counters.is_some())
    {
        p.counted_since = since;
        // A rollout that moves again (a new revision) is counted afresh.
        p.counted_to_the_end &= ended;
        p.ended_at_last_count &= ended;
    }
    // The SLO windows move slowly: asked at most every `slo_refresh`, and at every poll while
    // one has no answer, an error or no data (a window Prometheus could not fill yet).
    let slos_due = {
        let r = &model.rollouts[i];
        r.polls
            .slos_answered
            .is_none_or(|t| age(t, model.now) >= model.slo_refresh)
            || r.slos.iter().any(|s| {
                s.error.is_some() || s.status.as_ref().is_none_or(|st| st.error_ratio.is_none())
            })
    };
    let request = FetchRequest {
        now: model.now,
        lookback: model.lookback(i),
        step: model.settings.poll_interval,
        metrics: model.rollouts[i]
            .panels
            .iter()
            .map(|p| MetricQuery {
                name: p.def.name.clone(),
                query: p.query.clone(),
                window: p.window,
                counts: p
                    .counters
                    .clone()
                    .filter(|_| !p.counted_to_the_end)
                    .zip(since)
                    .map(|(counters, (since, _))| CountsQuery { counters, since }),
            })
            .collect(),
        slos: slos_due
            .then_some(&model.rollouts[i].slos)
            .into_iter()
            .flatten()
            .map(|s| SloQuery {
                name: s.def.name.clone(),
                error_ratio: s.query.clone(),
                window: s.def.window,
                recorded: s.def.recorded.clone(),
            })
            .collect(),
        tracks: model.rollouts[i]
            .pod_hash_tracks
            .as_ref()
            .and_then(|p| p.tracks(model.rollouts[i].rollout.as_ref())),
        priority,
        // One rollout alone: the source's own selectors; a fleet's rows carry theirs.
        rollout: (model.rollouts.len() > 1).then(|| ForRollout {
            name: model.rollouts[i].name.clone(),
            selectors: model.rollouts[i].selectors.clone(),
            group: group(model, i),
        }),
    };
    // What this poll sends, as sent, for the detail view.
    let selectors = model.rollouts[i]
        .selectors
        .clone()
        .or_else(|| model.query_selectors.clone());
    for p in &mut model.rollouts[i].panels {
        p.sent_queries = p.rendered_queries(selectors.as_ref(), request.tracks.as_ref());
    }
    Effect::FetchMetrics {
        generation: model.rollouts[i].polls.metrics_generation,
        request,
        first: !model.rollouts[i].polls.metrics_answered,
    }
}

/// The fleet's grouping for rollout `i`, when it is queried with it and its hashes are known.
fn group(model: &Model, i: usize) -> Option<Box<Group>> {
    let r = &model.rollouts[i];
    let fleet = model.template.as_ref()?.selectors.as_ref()?;
    let label = fleet.group_by.clone().filter(|_| r.grouped)?;
    let read = r.rollout.as_ref()?;
    let bare = |name: &str| name.rsplit('/').next().unwrap_or(name).to_string();
    let grouped: Vec<usize> = (0..model.rollouts.len())
        .filter(|&j| model.rollouts[j].grouped)
        .collect();
    Some(Box::new(Group {
        label,
        hash_label: fleet.pod_hash_label.clone(),
        service: fleet.service.clone(),
        members: grouped
            .iter()
            .map(|&j| bare(&model.rollouts[j].name))
            .collect(),
        member: bare(&r.name),
        stable_hash: read.stable_hash.clone().unwrap_or_default(),
        canary_hash: read.canary_hash.clone().unwrap_or_default(),
        lookback: grouped
            .iter()
            .map(|&j| model.lookback(j))
            .max()
            .unwrap_or_default(),
        slo_fresh_for: model.slo_interval(),
        recorded: fleet.recorded,
        counted_since: grouped
            .iter()
            .map(|&j| {
                // A member whose counting has ended is read no more: its series are let go.
                let counting = model.rollouts[j]
                    .panels
                    .iter()
                    .any(|p| p.counters.is_some() && !p.counted_to_the_end);
                let since = model.rollouts[j].rollout.as_ref().map(counted_since);
                since.filter(|_| counting).map(|(at, _)| at)
            })
            .collect(),
    }))
}

/// Where counting starts: the canary's first step when the backend reports its steps' history
/// (`true`), else the current step's start.
fn counted_since(r: &Rollout) -> (DateTime<Utc>, bool) {
    match r.history.iter().find(|h| h.step == 0) {
        Some(first) => (first.started_at, true),
        None => (r.step_started_at, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const STEP: Duration = Duration::from_secs(5);
    const EVERY: Duration = Duration::from_secs(15);

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(ms).expect("in range")
    }

    #[test]
    fn rows_polled_together_are_spread_over_one_step_one_cadence_later() {
        // 1_700_000_013.4 s: 3.4 s into its step and its cadence (1_700_000_010 is a multiple
        // of 15 s).
        let now = at(1_700_000_013_400);
        let next: Vec<i64> = (0..6)
            .map(|i| next_row_poll(now, EVERY, STEP, i).timestamp_millis())
            .collect();
        assert_eq!(
            next,
            [
                1_700_000_025_000,
                1_700_000_026_000,
                1_700_000_027_000,
                1_700_000_028_000,
                1_700_000_029_000,
                1_700_000_025_000
            ]
        );
        // A row whose poll went late (its answer was in flight at its slot) is back in the
        // fleet's step next time, sooner than a cadence.
        let late = at(1_700_000_019_000);
        assert_eq!(
            next_row_poll(late, EVERY, STEP, 2).timestamp_millis(),
            1_700_000_027_000
        );
    }

    proptest! {
        #[test]
        fn every_row_lands_in_the_cadences_first_step_within_a_cadence_and_a_step(
            now_ms in 1_600_000_000_000_i64..1_800_000_000_000,
            index in 0_usize..200,
        ) {
            let now = at(now_ms);
            let (step_ms, every_ms) = (5_000, 15_000);
            let next = next_row_poll(now, EVERY, STEP, index).timestamp_millis();
            let first = next_row_poll(now, EVERY, STEP, 0).timestamp_millis();
            prop_assert_eq!(next.div_euclid(step_ms), first.div_euclid(step_ms));
            prop_assert_eq!(first % every_ms, 0);
            prop_assert!(next > now_ms, "{next} {now_ms}");
            prop_assert!(next < now_ms + every_ms + step_ms, "{next} {now_ms}");
            // A row that polled in its slot (in the cadence's first step) waits about a cadence.
            if now_ms % every_ms < step_ms {
                prop_assert!(next > now_ms + every_ms - step_ms, "{next} {now_ms}");
            }
        }
    }
}
