//! A raw counter read for the whole fleet at once (`[fleet] group_by`): the first member's poll
//! in a step reads the counter for every member on its grid spacing (only the points since the
//! last read, a member new to it whole once), the others' polls of that step read their tracks
//! from what is kept (`metrics::counter_group` plans the reads and splits the answers).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::counters::TrackRead;
use super::{PrometheusSource, samples_touched};
use crate::domain::counts::grid_bounds;
use crate::metrics::Group;
use crate::metrics::budget::Priority;
use crate::metrics::counter_group::{GroupedCounter, is_bare_selector};
use crate::metrics::decode::{PromError, QueryData, Response};
use crate::metrics::tally::{Tally, TallyKind};
use crate::metrics::template::{self, Vars};

type Entry = Arc<tokio::sync::Mutex<GroupedCounter>>;

/// Grid points asked in the first part of a read when no member's series are known yet; the
/// next parts (and a first one once they are) hold about [`SAMPLES_PER_PART`] samples.
const FIRST_PART_POINTS: i64 = 40;
/// Samples one part of a read may bring back: about 1 MB of JSON, and as much decoded. At
/// 100,000 a 50-rollout fleet's histogram (2,250 series) came back in parts of up to 360,000
/// samples asked, body and decoded samples 19 of the 25 MiB of heap at the console's peak
/// (heaptrack, a fleet 53 minutes old).
const SAMPLES_PER_PART: i64 = 25_000;

/// The fleet's raw counters read so far, by counter template, grid spacing and the labels that
/// tell the members and their tracks apart.
#[derive(Debug, Default)]
pub(super) struct CounterGroups {
    entries: std::sync::Mutex<HashMap<EntryKey, Entry>>,
}

type EntryKey = ((String, TallyKind), i64, (String, String));

impl CounterGroups {
    fn entry(
        &self,
        (counter, kind): (&str, TallyKind),
        spacing_ms: i64,
        (label, hash_label): (&str, &str),
    ) -> Entry {
        let new = || {
            Arc::new(tokio::sync::Mutex::new(GroupedCounter::new(
                kind, label, hash_label, spacing_ms,
            )))
        };
        match self.entries.lock() {
            Ok(mut entries) => entries
                .entry((
                    (counter.to_string(), kind),
                    spacing_ms,
                    (label.to_string(), hash_label.to_string()),
                ))
                .or_insert_with(new)
                .clone(),
            // Poisoned: read without keeping (whole, every time) rather than fail.
            Err(_) => new(),
        }
    }

    /// Forgets the counters no poll read since `before_ms` (a spacing no member is on any more).
    pub(super) fn forget_older_than(&self, before_ms: i64) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.retain(|_, e| {
                e.try_lock()
                    .map_or(true, |e| e.end_ms().is_some_and(|end| end >= before_ms))
            });
        }
    }
}

/// A member's two tracks of one raw counter, counted as the two per-track reads would have
/// counted them, and what reading them cost this poll.
pub(super) struct GroupedTracks {
    pub baseline: TrackRead,
    pub canary: TrackRead,
    pub queries: usize,
    pub points: u64,
    pub samples: Option<u64>,
}

impl PrometheusSource {
    /// `group.member`'s tracks of the raw counter `counter` counted from `since`, from the
    /// fleet's reads; `None` when the counter cannot be read for the fleet (not a bare selector,
    /// `$rollout` in it, the member's hashes not known yet): it is read per rollout then.
    pub(super) async fn grouped_counter(
        &self,
        priority: Priority,
        group: &Group,
        (counter, kind): (&str, TallyKind),
        (since, now, step): (DateTime<Utc>, DateTime<Utc>, Duration),
    ) -> Option<GroupedTracks> {
        if group.stable_hash.is_empty() || group.canary_hash.is_empty() {
            return None;
        }
        if !is_bare_selector(counter) {
            return None;
        }
        let render = |members: &[String]| {
            let selector = self
                .member_selectors
                .get(&group.service, &group.label, members)
                .ok_or_else(|| {
                    "[fleet] service does not match the rollout by group_by".to_string()
                })?;
            let vars = Vars {
                selector: Some(&selector),
                service: Some(&selector),
                // Read raw, and a query naming its own rollout cannot be asked for all of them.
                window: None,
                rollout: None,
            };
            template::render(counter, &vars)
        };
        // Whether the counter can be read for the fleet at all (the list only fills a regex).
        render(&group.members).ok()?;
        let own = grid_bounds(since, now, step)?;
        // The members on this member's spacing, each from its own grid's start.
        let mut class: Vec<(String, i64)> = group
            .members
            .iter()
            .zip(&group.counted_since)
            .filter(|(m, _)| **m != group.member)
            .filter_map(|(m, since)| {
                let b = grid_bounds((*since)?, now, step)?;
                (b.spacing_ms == own.spacing_ms).then(|| (m.clone(), b.first_ms))
            })
            .collect();
        class.push((group.member.clone(), own.first_ms));

        let entry = self.counter_groups.entry(
            (counter, kind),
            own.spacing_ms,
            (&group.label, &group.hash_label),
        );
        // Held while the reads are in flight: the other members' polls of this step wait for
        // them and read their answer instead of asking again.
        let mut entry = entry.lock().await;
        let spacing = Duration::from_millis(own.spacing_ms.unsigned_abs());
        let at = |ms| DateTime::from_timestamp_millis(ms).unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
        let (mut queries, mut points, mut samples) = (0, 0u64, None);
        let mut warnings = Vec::new();
        let mut failed: Option<Result<Response, PromError>> = None;
        'reads: for read in entry.plan(&class, own.last_ms) {
            let promql = match render(&read.members) {
                Ok(q) => q,
                Err(e) => {
                    failed = Some(Err(PromError::Unsupported(e)));
                    break;
                }
            };
            // A whole read of a fleet's counter (every member's series since its canary began)
            // is asked in parts: one answer of thousands of series by 720 points was 20 MB of
            // JSON decoded at once, a peak the allocator then kept.
            // Sized by the series its members are expected to have, once some are known.
            let expected = entry
                .series_per_member()
                .map(|per| per.saturating_mul(read.members.len()));
            let mut part_points = expected.map_or(FIRST_PART_POINTS, |series| {
                (SAMPLES_PER_PART / i64::try_from(series).unwrap_or(i64::MAX).max(1)).max(1)
            });
            let mut most_series = expected.unwrap_or(0);
            let mut from_ms = read.from_ms;
            while let Some((part_from, part_end)) =
                read.next_part(from_ms, own.spacing_ms, part_points)
            {
                // Released once the part is laid over (or failed), at the loop's end.
                let _one_at_a_time = self.fleet_reads.acquire().await.ok();
                let response = self
                    .client
                    .query_range_with(priority, &promql, at(part_from), at(part_end), spacing)
                    .await;
                queries += 1;
                points +=
                    u64::try_from((part_end - part_from) / own.spacing_ms.max(1) + 1).unwrap_or(0);
                if let Some(more) = samples_touched([&response]) {
                    samples = Some(samples.unwrap_or(0u64).saturating_add(more));
                }
                match response {
                    Ok(Response {
                        data: QueryData::Matrix(series),
                        warnings: said,
                        ..
                    }) => {
                        warnings.extend(said);
                        tracing::trace!(
                            counter = %counter,
                            members = read.members.len(),
                            whole = read.whole,
                            points = (part_end - part_from) / own.spacing_ms.max(1) + 1,
                            series = series.len(),
                            samples = series.iter().map(|(_, s)| s.len()).sum::<usize>(),
                            "grouped counter part read"
                        );
                        // Sized by the most series seen, growing at most twofold: an early
                        // part may predate most series (members that started later). Parts
                        // with no series at all do not grow: doubled four times over an empty
                        // stretch, the first part with the fleet's 2,250 series in it was 160
                        // points long.
                        most_series = most_series.max(series.len());
                        if most_series > 0 {
                            let per_point = i64::try_from(most_series).unwrap_or(i64::MAX);
                            part_points = (SAMPLES_PER_PART / per_point).clamp(1, 2 * part_points);
                        }
                        entry.lay((part_from, part_end), series);
                    }
                    // Not a matrix, or an error: both tracks answer what the engine said.
                    other => {
                        failed = Some(other);
                        break 'reads;
                    }
                }
                from_ms = part_end + own.spacing_ms.max(1);
            }
            entry.finish(&read);
        }
        let track = |hash: &str| match &failed {
            Some(Err(e)) => TrackRead::Failed(e.clone()),
            Some(Ok(_)) => TrackRead::NotRange,
            None => TrackRead::Counted(
                entry
                    .pick((&group.member, hash), own.first_ms)
                    // No series of this track yet: it counts zero.
                    .unwrap_or_else(|| Arc::new(Tally::new(kind, own.first_ms, own.spacing_ms))),
                warnings.clone(),
            ),
        };
        Some(GroupedTracks {
            baseline: track(&group.stable_hash),
            canary: track(&group.canary_hash),
            queries,
            points,
            samples,
        })
    }
}
