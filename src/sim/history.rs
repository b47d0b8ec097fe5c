//! The simulator's last hour, second by second: each track's metric points and the counters a
//! scrape at that second would read; and what is read back from it: series at a step, counts
//! between grid points, the service's requests and errors over a window.

use chrono::{DateTime, Utc};
use std::collections::VecDeque;
use std::time::Duration;

use crate::domain::counts::{Counts, grid};
use crate::domain::{Sample, Series, Track};

use super::measures::{SimCounter, SimMetric, Totals, TrackPoint};

/// How much history the simulator keeps (the longest chart window, plus slack).
pub(super) const HISTORY_SECS: usize = 3_700;

#[derive(Debug, Clone, Copy)]
pub(super) struct HistoryPoint {
    pub(super) at: DateTime<Utc>,
    pub(super) baseline: TrackPoint,
    pub(super) canary: TrackPoint,
    pub(super) service_requests: u64,
    pub(super) service_errors: u64,
    /// The counters `[baseline, canary]` once this second's traffic is in: what a scrape at `at`
    /// would read.
    pub(super) totals: [Totals; 2],
}

/// The last [`HISTORY_SECS`] points, oldest first.
#[derive(Debug)]
pub(super) struct History {
    points: VecDeque<HistoryPoint>,
}

impl History {
    pub(super) fn new() -> Self {
        Self {
            points: VecDeque::with_capacity(HISTORY_SECS + 1),
        }
    }

    /// Append the newest second, forgetting what falls out of the history.
    pub(super) fn push(&mut self, point: HistoryPoint) {
        self.points.push_back(point);
        while self.points.len() > HISTORY_SECS {
            self.points.pop_front();
        }
    }

    /// The oldest second still kept.
    #[cfg(test)]
    pub(super) fn oldest(&self) -> Option<DateTime<Utc>> {
        self.points.front().map(|p| p.at)
    }

    /// A series at `step` spacing over `[now - lookback, now]`, newest point at `now` (a whole
    /// second, not after the newest point). No canary points at or before `started_at`.
    pub(super) fn series(
        &self,
        metric: SimMetric,
        track: Track,
        now: DateTime<Utc>,
        lookback: Duration,
        step: Duration,
        started_at: DateTime<Utc>,
    ) -> Series {
        let step_secs = step.as_secs().max(1) as i64;
        let count = (lookback.as_secs() as i64 / step_secs).max(0);
        let Some(newest) = self.points.back() else {
            return Series::default();
        };
        let newest_at = newest.at.min(now);
        let index_of = |at: DateTime<Utc>| -> Option<usize> {
            let back = (newest.at - at).num_seconds();
            if back < 0 {
                return None;
            }
            self.points.len().checked_sub(1 + back as usize)
        };
        let mut points = Vec::with_capacity(count as usize + 1);
        for k in (0..=count).rev() {
            let at = newest_at - chrono::Duration::seconds(k * step_secs);
            if let Some(point) = index_of(at).and_then(|i| self.points.get(i)) {
                let tp = match track {
                    Track::Baseline => point.baseline,
                    Track::Canary => point.canary,
                };
                let value = tp.get(metric);
                // No canary before the rollout began: a missing series, as Prometheus would have it.
                if track == Track::Canary && point.at <= started_at {
                    continue;
                }
                points.push(Sample {
                    at: point.at,
                    value,
                });
            }
        }
        Series::new(points)
    }

    /// Requests counted per track between the evaluation points `grid(since, now, step)`: block i
    /// is the counters at point i minus those at point i − 1, exactly. Points the history does not
    /// reach are left out, so the blocks start where data exists.
    pub(super) fn count(
        &self,
        counter: SimCounter,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
        step: Duration,
    ) -> Counts {
        let points: Vec<(DateTime<Utc>, &[Totals; 2])> = grid(since, now, step)
            .into_iter()
            .filter_map(|at| self.totals_at(at).map(|t| (at, t)))
            .collect();
        let mut counts = Counts::with_capacity(counter.kind(), points.len().saturating_sub(1));
        for w in points.windows(2) {
            let ((start, from), (end, to)) = (w[0], w[1]);
            counts.push(
                start,
                end,
                &counter.delta(&from[0], &to[0]),
                &counter.delta(&from[1], &to[1]),
            );
        }
        counts
    }

    /// The counters `[baseline, canary]` as a scrape at `at` would read them (the last whole
    /// second at or before `at`); `None` outside the history.
    fn totals_at(&self, at: DateTime<Utc>) -> Option<&[Totals; 2]> {
        let newest = self.points.back()?;
        if truncate_to_second(at) > newest.at {
            return None;
        }
        let i = self.points.partition_point(|p| p.at <= at);
        i.checked_sub(1)
            .and_then(|i| self.points.get(i))
            .map(|p| &p.totals)
    }

    /// The service's requests and errors in the seconds after `since`, and how many seconds the
    /// history had of them.
    pub(super) fn service_since(&self, since: DateTime<Utc>) -> (u64, u64, u64) {
        let (mut req, mut err, mut secs) = (0u64, 0u64, 0u64);
        for p in self.points.iter().rev().take_while(|p| p.at > since) {
            req += p.service_requests;
            err += p.service_errors;
            secs += 1;
        }
        (req, err, secs)
    }
}

pub(super) fn truncate_to_second(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::counts::CountKind;
    use crate::sim::histogram::{BUCKETS, SLOTS};
    use crate::sim::test_support::*;
    use crate::sim::{Scenario, SimCounter, SimMetric};

    #[test]
    fn no_canary_series_before_the_rollout_began() {
        let s = sim(Scenario::Healthy, 1);
        let canary = s.series(
            SimMetric::P95,
            Track::Canary,
            now(),
            Duration::from_secs(300),
            Duration::from_secs(5),
        );
        let baseline = s.series(
            SimMetric::P95,
            Track::Baseline,
            now(),
            Duration::from_secs(300),
            Duration::from_secs(5),
        );
        assert_eq!(baseline.points.len(), 61);
        assert!(canary.points.len() <= 2, "{}", canary.points.len());
    }

    #[test]
    fn counts_are_the_exact_increments_of_the_counters_on_the_shared_grid() {
        let mut s = sim(Scenario::ErrorSpike, 11);
        let start = now() + secs(20);
        s.advance_to(start);
        let before = *s.totals();
        let end = now() + secs(120);
        s.advance_to(end);
        let after = *s.totals();
        let step = Duration::from_secs(10);
        let latency = s.count(SimCounter::LatencyBuckets, start, end, step);
        let errors = s.count(SimCounter::Errors, start, end, step);

        // Blocks on the shared grid: consecutive points, each starting where the last one ended.
        let points = grid(start, end, step);
        assert_eq!(points.len(), 11);
        for counts in [&latency, &errors] {
            assert_eq!(counts.len(), points.len() - 1);
            for (b, w) in counts.blocks().zip(points.windows(2)) {
                assert_eq!((b.start, b.end), (w[0], w[1]));
            }
        }
        let CountKind::Latency { bounds } = &latency.kind else {
            panic!("{:?}", latency.kind)
        };
        assert_eq!(bounds.len(), SLOTS);
        assert_eq!(&bounds[..BUCKETS.len()], &BUCKETS[..]);
        assert_eq!(bounds.last(), Some(&f64::INFINITY));
        assert_eq!(errors.kind, CountKind::Errors);

        // The sum over the blocks is exactly the counters' difference.
        for (track, i) in [(Track::Baseline, 0), (Track::Canary, 1)] {
            let (b, a) = (&before[i], &after[i]);
            let slots = sum(&latency, track);
            let want: Vec<f64> = a
                .slots
                .iter()
                .zip(b.slots)
                .map(|(a, b)| (a - b) as f64)
                .collect();
            assert_eq!(slots, want, "{track:?}");
            let failed_ok = sum(&errors, track);
            let failed = (a.errors - b.errors) as f64;
            let all = (a.requests - b.requests) as f64;
            assert_eq!(failed_ok, vec![failed, all - failed], "{track:?}");
            assert!(
                all > 0.0 && failed > 0.0,
                "{track:?}: {all} requests, {failed} failed"
            );
        }

        // Per block the buckets (the last one +Inf) count every request, as [failed, ok] does.
        for (l, e) in latency.blocks().zip(errors.blocks()) {
            assert_eq!(l.baseline_requests(), e.baseline_requests());
            assert_eq!(l.canary_requests(), e.canary_requests());
            assert!(l.baseline_requests() > 0.0);
            assert_eq!(l.baseline.len(), SLOTS);
            assert_eq!(e.canary.len(), 2);
        }
        assert_eq!(
            latency.requests(),
            (
                (after[0].requests - before[0].requests) as f64,
                (after[1].requests - before[1].requests) as f64
            )
        );
    }

    #[test]
    fn counts_start_where_the_history_does_and_end_where_the_simulation_is() {
        let s = sim(Scenario::Healthy, 2);
        let step = Duration::from_secs(60);
        // Two hours back is before the history (and before the simulator's first second); a
        // minute ahead is not simulated yet.
        let counts = s.count(
            SimCounter::Errors,
            now() - secs(7_200),
            now() + secs(60),
            step,
        );
        let oldest = s.history().oldest().expect("history");
        let first = grid(now() - secs(7_200), now() + secs(60), step)
            .into_iter()
            .find(|t| *t >= oldest)
            .expect("a grid point in the history");
        assert_eq!(counts.first().map(|b| b.start), Some(first));
        assert_eq!(counts.last().map(|b| b.end), Some(now()));
        assert!(
            counts
                .blocks()
                .collect::<Vec<_>>()
                .windows(2)
                .all(|w| w[0].end == w[1].start)
        );
        assert_eq!(counts.len(), 61, "{}", counts.len());
        // Nothing at all when no two points are in the history.
        let none = s.count(
            SimCounter::Errors,
            now() - secs(7_200),
            now() - secs(3_800),
            step,
        );
        assert!(none.is_empty());
        // A step that does not divide a second still counts every request once.
        let fine = s.count(
            SimCounter::LatencyBuckets,
            now() - secs(10),
            now(),
            Duration::from_millis(250),
        );
        let coarse = s.count(
            SimCounter::LatencyBuckets,
            now() - secs(10),
            now(),
            Duration::from_secs(10),
        );
        assert_eq!(fine.len(), 40);
        assert_eq!(fine.requests(), coarse.requests());
    }

    #[test]
    fn the_canary_counts_nothing_before_the_rollout_began() {
        let mut s = sim(Scenario::Healthy, 4);
        s.advance_to(now() + secs(20));
        let started = s.started_at();
        let counts = s.count(
            SimCounter::LatencyBuckets,
            started - secs(120),
            now() + secs(20),
            Duration::from_secs(1),
        );
        let (before, after): (Vec<_>, Vec<_>) = counts.blocks().partition(|b| b.end < started);
        assert_eq!(before.len(), 119);
        assert!(before.iter().all(|b| b.canary_requests() == 0.0));
        assert!(before.iter().all(|b| b.baseline_requests() > 0.0));
        let canary: f64 = after.iter().map(|b| b.canary_requests()).sum();
        assert!(canary > 100.0, "{canary}");
    }
}
