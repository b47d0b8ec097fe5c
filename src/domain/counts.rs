//! Requests counted per track between evaluation points: what the sequential judge reads.
//!
//! A block is the interval between two evaluation points. Its counts are exact increments of the
//! raw counters (resets handled by the metrics layer), summed per track, never `rate()` or
//! `increase()` extrapolations. Latency counts are per bucket (not cumulative); error counts are
//! `[failed, ok]`.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// What the categories of a block are.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CountKind {
    /// Latency buckets: `bounds[k]` is bucket k's upper bound in seconds, ascending, the last one
    /// `+Inf`. Bucket k counts the requests in `(bounds[k-1], bounds[k]]` (bucket 0 from 0).
    Latency { bounds: Vec<f64> },
    /// Two categories: `[failed, ok]`.
    Errors,
}

impl CountKind {
    /// How many categories a block of this kind has.
    pub fn categories(&self) -> usize {
        match self {
            Self::Latency { bounds } => bounds.len(),
            Self::Errors => 2,
        }
    }
}

/// One interval's counts for both tracks, one value per category.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CountBlock<'a> {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub baseline: &'a [f64],
    pub canary: &'a [f64],
}

impl CountBlock<'_> {
    pub fn baseline_requests(&self) -> f64 {
        self.baseline.iter().sum()
    }

    pub fn canary_requests(&self) -> f64 {
        self.canary.iter().sum()
    }
}

/// Consecutive blocks over the canary's life so far (or the part of it the source could see).
///
/// Kept flat, in one allocation for every block's values: a fleet builds one per counted
/// metric of each member at each step, all at once, and two small vectors per block made those
/// bursts the largest part of a 50-rollout console's memory.
#[derive(Debug, Clone, PartialEq)]
pub struct Counts {
    pub kind: CountKind,
    /// `(start, end)` per block, oldest first; each block starts where the previous one ended.
    spans: Vec<(DateTime<Utc>, DateTime<Utc>)>,
    /// Per block, its baseline's categories then its canary's.
    values: Vec<f64>,
}

impl Counts {
    pub fn new(kind: CountKind) -> Self {
        Self::with_capacity(kind, 0)
    }

    pub fn with_capacity(kind: CountKind, blocks: usize) -> Self {
        let values = blocks * 2 * kind.categories();
        Self {
            kind,
            spans: Vec::with_capacity(blocks),
            values: Vec::with_capacity(values),
        }
    }

    /// Adds a block at the end. Each track has one value per category of `kind`: a missing one
    /// counts 0 and one past them is not kept (the metrics layer always gives them all).
    pub fn push(
        &mut self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        baseline: &[f64],
        canary: &[f64],
    ) {
        let n = self.kind.categories();
        for track in [baseline, canary] {
            let kept = track.len().min(n);
            self.values.extend_from_slice(&track[..kept]);
            self.values.extend(std::iter::repeat_n(0.0, n - kept));
        }
        self.spans.push((start, end));
    }

    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Block `i`, oldest first.
    pub fn block(&self, i: usize) -> Option<CountBlock<'_>> {
        (i < self.len()).then(|| self.block_at(i))
    }

    /// Block `i < len`: its values are there by construction (`push` keeps them whole).
    fn block_at(&self, i: usize) -> CountBlock<'_> {
        let (start, end) = self.spans[i];
        let n = self.kind.categories();
        let values = self.values.get(i * 2 * n..(i + 1) * 2 * n).unwrap_or(&[]);
        let (baseline, canary) = values.split_at(values.len() / 2);
        CountBlock {
            start,
            end,
            baseline,
            canary,
        }
    }

    /// Block `i`'s values to change in place: `(baseline, canary)`.
    pub fn values_mut(&mut self, i: usize) -> Option<(&mut [f64], &mut [f64])> {
        let n = self.kind.categories();
        let values = self.values.get_mut(i * 2 * n..(i + 1) * 2 * n)?;
        Some(values.split_at_mut(n))
    }

    /// Every block, oldest first.
    pub fn blocks(&self) -> impl DoubleEndedIterator<Item = CountBlock<'_>> + ExactSizeIterator {
        (0..self.len()).map(|i| self.block_at(i))
    }

    pub fn first(&self) -> Option<CountBlock<'_>> {
        self.block(0)
    }

    pub fn last(&self) -> Option<CountBlock<'_>> {
        self.block(self.len().checked_sub(1)?)
    }

    /// Requests counted per track: `(baseline, canary)`.
    pub fn requests(&self) -> (f64, f64) {
        self.blocks().fold((0.0, 0.0), |(b, c), block| {
            (b + block.baseline_requests(), c + block.canary_requests())
        })
    }

    /// Canary requests in the blocks that end within `window` before `at`, for a gate's
    /// "requests behind this value".
    pub fn canary_requests_within(&self, at: DateTime<Utc>, window: std::time::Duration) -> f64 {
        let since = at - chrono::Duration::from_std(window).unwrap_or_default();
        self.blocks()
            .filter(|b| b.end > since && b.end <= at)
            .map(|b| b.canary_requests())
            .sum()
    }

    /// [`Self::canary_requests_within`] at each of `ats`, in one pass over the blocks (sums
    /// from the first block on): a gate asks it at every point of a hold, each poll of every
    /// rollout, and block by block that was a tenth of a fleet console's CPU.
    pub fn canary_requests_within_each(
        &self,
        ats: &[DateTime<Utc>],
        window: std::time::Duration,
    ) -> Vec<f64> {
        if !self.spans.windows(2).all(|w| w[0].1 <= w[1].1) {
            return ats
                .iter()
                .map(|at| self.canary_requests_within(*at, window))
                .collect();
        }
        let span = chrono::Duration::from_std(window).unwrap_or_default();
        let mut so_far = Vec::with_capacity(self.len() + 1);
        let mut sum = 0.0;
        so_far.push(sum);
        for b in self.blocks() {
            sum += b.canary_requests();
            so_far.push(sum);
        }
        ats.iter()
            .map(|at| {
                let since = *at - span;
                let from = self.spans.partition_point(|(_, end)| *end <= since);
                let to = self.spans.partition_point(|(_, end)| *end <= *at);
                if to > from {
                    so_far[to] - so_far[from]
                } else {
                    0.0
                }
            })
            .collect()
    }
}

/// At most this many blocks per count: a longer life gets a wider step (any block sizes are fine
/// for the test; fewer, larger blocks only cost a little power).
pub const MAX_BLOCKS: i64 = 720;

/// The evaluation points of a count over `[since, now]`: multiples of `step` since the epoch
/// (every source and every track shares them), widened to a multiple of `step` so there are at
/// most `MAX_BLOCKS` blocks. The first point is at or before `since`, the last at or before `now`.
/// Empty when `now` is before `since` or the step is zero.
pub fn grid(
    since: DateTime<Utc>,
    now: DateTime<Utc>,
    step: std::time::Duration,
) -> Vec<DateTime<Utc>> {
    let Some(GridBounds {
        first_ms,
        spacing_ms,
        last_ms,
    }) = grid_bounds(since, now, step)
    else {
        return Vec::new();
    };
    (0..)
        .map(|i| first_ms + i * spacing_ms)
        .take_while(|t| *t <= last_ms)
        .filter_map(DateTime::from_timestamp_millis)
        .collect()
}

/// Where `grid` starts and ends and how far apart its points are, in epoch milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GridBounds {
    pub first_ms: i64,
    pub spacing_ms: i64,
    pub last_ms: i64,
}

/// The bounds of `grid(since, now, step)` without the points; `None` when the grid is empty.
pub fn grid_bounds(
    since: DateTime<Utc>,
    now: DateTime<Utc>,
    step: std::time::Duration,
) -> Option<GridBounds> {
    let step_ms = i64::try_from(step.as_millis()).unwrap_or(i64::MAX);
    if step_ms <= 0 || now < since {
        return None;
    }
    let span_ms = (now - since).num_milliseconds();
    let widen = (span_ms / step_ms).div_euclid(MAX_BLOCKS) + 1;
    let spacing_ms = step_ms.saturating_mul(widen);
    let first_ms = since.timestamp_millis().div_euclid(spacing_ms) * spacing_ms;
    let last_ms = now.timestamp_millis().div_euclid(spacing_ms) * spacing_ms;
    (first_ms <= last_ms).then_some(GridBounds {
        first_ms,
        spacing_ms,
        last_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn blocks_read_back_as_pushed_each_track_with_one_value_per_category() {
        let t = |s: i64| Utc.timestamp_opt(1_700_000_000 + s, 0).single().expect("t");
        let mut counts = Counts::new(CountKind::Latency {
            bounds: vec![0.1, 0.5, f64::INFINITY],
        });
        counts.push(t(0), t(5), &[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]);
        // A short track counts 0 where it has no value; one too long is cut at the categories.
        counts.push(t(5), t(10), &[7.0], &[8.0, 9.0, 10.0, 11.0]);
        assert_eq!(counts.len(), 2);
        let second = counts.block(1).expect("second");
        assert_eq!((second.start, second.end), (t(5), t(10)));
        assert_eq!(second.baseline, [7.0, 0.0, 0.0]);
        assert_eq!(second.canary, [8.0, 9.0, 10.0]);
        assert_eq!(counts.first().map(|b| b.canary), Some(&[4.0, 5.0, 6.0][..]));
        assert_eq!(
            counts.blocks().rev().map(|b| b.end).collect::<Vec<_>>(),
            [t(10), t(5)]
        );
        assert!(counts.block(2).is_none());
        if let Some((baseline, _)) = counts.values_mut(0) {
            baseline[1] = 20.0;
        }
        assert_eq!(counts.requests(), (7.0 + 1.0 + 20.0 + 3.0, 15.0 + 27.0));
    }

    #[test]
    fn requests_sum_per_track_and_within_a_window() {
        let t = |s: i64| Utc.timestamp_opt(1_700_000_000 + s, 0).single().expect("t");
        let mut counts = Counts::new(CountKind::Errors);
        for (end, b, c) in [
            (10, [1.0, 99.0], [0.0, 5.0]),
            (20, [2.0, 98.0], [1.0, 4.0]),
            (30, [0.0, 100.0], [0.0, 7.0]),
        ] {
            counts.push(t(end - 10), t(end), &b, &c);
        }
        assert_eq!(counts.requests(), (300.0, 17.0));
        assert_eq!(
            counts.canary_requests_within(t(30), std::time::Duration::from_secs(15)),
            12.0
        );
        assert_eq!(CountKind::Errors.categories(), 2);
    }

    proptest::proptest! {
        /// Whole request counts: summed from the start or block by block, the same.
        #[test]
        fn requests_within_each_point_equal_the_block_by_block_sums(
            canary in proptest::collection::vec(0u32..1_000, 0..40),
            ats in proptest::collection::vec(-2i64..45, 0..20),
            window in 0u64..120,
        ) {
            let t = |s: i64| Utc.timestamp_opt(1_700_000_000 + s * 5, 0).single().expect("t");
            let mut counts = Counts::new(CountKind::Errors);
            for (i, c) in canary.iter().enumerate() {
                counts.push(
                    t(i as i64),
                    t(i as i64 + 1),
                    &[0.0, 1.0],
                    &[f64::from(*c % 7), f64::from(*c)],
                );
            }
            let ats: Vec<_> = ats.into_iter().map(t).collect();
            let window = std::time::Duration::from_secs(window);
            let each: Vec<f64> = ats.iter().map(|at| counts.canary_requests_within(*at, window)).collect();
            proptest::prop_assert_eq!(counts.canary_requests_within_each(&ats, window), each);
        }
    }

    #[test]
    fn the_grid_is_aligned_and_never_longer_than_max_blocks() {
        let t = |s: i64| Utc.timestamp_opt(s, 0).single().expect("t");
        let g = grid(t(1_003), t(1_031), std::time::Duration::from_secs(10));
        assert_eq!(g, vec![t(1_000), t(1_010), t(1_020), t(1_030)]);
        let long = grid(t(0), t(86_400), std::time::Duration::from_secs(5));
        assert!(long.len() as i64 <= MAX_BLOCKS + 1, "{}", long.len());
        let step = (long[1] - long[0]).num_seconds();
        assert_eq!(step % 5, 0);
        assert!(grid(t(10), t(5), std::time::Duration::from_secs(1)).is_empty());
        let bounds = grid_bounds(t(0), t(86_400), std::time::Duration::from_secs(5));
        assert_eq!(
            bounds.map(|b| (b.first_ms, b.spacing_ms, b.last_ms)),
            Some((
                0,
                step * 1_000,
                long.last().map_or(0, |l| l.timestamp_millis())
            ))
        );
    }
}
