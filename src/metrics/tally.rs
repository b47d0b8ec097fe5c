//! One track's raw counter counted as its points are read: per category (a histogram's bucket
//! bound, or the whole counter), the requests of each block of its grid, summed over the raw
//! series. What is kept is the counts and each raw series' last value, not the raw series: a
//! track of many pods keeps as much as one of a single pod, and a poll counts only the points it
//! read (`metrics::counts` turns two tracks' tallies into the judge's counts).
//!
//! The rules are `metrics::counts`' (a sample belongs to the nearest grid point within half a
//! step; a block counts a series' increment since its last value seen, a reset the new value),
//! and so is the rule for a series' first value: it only sets where the series starts when the
//! series is first seen at or before the track's first point with any series, and is all
//! increment (a new pod that started at 0) when first seen later. That first value is kept apart
//! and placed when the counts are asked for, so the answer does not depend on the order the
//! points were read in, and an errors counter can start where its total does.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::blocks::Blocks;
use super::decode::Labels;
use crate::domain::Sample;

/// What a raw series of a track counts into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TallyKind {
    /// A histogram's `_bucket` series: one category per `le` bound.
    Histogram,
    /// A plain counter: every series sums into one category.
    Plain,
}

#[derive(Debug, Clone)]
struct SeriesState {
    category: usize,
    /// The grid point the series was first seen at, and its value there.
    first: Option<(usize, f64)>,
    last: Option<f64>,
}

/// One category's requests per block (block `i` is between grid points `i` and `i + 1`).
#[derive(Debug, Clone)]
struct Category {
    bound: f64,
    blocks: Blocks,
}

/// One track's counts so far on a grid `start_ms + k * spacing_ms`.
#[derive(Debug, Clone)]
pub struct Tally {
    kind: TallyKind,
    start_ms: i64,
    spacing_ms: i64,
    /// Grid points before this one are counted: a point laid again is skipped.
    next: usize,
    series: HashMap<Labels, SeriesState>,
    categories: Vec<Category>,
    /// The first series that is not a bucket (no `le`, or one that is not a bound), and its `le`.
    not_a_bucket: Option<(Labels, Option<String>)>,
}

impl Tally {
    /// Nothing counted yet on the grid from `start_ms`, `spacing_ms` apart.
    pub fn new(kind: TallyKind, start_ms: i64, spacing_ms: i64) -> Self {
        Self {
            kind,
            start_ms,
            spacing_ms: spacing_ms.max(1),
            next: 0,
            series: HashMap::new(),
            categories: Vec::new(),
            not_a_bucket: None,
        }
    }

    /// A whole answer over `grid` counted at once (what an incremental tally must equal).
    pub fn whole(
        kind: TallyKind,
        grid: &[DateTime<Utc>],
        matrix: &[(Labels, Vec<Sample>)],
    ) -> Self {
        let first = grid.first().map_or(0, DateTime::timestamp_millis);
        let spacing = match (grid.first(), grid.get(1)) {
            (Some(a), Some(b)) => (*b - *a).num_milliseconds(),
            _ => 1,
        };
        let mut tally = Self::new(kind, first, spacing);
        let last = grid.last().map_or(first, DateTime::timestamp_millis);
        tally.lay((first, last), matrix);
        tally
    }

    pub fn start_ms(&self) -> i64 {
        self.start_ms
    }

    /// Raw series seen.
    pub fn series(&self) -> usize {
        self.series.len()
    }

    /// No raw series seen at all.
    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// The first grid point at which the track had any series (counting starts there).
    pub fn first_seen(&self) -> Option<usize> {
        self.series
            .values()
            .filter_map(|s| s.first.map(|(i, _)| i))
            .min()
    }

    /// The first series that is not a histogram bucket, with its `le` if it has one.
    pub fn not_a_bucket(&self) -> Option<(&Labels, Option<&str>)> {
        self.not_a_bucket
            .as_ref()
            .map(|(labels, le)| (labels, le.as_deref()))
    }

    /// Counts the grid points `[from_ms, to_ms]` of `fetched` (the answer to a range query over
    /// them, at the grid's spacing); points before the grid's start, or already counted, are
    /// skipped. Parts of a read are laid in time order.
    pub fn lay(&mut self, (from_ms, to_ms): (i64, i64), fetched: &[(Labels, Vec<Sample>)]) {
        let from_ms = from_ms.max(self.start_ms);
        if to_ms < from_ms {
            return;
        }
        let index = |ms: i64| usize::try_from((ms - self.start_ms) / self.spacing_ms).unwrap_or(0);
        let (first, last) = (index(from_ms), index(to_ms));
        for (labels, samples) in fetched {
            // Labels are copied once per new series, not at every read of a known one; a known
            // one is hashed twice, not three times (every label of every series read).
            if !self.series.contains_key(labels) {
                let Some(category) = self.category_of_new(labels) else {
                    continue;
                };
                let new = SeriesState {
                    category,
                    first: None,
                    last: None,
                };
                self.series.insert(labels.clone(), new);
            }
            let values = self.on_grid(samples, (first, last));
            let Some(state) = self.series.get_mut(labels) else {
                continue;
            };
            let blocks = &mut self.categories[state.category].blocks;
            for (k, value) in values.into_iter().enumerate() {
                let i = first + k;
                let Some(value) = value.filter(|_| i >= self.next) else {
                    continue;
                };
                match state.last {
                    None => state.first = Some((i, value)),
                    Some(previous) => {
                        // A reset counts the new value; an increment is never negative.
                        let increment = if value < previous {
                            value
                        } else {
                            value - previous
                        };
                        blocks.add(i - 1, increment);
                    }
                }
                state.last = Some(value);
            }
        }
        self.next = self.next.max(last + 1);
    }

    /// The value of each grid point `first..=last`: the finite sample nearest to it within half
    /// a step (the earlier point on a tie; the later sample when two are as near), as
    /// `metrics::counts` places them. In whole milliseconds: this runs for every raw series read.
    pub fn on_grid(&self, samples: &[Sample], (first, last): (usize, usize)) -> Vec<Option<f64>> {
        let mut nearest: Vec<Option<(i64, f64)>> = vec![None; (last + 1).saturating_sub(first)];
        let spacing = self.spacing_ms;
        let in_range = |point: i64| {
            usize::try_from(point)
                .ok()
                .filter(|p| (first..=last).contains(p))
        };
        for sample in samples.iter().filter(|s| s.value.is_finite()) {
            let since_start = sample.at.timestamp_millis() - self.start_ms;
            let (k, off) = (
                since_start.div_euclid(spacing),
                since_start.rem_euclid(spacing),
            );
            // The points either side of the sample (on a point: that one), those on the grid.
            let before = in_range(k).map(|p| (p, off));
            let after = in_range(k + 1)
                .filter(|_| off > 0)
                .map(|p| (p, spacing - off));
            let (point, distance) = match (before, after) {
                (Some(b), Some(a)) if a.1 < b.1 => a,
                (Some(b), _) => b,
                (None, Some(a)) => a,
                (None, None) => continue,
            };
            if distance.saturating_mul(2) > spacing {
                continue;
            }
            let slot = &mut nearest[point - first];
            if slot.is_none_or(|(d, _)| distance <= d) {
                *slot = Some((distance, sample.value));
            }
        }
        nearest.into_iter().map(|n| n.map(|(_, v)| v)).collect()
    }

    /// The category a new series counts into (found or added); `None` for a histogram series that
    /// is not a bucket, which is kept to be told.
    fn category_of_new(&mut self, labels: &Labels) -> Option<usize> {
        let bound = match self.kind {
            TallyKind::Plain => 0.0,
            TallyKind::Histogram => {
                let le = labels.get("le");
                match le.and_then(|le| parse_le(le)) {
                    Some(bound) => bound,
                    None => {
                        if self.not_a_bucket.is_none() {
                            self.not_a_bucket = Some((labels.clone(), le.map(|le| le.to_string())));
                        }
                        return None;
                    }
                }
            }
        };
        Some(
            match self.categories.iter().position(|c| c.bound == bound) {
                Some(i) => i,
                None => {
                    self.categories.push(Category {
                        bound,
                        blocks: Blocks::default(),
                    });
                    self.categories.len() - 1
                }
            },
        )
    }

    /// Each category's requests per block, by bound (a plain counter's one category has bound
    /// 0), with the first value of each series first seen after the grid point `since` counted
    /// as new: `since` is the track's own first point with a series, or for an errors counter
    /// its total's.
    pub fn columns(&self, since: usize) -> Vec<(f64, Column<'_>)> {
        let mut columns: Vec<(f64, Column<'_>)> = self
            .categories
            .iter()
            .map(|c| {
                (
                    c.bound,
                    Column {
                        blocks: Some(&c.blocks),
                        new_series: Vec::new(),
                    },
                )
            })
            .collect();
        for state in self.series.values() {
            if let Some((i, value)) = state.first
                && i > since
            {
                columns[state.category].1.new_series.push((i - 1, value));
            }
        }
        columns
    }
}

/// One category's requests per block: what was counted between points, plus the first values
/// of the series that are new in a block.
#[derive(Debug, Clone, Default)]
pub struct Column<'a> {
    blocks: Option<&'a Blocks>,
    new_series: Vec<(usize, f64)>,
}

impl Column<'_> {
    /// Requests in block `i` (0 past what was counted).
    pub fn get(&self, i: usize) -> f64 {
        let counted = self.blocks.map_or(0.0, |b| b.get(i));
        self.new_series
            .iter()
            .filter(|(block, _)| *block == i)
            .fold(counted, |sum, (_, v)| sum + v.max(0.0))
    }
}

/// A bucket bound: a number (`0.1` and `0.10` are the same), `+Inf`/`Inf` for infinity.
pub fn parse_le(text: &str) -> Option<f64> {
    let value: f64 = text.trim().parse().ok()?;
    (!value.is_nan() && value != f64::NEG_INFINITY).then_some(if value == 0.0 {
        0.0 // -0 and 0 are one bucket
    } else {
        value
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const START: i64 = 1_700_000_000_000;
    const SPACING: i64 = 5_000;

    fn at(i: usize) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(START + i as i64 * SPACING).expect("time")
    }

    /// Per series (pod, le): its value at each point, `None` where absent.
    fn matrix(series: &[(usize, usize, Vec<Option<f64>>)]) -> Vec<(Labels, Vec<Sample>)> {
        series
            .iter()
            .map(|(pod, le, values)| {
                let labels = Labels::from([
                    ("pod".into(), format!("p{pod}").into()),
                    ("le".into(), ["0.1", "0.5", "+Inf"][*le].into()),
                ]);
                let samples = values
                    .iter()
                    .enumerate()
                    .filter_map(|(i, v)| {
                        Some(Sample {
                            at: at(i),
                            value: (*v)?,
                        })
                    })
                    .collect();
                (labels, samples)
            })
            // An engine answers no series with no point in the range.
            .filter(|(_, samples): &(Labels, Vec<Sample>)| !samples.is_empty())
            .collect()
    }

    /// Only the answer's points within `[from, to]`, as a range query over them gives.
    fn part(m: &[(Labels, Vec<Sample>)], from: usize, to: usize) -> Vec<(Labels, Vec<Sample>)> {
        m.iter()
            .map(|(l, s)| {
                let cut = s
                    .iter()
                    .filter(|p| (at(from)..=at(to)).contains(&p.at))
                    .copied()
                    .collect::<Vec<_>>();
                (l.clone(), cut)
            })
            .filter(|(_, s)| !s.is_empty())
            .collect()
    }

    fn per_block(tally: &Tally, since: usize, blocks: usize) -> Vec<(u64, Vec<f64>)> {
        let mut columns = tally.columns(since);
        columns.sort_by(|a, b| a.0.total_cmp(&b.0));
        columns
            .into_iter()
            .map(|(le, c)| (le.to_bits(), (0..blocks).map(|i| c.get(i)).collect()))
            .collect()
    }

    fn series() -> impl Strategy<Value = (usize, usize, Vec<Option<f64>>)> {
        (
            0..3usize,
            0..3usize,
            0..30usize,
            proptest::collection::vec((0..4u8, 0..50u32), 30),
        )
            .prop_map(|(pod, le, born, steps)| {
                let mut value = 0.0;
                let values = steps
                    .into_iter()
                    .enumerate()
                    .map(|(i, (what, by))| {
                        value += f64::from(by);
                        match what {
                            _ if i < born => None,
                            0 => None, // a scrape gap
                            1 => {
                                value = f64::from(by); // a reset
                                Some(value)
                            }
                            _ => Some(value),
                        }
                    })
                    .collect();
                (pod, le, values)
            })
    }

    proptest! {
        /// Laid in parts (some laid twice, as a read asked again after it failed midway), the
        /// tally counts what one whole read counts, whatever the parts.
        #[test]
        fn parts_count_as_the_whole(
            mut series in proptest::collection::vec(series(), 1..8),
            cuts in proptest::collection::vec(1..30usize, 0..8),
            again in proptest::collection::vec(any::<bool>(), 8),
            since in 0..30usize,
        ) {
            series.sort_by_key(|(pod, le, _)| (*pod, *le));
            series.dedup_by_key(|(pod, le, _)| (*pod, *le));
            let m = matrix(&series);
            let grid: Vec<DateTime<Utc>> = (0..30).map(at).collect();
            let whole = Tally::whole(TallyKind::Histogram, &grid, &m);

            let mut bounds: Vec<usize> = cuts;
            bounds.extend([0, 30]);
            bounds.sort_unstable();
            bounds.dedup();
            let mut tally = Tally::new(TallyKind::Histogram, START, SPACING);
            for (k, pair) in bounds.windows(2).enumerate() {
                let (from, to) = (pair[0], pair[1] - 1);
                let range = (at(from).timestamp_millis(), at(to).timestamp_millis());
                tally.lay(range, &part(&m, from, to));
                if again[k % again.len()] {
                    tally.lay(range, &part(&m, from, to));
                }
            }
            prop_assert_eq!(tally.first_seen(), whole.first_seen());
            prop_assert_eq!(tally.series(), whole.series());
            for since in [since, whole.first_seen().unwrap_or(0)] {
                prop_assert_eq!(per_block(&tally, since, 29), per_block(&whole, since, 29));
            }
        }
    }

    /// Many pods of a track keep one column per bucket bound, not one per raw series.
    #[test]
    fn pods_sum_into_one_column_per_bound() {
        let series: Vec<(usize, usize, Vec<Option<f64>>)> = (0..3)
            .flat_map(|pod| (0..3).map(move |le| (pod, le, vec![Some(1.0), Some(3.0)])))
            .collect();
        let grid = [at(0), at(1)];
        let tally = Tally::whole(TallyKind::Histogram, &grid, &matrix(&series));
        assert_eq!(tally.series(), 9);
        let columns = per_block(&tally, 0, 1);
        assert_eq!(columns.len(), 3);
        assert!(columns.iter().all(|(_, blocks)| blocks == &[6.0]));
        // A point before the tally's start is not counted.
        let mut later = Tally::new(TallyKind::Plain, START + SPACING, SPACING);
        later.lay((START, START + SPACING), &matrix(&series[..1]));
        assert_eq!(later.first_seen(), Some(0));
        assert_eq!(per_block(&later, 0, 1), [(0f64.to_bits(), vec![0.0])]);
    }
}
