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
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CountBlock {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub baseline: Vec<f64>,
    pub canary: Vec<f64>,
}

impl CountBlock {
    pub fn baseline_requests(&self) -> f64 {
        self.baseline.iter().sum()
    }

    pub fn canary_requests(&self) -> f64 {
        self.canary.iter().sum()
    }
}

/// Consecutive blocks over the canary's life so far (or the part of it the source could see).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Counts {
    pub kind: CountKind,
    /// Oldest first; each block starts where the previous one ended.
    pub blocks: Vec<CountBlock>,
}

impl Counts {
    /// Requests counted per track: `(baseline, canary)`.
    pub fn requests(&self) -> (f64, f64) {
        self.blocks.iter().fold((0.0, 0.0), |(b, c), block| {
            (b + block.baseline_requests(), c + block.canary_requests())
        })
    }

    /// Canary requests in the blocks that end within `window` before `at`, for a gate's
    /// "requests behind this value".
    pub fn canary_requests_within(&self, at: DateTime<Utc>, window: std::time::Duration) -> f64 {
        let since = at - chrono::Duration::from_std(window).unwrap_or_default();
        self.blocks
            .iter()
            .filter(|b| b.end > since && b.end <= at)
            .map(CountBlock::canary_requests)
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
        if !self.blocks.windows(2).all(|w| w[0].end <= w[1].end) {
            return ats
                .iter()
                .map(|at| self.canary_requests_within(*at, window))
                .collect();
        }
        let span = chrono::Duration::from_std(window).unwrap_or_default();
        let mut so_far = Vec::with_capacity(self.blocks.len() + 1);
        so_far.push(0.0);
        for b in &self.blocks {
            so_far.push(so_far[so_far.len() - 1] + b.canary_requests());
        }
        ats.iter()
            .map(|at| {
                let from = self.blocks.partition_point(|b| b.end <= *at - span);
                let to = self.blocks.partition_point(|b| b.end <= *at);
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
    fn requests_sum_per_track_and_within_a_window() {
        let t = |s: i64| Utc.timestamp_opt(1_700_000_000 + s, 0).single().expect("t");
        let block = |end: i64, b: [f64; 2], c: [f64; 2]| CountBlock {
            start: t(end - 10),
            end: t(end),
            baseline: b.to_vec(),
            canary: c.to_vec(),
        };
        let counts = Counts {
            kind: CountKind::Errors,
            blocks: vec![
                block(10, [1.0, 99.0], [0.0, 5.0]),
                block(20, [2.0, 98.0], [1.0, 4.0]),
                block(30, [0.0, 100.0], [0.0, 7.0]),
            ],
        };
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
            let counts = Counts {
                kind: CountKind::Errors,
                blocks: canary
                    .iter()
                    .enumerate()
                    .map(|(i, c)| CountBlock {
                        start: t(i as i64),
                        end: t(i as i64 + 1),
                        baseline: vec![0.0, 1.0],
                        canary: vec![f64::from(*c % 7), f64::from(*c)],
                    })
                    .collect(),
            };
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
