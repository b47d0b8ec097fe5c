//! Incremental grouped range queries: the fleet's answer to one grouped query (every member's
//! tracks) is kept on its step grid, and each new step asks only for the points since the last
//! answer plus the last one again (`range_cache::SETTLE_STEPS`), like a rollout's own queries.
//! Every member polling at a step the answer already reaches reads it without asking; a failed
//! ask is remembered for its step so the other members get the error without asking again.
//!
//! A new query (the fleet's members changed), a new step, a range reaching further back than
//! what is kept, or a long gap fetches the whole range once.

use std::collections::HashMap;

use crate::domain::{Sample, Series};
use crate::metrics::dense::DenseSeries;
use crate::metrics::range_cache::{Plan, Range, SETTLE_STEPS};

/// A grouped answer's series: by member (the rollout label's value), then by pod-template hash.
pub type ByMember<T> = HashMap<String, HashMap<String, T>>;

/// Steps kept before the range's start, so that a member whose poll was made a little earlier
/// (one waiting for the query budget) still reads what is kept instead of asking whole again.
pub const LAG_STEPS: i64 = 12;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    promql: String,
    step_ms: i64,
}

#[derive(Debug)]
struct Entry {
    /// The grid points `[start_ms, end_ms]` the kept series answer for.
    start_ms: i64,
    end_ms: i64,
    series: ByMember<DenseSeries>,
}

/// What a member's poll does for one grouped query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ask {
    /// The kept answer reaches this range: read it.
    Held,
    /// The last ask at this step failed: its error, not asked again.
    Failed(String),
    /// Ask the engine for this part of the range.
    Fetch(Plan),
}

/// A grouped answer as its pieces come in, kept on the plan's grid (8 bytes a point) rather than
/// as timestamped samples (24): an hour-old fleet's first answers, every member of four queries
/// at once, were held whole as samples until the last piece came, the console's start-up peak.
#[derive(Debug)]
pub struct Staged {
    from_ms: i64,
    step_ms: i64,
    series: ByMember<DenseSeries>,
}

impl Staged {
    /// Nothing yet of the answer to `plan`.
    pub fn new(plan: &Plan) -> Self {
        Self {
            from_ms: plan.from_ms,
            step_ms: plan.range.step_ms,
            series: HashMap::new(),
        }
    }

    /// A piece of the answer, after the earlier ones (pieces come oldest first).
    pub fn lay(&mut self, piece: ByMember<Vec<Sample>>) {
        let (from_ms, step_ms) = (self.from_ms, self.step_ms);
        for (member, hashes) in piece {
            let kept = self.series.entry(member).or_default();
            for (hash, samples) in hashes {
                kept.entry(hash)
                    .or_insert_with(|| DenseSeries::new(from_ms, step_ms))
                    .lay_over(&samples);
            }
        }
    }
}

#[derive(Debug, Default)]
pub struct GroupRanges {
    entries: HashMap<Key, Entry>,
    /// The step (`end_ms`) a query last failed at, and why.
    failures: HashMap<Key, (i64, String)>,
}

fn key(promql: &str, step_ms: i64) -> Key {
    Key {
        promql: promql.to_owned(),
        step_ms,
    }
}

impl GroupRanges {
    /// What to do for `promql` over `range`.
    pub fn ask(&self, promql: &str, range: Range) -> Ask {
        let key = key(promql, range.step_ms);
        if let Some((at, why)) = self.failures.get(&key)
            && *at == range.end_ms
        {
            return Ask::Failed(why.clone());
        }
        let full = Ask::Fetch(Plan {
            from_ms: range.start_ms,
            range,
        });
        let Some(entry) = self.entries.get(&key) else {
            return full;
        };
        if entry.start_ms > range.start_ms || entry.end_ms < range.start_ms {
            return full;
        }
        if entry.end_ms >= range.end_ms {
            // A member polling at a step already answered, or one step behind another.
            return Ask::Held;
        }
        let from_ms = (entry.end_ms - (SETTLE_STEPS - 1) * range.step_ms).max(range.start_ms);
        Ask::Fetch(Plan { from_ms, range })
    }

    /// Folds the engine's answer to `plan` in (an error is remembered for the plan's step).
    pub fn answer(&mut self, promql: &str, plan: Plan, got: Result<Staged, String>) {
        let Range {
            start_ms,
            end_ms,
            step_ms,
        } = plan.range;
        let key = key(promql, step_ms);
        let got = match got {
            Ok(got) => got,
            Err(why) => {
                self.failures.insert(key, (end_ms, why));
                return;
            }
        };
        self.failures.remove(&key);
        let builds_on_kept = !plan.is_full()
            && self
                .entries
                .get(&key)
                .is_some_and(|e| e.start_ms <= start_ms && e.end_ms >= plan.from_ms);
        let entry = self.entries.entry(key).or_insert_with(|| Entry {
            start_ms,
            end_ms,
            series: HashMap::new(),
        });
        let kept_from = entry.start_ms;
        if builds_on_kept {
            // What the increment reads again, and a series it no longer has, ends here.
            for dense in entry.series.values_mut().flat_map(HashMap::values_mut) {
                dense.forget_from(plan.from_ms);
            }
        } else {
            // A full answer, or an increment whose ground is gone (taken as far as it goes).
            entry.series.clear();
        }
        for (member, hashes) in got.series {
            let kept = entry.series.entry(member).or_default();
            for (hash, staged) in hashes {
                kept.entry(hash)
                    .or_insert_with(|| DenseSeries::new(start_ms, step_ms))
                    .lay_over(&staged.cut(i64::MIN, i64::MAX));
            }
        }
        entry.start_ms = if builds_on_kept {
            kept_from.max(start_ms - LAG_STEPS * step_ms)
        } else if plan.is_full() {
            start_ms
        } else {
            plan.from_ms
        };
        entry.end_ms = end_ms;
        let from = entry.start_ms;
        entry.series.retain(|_, hashes| {
            hashes.retain(|_, dense| dense.forget_before(from));
            !hashes.is_empty()
        });
    }

    /// `member`'s series for `hash` over `range`, as kept (empty where the answer had none).
    pub fn pick(&self, promql: &str, range: Range, member: &str, hash: &str) -> Series {
        let kept = self
            .entries
            .get(&key(promql, range.step_ms))
            .and_then(|e| e.series.get(member))
            .and_then(|hashes| hashes.get(hash));
        match kept {
            Some(dense) => Series::new(dense.cut(range.start_ms, range.end_ms)),
            None => Series::default(),
        }
    }

    /// Forgets the queries no member has asked since `before_ms` (the fleet's members changed,
    /// so its query did), so memory does not grow with the console's age.
    pub fn forget_older_than(&mut self, before_ms: i64) {
        self.entries.retain(|_, e| e.end_ms >= before_ms);
        self.failures.retain(|_, (at, _)| *at >= before_ms);
    }

    /// The members with a series in the kept answer to `promql` at this step.
    pub fn members_answered(&self, promql: &str, step_ms: i64) -> usize {
        self.entries
            .get(&key(promql, step_ms))
            .map_or(0, |e| e.series.len())
    }

    /// Queries kept.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;
    use proptest::prelude::*;

    const STEP: i64 = 5_000;
    const MEMBERS: [&str; 3] = ["a", "b", "c"];
    const HASHES: [&str; 3] = ["s", "c", "old"];

    /// A fake engine for the whole fleet: each (member, hash) has a point at `t` unless the
    /// series is absent there (each has its own gaps and its own lifetime: `old` ends, `c` is
    /// born), and a point not yet `SETTLE_STEPS` old reads differently (a late scrape), even
    /// where it will be a gap.
    fn engine(from_ms: i64, to_ms: i64, now_ms: i64) -> ByMember<Vec<Sample>> {
        let mut out: ByMember<Vec<Sample>> = HashMap::new();
        for (m, member) in MEMBERS.iter().enumerate() {
            for (h, hash) in HASHES.iter().enumerate() {
                let mut points = Vec::new();
                let mut t = from_ms;
                while t <= to_ms {
                    let n = t / STEP;
                    let alive = match *hash {
                        "old" => n < 2_040,
                        "c" => n >= 2_010,
                        _ => true,
                    };
                    let gap = (n + i64::try_from(m + h).unwrap_or(0)) % 7 == 0;
                    let settled = now_ms - t >= SETTLE_STEPS * STEP;
                    // Before it settles a gap still shows a value (a scrape target gone, its
                    // staleness not yet seen): the increment must take it back.
                    if alive && (!gap || !settled) {
                        let value = n as f64 + (m * 10 + h) as f64 / 100.0;
                        points.push(Sample {
                            at: DateTime::from_timestamp_millis(t).unwrap_or_default(),
                            value: if settled { value } else { value + 1_000.0 },
                        });
                    }
                    t += STEP;
                }
                if !points.is_empty() {
                    out.entry((*member).into())
                        .or_default()
                        .insert((*hash).into(), points);
                }
            }
        }
        out
    }

    fn range(now_ms: i64, lookback_ms: i64) -> Range {
        Range {
            start_ms: (now_ms - lookback_ms).div_euclid(STEP) * STEP,
            end_ms: now_ms.div_euclid(STEP) * STEP,
            step_ms: STEP,
        }
    }

    /// One member's poll at `now_ms`; returns the points asked for (0 when read as kept).
    fn poll(groups: &mut GroupRanges, now_ms: i64, lookback_ms: i64) -> i64 {
        match groups.ask("q", range(now_ms, lookback_ms)) {
            Ask::Fetch(plan) => {
                let mut got = Staged::new(&plan);
                // In pieces, as the source asks a long range.
                for (from_ms, to_ms) in plan.pieces(50) {
                    got.lay(engine(from_ms, to_ms, now_ms));
                }
                groups.answer("q", plan, Ok(got));
                plan.points()
            }
            Ask::Held | Ask::Failed(_) => 0,
        }
    }

    fn whole(now_ms: i64, lookback_ms: i64, member: &str, hash: &str) -> Series {
        let r = range(now_ms, lookback_ms);
        let mut all = engine(r.start_ms, r.end_ms, now_ms);
        let points = all
            .get_mut(member)
            .and_then(|h| h.remove(hash))
            .unwrap_or_default();
        Series::new(points)
    }

    #[test]
    fn the_next_step_asks_for_its_point_and_the_last_one_again() {
        let mut groups = GroupRanges::default();
        assert_eq!(poll(&mut groups, 10_000_000, 300_000), 61);
        assert_eq!(poll(&mut groups, 10_001_000, 300_000), 0, "same step: read");
        assert_eq!(poll(&mut groups, 10_005_000, 300_000), 2);
        let r = range(10_005_000, 300_000);
        assert_eq!(
            groups.pick("q", r, "b", "s"),
            whole(10_005_000, 300_000, "b", "s")
        );
        // A member a step behind the others reads what is kept.
        assert_eq!(groups.ask("q", range(10_000_000, 300_000)), Ask::Held);
        for now in (10_010_000..=10_100_000).step_by(5_000) {
            poll(&mut groups, now, 300_000);
        }
        let behind = range(10_100_000 - LAG_STEPS * STEP, 300_000);
        assert_eq!(
            groups.ask("q", behind),
            Ask::Held,
            "{LAG_STEPS} steps behind"
        );
        let further = range(10_100_000 - (LAG_STEPS + 1) * STEP, 300_000);
        assert!(matches!(groups.ask("q", further), Ask::Fetch(p) if p.is_full()));
    }

    #[test]
    fn a_failure_is_given_to_the_step_and_asked_again_at_the_next() {
        let mut groups = GroupRanges::default();
        poll(&mut groups, 10_000_000, 300_000);
        let Ask::Fetch(plan) = groups.ask("q", range(10_005_000, 300_000)) else {
            panic!("a new step asks");
        };
        groups.answer("q", plan, Err("down".into()));
        assert_eq!(
            groups.ask("q", range(10_006_000, 300_000)),
            Ask::Failed("down".into())
        );
        assert_eq!(
            poll(&mut groups, 10_010_000, 300_000),
            3,
            "from the last kept"
        );
        let r = range(10_010_000, 300_000);
        assert_eq!(
            groups.pick("q", r, "a", "c"),
            whole(10_010_000, 300_000, "a", "c")
        );
    }

    #[test]
    fn a_new_query_step_longer_range_or_long_gap_asks_whole_and_old_ones_are_forgotten() {
        let mut groups = GroupRanges::default();
        poll(&mut groups, 10_000_000, 300_000);
        assert_eq!(
            poll(&mut groups, 10_005_000, 900_000),
            181,
            "reaches further back"
        );
        assert!(matches!(
            groups.ask("q", range(11_000_000, 300_000)),
            Ask::Fetch(p) if p.is_full()
        ));
        let wider = Range {
            step_ms: 2 * STEP,
            ..range(10_010_000, 900_000)
        };
        assert!(matches!(groups.ask("q", wider), Ask::Fetch(p) if p.is_full()));
        assert!(
            matches!(groups.ask("r", range(10_010_000, 300_000)), Ask::Fetch(p) if p.is_full())
        );
        groups.forget_older_than(10_006_000);
        assert!(groups.is_empty());
    }

    #[test]
    fn a_series_gone_from_the_window_is_dropped() {
        let mut groups = GroupRanges::default();
        // `old` ends at step 2_040; 60 steps (and the lag kept) later the window no longer
        // reaches it.
        poll(&mut groups, 2_035 * STEP, 300_000);
        let held = |g: &GroupRanges| {
            g.entries
                .values()
                .map(|e| e.series["a"].len())
                .sum::<usize>()
        };
        assert_eq!(held(&groups), 3);
        for step in 2_036..2_120 {
            poll(&mut groups, step * STEP, 300_000);
        }
        assert_eq!(held(&groups), 2, "old is gone");
    }

    proptest! {
        /// Members polling at random moments (several in one step, gaps of many steps, the
        /// range switched now and then) read exactly what a whole fetch at that moment gives.
        #[test]
        fn incremental_equals_whole(
            gaps in proptest::collection::vec(0i64..40_000, 1..80),
            windows in proptest::collection::vec(prop_oneof![Just(300_000i64), Just(900_000)], 1..40),
        ) {
            let mut groups = GroupRanges::default();
            let mut now = 2_000 * STEP;
            for (i, gap) in gaps.iter().enumerate() {
                now += gap;
                let lookback = windows[i % windows.len()];
                poll(&mut groups, now, lookback);
                for member in MEMBERS {
                    for hash in HASHES {
                        let got = groups.pick("q", range(now, lookback), member, hash);
                        prop_assert_eq!(got, whole(now, lookback, member, hash), "poll {} {}/{}", i, member, hash);
                    }
                }
            }
        }
    }
}
