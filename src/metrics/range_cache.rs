//! Incremental range queries: the points already fetched are kept, and each poll asks only for
//! the points since the last answer, plus the last `SETTLE_STEPS` point(s) again for samples
//! that arrived late. A new query, a new step, a window reaching further back, or a clock that went back
//! fetches the whole range once. The cost of a poll then grows with what changed, not with the
//! chart window.
//!
//! Every range is on the step grid (`start` and `end` are multiples of `step` since the epoch),
//! so an increment's points land on the same timestamps a full fetch would give.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::domain::{Sample, Series};

/// Points re-asked at the end of what was fetched: the newest point may have been computed
/// before its last scrape arrived.
pub const SETTLE_STEPS: i64 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    promql: String,
    step_ms: i64,
}

#[derive(Debug, Clone)]
struct Entry {
    /// The grid points `[start_ms, end_ms]` this entry answers for.
    start_ms: i64,
    end_ms: i64,
    points: Vec<Sample>,
}

/// One range wanted by a poll, in milliseconds on the step grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub start_ms: i64,
    pub end_ms: i64,
    pub step_ms: i64,
}

/// What to ask the engine for: `[from_ms, range.end_ms]`. `from_ms == range.start_ms` is a full
/// fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    pub from_ms: i64,
    pub range: Range,
}

/// Grid points asked in one range query at most: a whole read of an old fleet's step (50
/// rollouts, hours at a 5 s step) in one query took Prometheus longer than its timeout; in
/// pieces of half an hour each one answers in time.
pub const MAX_POINTS_PER_QUERY: i64 = 360;

impl Plan {
    pub fn is_full(&self) -> bool {
        self.from_ms <= self.range.start_ms
    }

    /// `[from_ms, to_ms]` of each query that asks this plan, oldest first, on the step grid,
    /// each of at most `max_points` points, together exactly the plan's points.
    pub fn pieces(&self, max_points: i64) -> Vec<(i64, i64)> {
        let step = self.range.step_ms.max(1);
        let span = step.saturating_mul(max_points.max(1));
        let mut pieces = Vec::new();
        let mut from = self.from_ms;
        while from <= self.range.end_ms {
            let to = from.saturating_add(span - step).min(self.range.end_ms);
            pieces.push((from, to));
            from = to.saturating_add(step);
        }
        pieces
    }

    /// Grid points asked for.
    pub fn points(&self) -> i64 {
        (self.range.end_ms - self.from_ms).div_euclid(self.range.step_ms.max(1)) + 1
    }
}

#[derive(Debug, Default)]
pub struct RangeCache {
    entries: Mutex<HashMap<Key, Entry>>,
}

impl RangeCache {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Entry>> {
        // A poisoned cache is still a valid cache: every entry is whole or absent.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The part of `range` to fetch for `promql`.
    pub fn plan(&self, promql: &str, range: Range) -> Plan {
        let key = Key {
            promql: promql.to_owned(),
            step_ms: range.step_ms,
        };
        let full = Plan {
            from_ms: range.start_ms,
            range,
        };
        let entries = self.entries();
        let Some(entry) = entries.get(&key) else {
            return full;
        };
        let covers_start = entry.start_ms <= range.start_ms;
        let reaches_window = entry.end_ms >= range.start_ms;
        let clock_forward = entry.end_ms <= range.end_ms;
        if !(covers_start && reaches_window && clock_forward) {
            return full;
        }
        let from_ms = (entry.end_ms - (SETTLE_STEPS - 1) * range.step_ms).max(range.start_ms);
        Plan { from_ms, range }
    }

    /// Folds an answer to `plan` into the cache and returns the whole range's series.
    pub fn merge(&self, promql: &str, plan: Plan, fetched: Series) -> Series {
        let Range {
            start_ms,
            end_ms,
            step_ms,
        } = plan.range;
        let key = Key {
            promql: promql.to_owned(),
            step_ms,
        };
        // A full answer is taken as it came; an increment's points before its start are the
        // cache's to give.
        let from_increment = |s: &Sample| plan.is_full() || s.at.timestamp_millis() >= plan.from_ms;
        let mut entries = self.entries();
        let mut points: Vec<Sample> = match entries.get(&key) {
            // The entry may have moved since the plan (another poll): keep what precedes the
            // increment and lies in this range.
            Some(entry)
                if !plan.is_full()
                    && entry.start_ms <= start_ms
                    && entry.end_ms >= plan.from_ms =>
            {
                entry
                    .points
                    .iter()
                    .filter(|s| {
                        let t = s.at.timestamp_millis();
                        t >= start_ms && t < plan.from_ms
                    })
                    .copied()
                    .collect()
            }
            Some(_) | None if !plan.is_full() => {
                // What the increment builds on is gone: answer what came, and let the next poll
                // fetch whole.
                entries.remove(&key);
                return Series::new(fetched.points.into_iter().filter(from_increment).collect());
            }
            _ => Vec::new(),
        };
        points.extend(fetched.points.into_iter().filter(from_increment));
        entries.insert(
            key,
            Entry {
                start_ms,
                end_ms,
                points: points.clone(),
            },
        );
        Series::new(points)
    }

    /// Forgets the entries no poll has asked for since `before_ms` (queries no longer sent, e.g.
    /// after the pod-template hashes changed), so memory does not grow with the rollout's age.
    pub fn forget_older_than(&self, before_ms: i64) {
        self.entries().retain(|_, e| e.end_ms >= before_ms);
    }

    pub fn len(&self) -> usize {
        self.entries().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};
    use proptest::prelude::*;

    const STEP: i64 = 5_000;

    /// A fake engine: one value per grid point, a pure function of the time, with gaps where
    /// the series had no samples (`t` divisible by 7 steps). A point is final once the clock
    /// has passed it by `SETTLE_STEPS` steps; before that it reads "not settled yet" (a late scrape arrives), which only a
    /// re-fetch corrects.
    fn engine(from_ms: i64, to_ms: i64, now_ms: i64) -> Series {
        let mut points = Vec::new();
        let mut t = from_ms;
        while t <= to_ms {
            if (t / STEP) % 7 != 0 {
                let settled = now_ms - t >= SETTLE_STEPS * STEP;
                let value = (t / STEP) as f64 * 0.5 + if settled { 0.0 } else { 100.0 };
                points.push(Sample {
                    at: DateTime::<Utc>::from_timestamp_millis(t).unwrap_or_default(),
                    value,
                });
            }
            t += STEP;
        }
        Series::new(points)
    }

    fn range(now_ms: i64, lookback_ms: i64) -> Range {
        let end_ms = now_ms.div_euclid(STEP) * STEP;
        let start_ms = (now_ms - lookback_ms).div_euclid(STEP) * STEP;
        Range {
            start_ms,
            end_ms,
            step_ms: STEP,
        }
    }

    /// One poll through the cache at `now_ms`; returns the series and the points asked for.
    fn poll(cache: &RangeCache, q: &str, now_ms: i64, lookback_ms: i64) -> (Series, i64) {
        let plan = cache.plan(q, range(now_ms, lookback_ms));
        let fetched = engine(plan.from_ms, plan.range.end_ms, now_ms);
        (cache.merge(q, plan, fetched), plan.points())
    }

    fn full(now_ms: i64, lookback_ms: i64) -> Series {
        let r = range(now_ms, lookback_ms);
        engine(r.start_ms, r.end_ms, now_ms)
    }

    proptest! {
        /// The pieces of a plan ask exactly its grid points, each once, in order, none longer
        /// than allowed.
        #[test]
        fn a_plans_pieces_cover_its_points_once(
            start in 0i64..1_000,
            from_after in 0i64..2_000,
            len in 0i64..3_000,
            max_points in 1i64..500,
        ) {
            let range = Range {
                start_ms: start * STEP,
                end_ms: (start + len) * STEP,
                step_ms: STEP,
            };
            let plan = Plan { from_ms: range.start_ms + from_after.min(len) * STEP, range };
            let pieces = plan.pieces(max_points);
            let mut asked = Vec::new();
            for (from, to) in &pieces {
                prop_assert!(from <= to);
                prop_assert!((to - from) / STEP < max_points);
                let mut t = *from;
                while t <= *to {
                    asked.push(t);
                    t += STEP;
                }
            }
            let wanted: Vec<i64> = (0..plan.points()).map(|k| plan.from_ms + k * STEP).collect();
            prop_assert_eq!(asked, wanted);
        }
    }

    #[test]
    fn the_second_poll_asks_only_for_the_new_points_and_one_step_back() {
        let cache = RangeCache::default();
        let (_, first) = poll(&cache, "up", 1_000_000, 300_000);
        assert_eq!(first, 61, "a 5m window at 5s steps is 61 points");
        let (series, second) = poll(&cache, "up", 1_005_000, 300_000);
        assert_eq!(second, 2, "the new point and the last one again");
        assert_eq!(series, full(1_005_000, 300_000));
    }

    #[test]
    fn a_longer_window_or_a_new_step_or_query_fetches_whole_once() {
        let cache = RangeCache::default();
        poll(&cache, "up", 1_000_000, 300_000);
        let (series, n) = poll(&cache, "up", 1_005_000, 900_000);
        assert_eq!(n, 181);
        assert_eq!(series, full(1_005_000, 900_000));
        let (_, n) = poll(&cache, "up", 1_010_000, 900_000);
        assert_eq!(n, 2);
        let (_, n) = poll(&cache, "other", 1_010_000, 900_000);
        assert_eq!(n, 181, "another query has its own entry");
        let wider = Range {
            step_ms: 2 * STEP,
            ..range(1_010_000, 900_000)
        };
        assert!(cache.plan("up", wider).is_full());
    }

    #[test]
    fn a_clock_that_went_back_or_a_long_gap_fetches_whole() {
        let cache = RangeCache::default();
        poll(&cache, "up", 1_000_000, 300_000);
        assert!(cache.plan("up", range(990_000, 300_000)).is_full());
        assert!(cache.plan("up", range(2_000_000, 300_000)).is_full());
    }

    #[test]
    fn forgetting_drops_what_no_poll_asked_for() {
        let cache = RangeCache::default();
        poll(&cache, "old", 1_000_000, 300_000);
        poll(&cache, "new", 1_400_000, 300_000);
        cache.forget_older_than(1_100_000);
        assert_eq!(cache.len(), 1);
        assert!(cache.plan("old", range(1_400_000, 300_000)).is_full());
    }

    #[test]
    fn without_the_settle_step_a_late_sample_would_stay_wrong() {
        // Guards the fake engine itself: a point read at its own time differs from its final
        // value, so the equality property below would catch a cache that never re-asks it.
        let early = engine(1_000_000 - STEP, 1_000_000, 1_000_000);
        let late = engine(1_000_000 - STEP, 1_000_000, 1_000_000 + STEP);
        assert_ne!(early, late);
    }

    proptest! {
        /// Polls at random moments (sometimes twice in one step, sometimes after a gap, with the
        /// chart window switched now and then) give exactly what a full fetch gives.
        #[test]
        fn incremental_equals_full(
            gaps in proptest::collection::vec(0i64..40_000, 1..60),
            windows in proptest::collection::vec(prop_oneof![Just(300_000i64), Just(900_000), Just(3_600_000)], 1..60),
        ) {
            let cache = RangeCache::default();
            let mut now = 10_000_000i64;
            for (i, gap) in gaps.iter().enumerate() {
                now += gap;
                let lookback = windows[i % windows.len()];
                let (series, _) = poll(&cache, "q", now, lookback);
                prop_assert_eq!(series, full(now, lookback), "poll {} at {}", i, now);
            }
        }
    }
}
