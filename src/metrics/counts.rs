//! Exact request counts per track between evaluation points, from the raw counters' tallies
//! (`metrics::tally` counts each answer as it is read; no I/O here: `metrics::source` runs the
//! queries), or from whole range answers.
//!
//! Each raw series is read at the grid points only (`domain::counts::grid`), and a block's count
//! is the series' increment between two points: never `rate()` or `increase()`, which extrapolate
//! to the window's edges and so are not whole requests.
//!
//! Per raw series:
//! - a sample belongs to the nearest grid point within half a step; others are ignored, and so
//!   are NaN and infinite values (as if absent);
//! - the increment of block `i` (between points `i-1` and `i`) is the value at `i` minus the last
//!   value seen before it, even across gaps: a scrape gap puts its requests into the block where
//!   the series reappears;
//! - a value lower than the last one is a counter reset (the process restarted at 0): the
//!   increment is the new value;
//! - a series first seen at point 0 only sets its starting value; one first seen later is a new
//!   series (a new pod) that started at 0, so its first value is all increment;
//! - an increment is never negative.
//!
//! The increments are summed per track over every other label (per `le` for a histogram).

use chrono::{DateTime, Utc};

use super::decode::Labels;
#[cfg(test)]
use super::tally::parse_le;
use super::tally::{Column, Tally, TallyKind};
use crate::domain::Sample;
use crate::domain::counts::{CountKind, Counts};

/// What a range query returned: one `(labels, samples)` per raw series.
pub type Matrix = [(Labels, Vec<Sample>)];

/// One counter's range answers for both tracks, with the queries as sent (for messages).
#[derive(Debug, Clone, Copy)]
pub struct Answers<'a> {
    pub baseline_query: &'a str,
    pub canary_query: &'a str,
    pub baseline: &'a Matrix,
    pub canary: &'a Matrix,
}

/// What the template of a histogram's counter should look like, for error messages.
const BUCKET_EXAMPLE: &str = "e.g. http_request_duration_seconds_bucket{$selector}";

/// A count of `kind` with one block per pair of grid points.
fn blocks(
    kind: CountKind,
    grid: &[DateTime<Utc>],
    mut per_block: impl FnMut(usize, &mut Vec<f64>, &mut Vec<f64>),
) -> Counts {
    let mut counts = Counts::with_capacity(kind, grid.len().saturating_sub(1));
    let (mut baseline, mut canary) = (Vec::new(), Vec::new());
    for (i, pair) in grid.windows(2).enumerate() {
        baseline.clear();
        canary.clear();
        per_block(i, &mut baseline, &mut canary);
        counts.push(pair[0], pair[1], &baseline, &canary);
    }
    counts
}

/// One counter's tallies for both tracks, with the queries as sent (for messages).
#[derive(Debug, Clone, Copy)]
pub struct Tallies<'a> {
    pub baseline_query: &'a str,
    pub canary_query: &'a str,
    pub baseline: &'a Tally,
    pub canary: &'a Tally,
}

impl Tallies<'_> {
    fn is_empty(&self) -> bool {
        self.baseline.is_empty() && self.canary.is_empty()
    }

    fn no_series(&self) -> String {
        format!(
            "the counter query returned no series for either track: {} (baseline), {} (canary)",
            self.baseline_query, self.canary_query
        )
    }
}

/// `[failed, ok]` per block from an errors counter and a total counter, read whole.
pub fn ratio(grid: &[DateTime<Utc>], errors: Answers, total: Answers) -> Result<Counts, String> {
    let tally = |m: &Matrix| Tally::whole(TallyKind::Plain, grid, m);
    let (eb, ec, tb, tc) = (
        tally(errors.baseline),
        tally(errors.canary),
        tally(total.baseline),
        tally(total.canary),
    );
    ratio_of(
        grid,
        Tallies {
            baseline_query: errors.baseline_query,
            canary_query: errors.canary_query,
            baseline: &eb,
            canary: &ec,
        },
        Tallies {
            baseline_query: total.baseline_query,
            canary_query: total.canary_query,
            baseline: &tb,
            canary: &tc,
        },
    )
}

/// `[failed, ok]` per block of `grid` from an errors counter's and a total counter's tallies. A
/// track without series counts zero (the canary may not serve yet). The total must have series
/// on some track; the errors counter need not (a service that never failed often has no 5xx
/// series at all).
pub fn ratio_of(grid: &[DateTime<Utc>], errors: Tallies, total: Tallies) -> Result<Counts, String> {
    if total.is_empty() {
        return Err(total.no_series());
    }
    fn column(tally: &Tally, since: usize) -> Column<'_> {
        tally
            .columns(since)
            .into_iter()
            .next()
            .map(|(_, c)| c)
            .unwrap_or_default()
    }
    // Errors counters often appear only at the first 5xx: they start where the total does.
    let since = [
        total.baseline.first_seen().unwrap_or(0),
        total.canary.first_seen().unwrap_or(0),
    ];
    let failed = [
        column(errors.baseline, since[0]),
        column(errors.canary, since[1]),
    ];
    let all = [
        column(total.baseline, since[0]),
        column(total.canary, since[1]),
    ];
    let split = |track: usize, i: usize, into: &mut Vec<f64>| {
        let failed = failed[track].get(i);
        into.extend([failed, (all[track].get(i) - failed).max(0.0)]);
    };
    Ok(blocks(CountKind::Errors, grid, |i, baseline, canary| {
        split(0, i, baseline);
        split(1, i, canary);
    }))
}

/// One track's histogram: `(le, cumulative count per block)`, ascending by `le`, ending at +Inf.
type Cumulative<'a> = Vec<(f64, Column<'a>)>;

/// Latency buckets per block from a histogram's `_bucket` series read whole.
pub fn histogram(
    grid: &[DateTime<Utc>],
    answers: Answers,
) -> Result<(Counts, Vec<String>), String> {
    let baseline = Tally::whole(TallyKind::Histogram, grid, answers.baseline);
    let canary = Tally::whole(TallyKind::Histogram, grid, answers.canary);
    histogram_of(
        grid,
        Tallies {
            baseline_query: answers.baseline_query,
            canary_query: answers.canary_query,
            baseline: &baseline,
            canary: &canary,
        },
    )
}

/// Latency buckets per block of `grid` from a histogram's `_bucket` tallies (cumulative by
/// `le`, in seconds). When the tracks' buckets differ, both are counted on the bounds they
/// share (a cumulative count at a shared bound is exact) and a warning says so.
pub fn histogram_of(
    grid: &[DateTime<Utc>],
    tallies: Tallies,
) -> Result<(Counts, Vec<String>), String> {
    for (track, tally) in [("baseline", tallies.baseline), ("canary", tallies.canary)] {
        if let Some((labels, le)) = tally.not_a_bucket() {
            return Err(match le {
                None => format!(
                    "the {track} series {} has no le label: is this the _bucket series? {BUCKET_EXAMPLE}",
                    describe(labels)
                ),
                Some(le) => format!(
                    "the {track} series {} has le={le:?}, which is not a bucket bound: \
                     is this the _bucket series? {BUCKET_EXAMPLE}",
                    describe(labels)
                ),
            });
        }
    }
    if tallies.is_empty() {
        return Err(tallies.no_series());
    }
    let baseline = cumulative("baseline", tallies.baseline)?;
    let canary = cumulative("canary", tallies.canary)?;
    let mut warnings = Vec::new();
    let (baseline, canary) = match (baseline, canary) {
        (Some(b), Some(c)) if !same_bounds(&b, &c) => {
            let shared: Vec<f64> = bounds(&b)
                .into_iter()
                .filter(|le| c.iter().any(|(other, _)| other == le))
                .collect();
            if shared.len() < 2 {
                return Err(format!(
                    "the baseline and canary histograms share no bucket bound but +Inf \
                     (baseline le: {}; canary le: {}): give both the same buckets",
                    list(&bounds(&b)),
                    list(&bounds(&c))
                ));
            }
            warnings.push(format!(
                "the baseline and canary histograms have different buckets (baseline le: {}; \
                 canary le: {}); counted on the {} bounds they share",
                list(&bounds(&b)),
                list(&bounds(&c)),
                shared.len()
            ));
            let keep = |h: &mut Cumulative<'_>| h.retain(|(le, _)| shared.contains(le));
            let (mut b, mut c) = (b, c);
            keep(&mut b);
            keep(&mut c);
            (b, c)
        }
        (Some(b), Some(c)) => (b, c),
        (Some(b), None) => {
            let c = zeros_like(&b);
            (b, c)
        }
        (None, Some(c)) => (zeros_like(&c), c),
        (None, None) => return Err(tallies.no_series()),
    };
    let kind = CountKind::Latency {
        bounds: bounds(&baseline),
    };
    let counts = blocks(kind, grid, |i, b, c| {
        decumulate(&baseline, i, b);
        decumulate(&canary, i, c);
    });
    Ok((counts, warnings))
}

/// A track's `_bucket` columns by `le`; `None` when the track has no series.
fn cumulative<'a>(track: &str, tally: &'a Tally) -> Result<Option<Cumulative<'a>>, String> {
    if tally.is_empty() {
        return Ok(None);
    }
    let since = tally.first_seen().unwrap_or(0);
    let mut by_le = tally.columns(since);
    by_le.sort_by(|a, b| a.0.total_cmp(&b.0));
    if by_le.last().is_none_or(|(le, _)| *le != f64::INFINITY) {
        return Err(format!(
            "the {track} histogram has no le=\"+Inf\" bucket (le: {}): select every bucket, \
             {BUCKET_EXAMPLE} with no le matcher",
            list(&bounds(&by_le))
        ));
    }
    Ok(Some(by_le))
}

fn bounds(h: &Cumulative<'_>) -> Vec<f64> {
    h.iter().map(|(le, _)| *le).collect()
}

fn same_bounds(a: &Cumulative<'_>, b: &Cumulative<'_>) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.0 == y.0)
}

fn zeros_like<'a>(h: &Cumulative<'_>) -> Cumulative<'a> {
    h.iter().map(|(le, _)| (*le, Column::default())).collect()
}

/// Block `i`'s per-bucket counts from the cumulative ones. Series are scraped at slightly
/// different moments, so a bucket may come out a little below zero: it counts zero.
fn decumulate(h: &Cumulative<'_>, i: usize, into: &mut Vec<f64>) {
    let mut below = 0.0;
    into.extend(h.iter().map(|(_, counts)| {
        let cumulative = counts.get(i);
        let bucket = (cumulative - below).max(0.0);
        below = cumulative;
        bucket
    }));
}

fn list(bounds: &[f64]) -> String {
    bounds
        .iter()
        .map(|b| {
            if *b == f64::INFINITY {
                "+Inf".to_string()
            } else {
                b.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `name{a="x", b="y"}`, for a message.
fn describe(labels: &Labels) -> String {
    let name = labels.get("__name__").map_or("", |n| n.as_ref());
    let rest: Vec<String> = labels
        .iter()
        .filter(|(k, _)| k.as_ref() != "__name__")
        .map(|(k, v)| format!("{k}={v:?}"))
        .collect();
    format!("{name}{{{}}}", rest.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_700_000_000;
    const STEP: i64 = 10;

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).expect("time")
    }

    /// Points 0..n, `STEP` seconds apart from `T0`.
    fn grid(n: i64) -> Vec<DateTime<Utc>> {
        (0..n).map(|i| t(T0 + i * STEP)).collect()
    }

    /// A sample at grid point `i` (plus `offset_ms`).
    fn at(i: i64, offset_ms: i64, value: f64) -> Sample {
        Sample {
            at: DateTime::from_timestamp_millis((T0 + i * STEP) * 1000 + offset_ms).expect("time"),
            value,
        }
    }

    /// Values at consecutive grid points from 0; `None` leaves the point out.
    fn points(values: &[Option<f64>]) -> Vec<Sample> {
        values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| Some(at(i as i64, 0, (*v)?)))
            .collect()
    }

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    fn bucket(pod: &str, le: &str, values: &[f64]) -> (Labels, Vec<Sample>) {
        let values: Vec<Option<f64>> = values.iter().copied().map(Some).collect();
        (
            labels(&[
                ("__name__", "http_request_duration_seconds_bucket"),
                ("pod", pod),
                ("le", le),
            ]),
            points(&values),
        )
    }

    fn counter(pod: &str, values: &[f64]) -> (Labels, Vec<Sample>) {
        let values: Vec<Option<f64>> = values.iter().copied().map(Some).collect();
        (labels(&[("pod", pod)]), points(&values))
    }

    fn answers<'a>(baseline: &'a Matrix, canary: &'a Matrix) -> Answers<'a> {
        Answers {
            baseline_query: "q{track=\"baseline\"}",
            canary_query: "q{track=\"canary\"}",
            baseline,
            canary,
        }
    }

    /// One series' increments per block, from a tally of it alone (`since`: the track's first
    /// point with a series).
    fn increments(samples: &[Sample], grid: &[DateTime<Utc>], since: usize) -> Vec<f64> {
        let matrix = [(labels(&[("pod", "a")]), samples.to_vec())];
        let tally = Tally::whole(TallyKind::Plain, grid, &matrix);
        let column = tally
            .columns(since)
            .into_iter()
            .next()
            .map(|(_, c)| c)
            .unwrap_or_default();
        (0..grid.len().saturating_sub(1))
            .map(|i| column.get(i))
            .collect()
    }

    /// Where the tally places each sample on `grid` (nothing on fewer than two points).
    fn on_grid(samples: &[Sample], grid: &[DateTime<Utc>]) -> Vec<Option<f64>> {
        if grid.len() < 2 {
            return Vec::new();
        }
        Tally::whole(TallyKind::Plain, grid, &[]).on_grid(samples, (0, grid.len() - 1))
    }

    fn per_block(counts: &Counts) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
        (
            counts.blocks().map(|b| b.baseline.to_vec()).collect(),
            counts.blocks().map(|b| b.canary.to_vec()).collect(),
        )
    }

    // ---- One series ----

    #[test]
    fn increments_are_differences_between_grid_points() {
        let s = points(&[Some(100.0), Some(110.0), Some(125.0), Some(125.0)]);
        assert_eq!(increments(&s, &grid(4), 0), [10.0, 15.0, 0.0]);
        // Fewer than two points: no blocks.
        assert!(increments(&s, &grid(1), 0).is_empty());
        assert!(increments(&s, &[], 0).is_empty());
    }

    #[test]
    fn a_reset_counts_the_new_value() {
        let s = points(&[Some(100.0), Some(130.0), Some(7.0), Some(20.0)]);
        assert_eq!(increments(&s, &grid(4), 0), [30.0, 7.0, 13.0]);
        // A reset to exactly 0, then counting again.
        let s = points(&[Some(5.0), Some(0.0), Some(3.0)]);
        assert_eq!(increments(&s, &grid(3), 0), [0.0, 3.0]);
    }

    #[test]
    fn a_series_first_seen_later_is_a_new_one_from_zero() {
        let s = points(&[None, None, Some(40.0), Some(45.0)]);
        assert_eq!(increments(&s, &grid(4), 0), [0.0, 40.0, 5.0]);
        // At point 0 it only sets the start, whatever its value.
        let s = points(&[Some(1e6), Some(1e6 + 1.0)]);
        assert_eq!(increments(&s, &grid(2), 0), [1.0]);
        // So does the point where the whole track first shows (the engine had not scraped
        // before): its history is no count of that block.
        let s = points(&[None, Some(1.5e7), Some(1.5e7 + 180.0)]);
        assert_eq!(increments(&s, &grid(3), 1), [0.0, 180.0]);
    }

    #[test]
    fn a_gap_counts_in_the_block_where_the_series_reappears() {
        let s = points(&[Some(10.0), None, None, Some(40.0), Some(41.0)]);
        assert_eq!(increments(&s, &grid(5), 0), [0.0, 0.0, 30.0, 1.0]);
        // A gap with a reset inside: only what the new process counted.
        let s = points(&[Some(10.0), Some(20.0), None, Some(6.0)]);
        assert_eq!(increments(&s, &grid(4), 0), [10.0, 0.0, 6.0]);
    }

    #[test]
    fn nan_and_infinite_samples_are_absent() {
        let s = points(&[
            Some(10.0),
            Some(f64::NAN),
            Some(15.0),
            Some(f64::INFINITY),
            Some(16.0),
        ]);
        assert_eq!(increments(&s, &grid(5), 0), [0.0, 5.0, 0.0, 1.0]);
        // NaN at point 0: the series is first seen at point 1, a new series.
        let s = points(&[Some(f64::NAN), Some(4.0), Some(6.0)]);
        assert_eq!(increments(&s, &grid(3), 0), [4.0, 2.0]);
    }

    #[test]
    fn samples_go_to_the_nearest_point_within_half_a_step() {
        let g = grid(4);
        let s = vec![
            at(0, -4_000, 10.0),
            at(1, 2_000, 12.0),
            // Nearer to point 1 than the one above: it wins.
            at(1, -500, 11.0),
            // Exactly half a step after point 2 (ties go to the earlier point in order).
            at(2, 5_000, 20.0),
            // Beyond the grid.
            at(3, 6_000, 99.0),
        ];
        assert_eq!(on_grid(&s, &g), [Some(10.0), Some(11.0), Some(20.0), None]);
        assert_eq!(increments(&s, &g, 0), [1.0, 9.0, 0.0]);
        // Before the first point by more than half a step: ignored.
        let s = vec![at(0, -5_001, 3.0), at(1, 0, 4.0)];
        assert_eq!(on_grid(&s, &g), [None, Some(4.0), None, None]);
    }

    /// The first version of `on_grid`, in chrono's arithmetic: the millisecond one must agree.
    fn on_grid_reference(samples: &[Sample], grid: &[DateTime<Utc>]) -> Vec<Option<f64>> {
        let mut nearest: Vec<Option<(i64, f64)>> = vec![None; grid.len()];
        let (Some(first), Some(second)) = (grid.first(), grid.get(1)) else {
            return Vec::new();
        };
        let step_ms = (*second - *first).num_milliseconds().max(1);
        for sample in samples.iter().filter(|s| s.value.is_finite()) {
            let after = grid.partition_point(|g| *g < sample.at);
            let best = [after.checked_sub(1), Some(after)]
                .into_iter()
                .flatten()
                .filter_map(|i| Some((i, (*grid.get(i)? - sample.at).num_milliseconds().abs())))
                .min_by_key(|(_, distance)| *distance);
            let Some((i, distance)) = best else { continue };
            if distance.saturating_mul(2) > step_ms {
                continue;
            }
            if nearest[i].is_none_or(|(d, _)| distance <= d) {
                nearest[i] = Some((distance, sample.value));
            }
        }
        nearest.into_iter().map(|n| n.map(|(_, v)| v)).collect()
    }

    proptest::proptest! {
        #[test]
        fn on_grid_agrees_with_the_chrono_version(
            points in 0i64..12,
            offsets in proptest::collection::vec((-2i64..14, -6_000i64..6_000, 0u8..4), 0..30),
        ) {
            let g = grid(points);
            let s: Vec<Sample> = offsets
                .iter()
                .map(|&(i, off, v)| at(i, off, if v == 3 { f64::NAN } else { f64::from(v) }))
                .collect();
            let same = |a: &[Option<f64>], b: &[Option<f64>]| {
                a.len() == b.len()
                    && a.iter().zip(b).all(|(x, y)| x.map(f64::to_bits) == y.map(f64::to_bits))
            };
            proptest::prop_assert!(same(&on_grid(&s, &g), &on_grid_reference(&s, &g)));
        }
    }

    #[test]
    fn an_increment_is_never_negative() {
        let s = points(&[Some(-5.0), Some(-10.0), Some(-3.0)]);
        assert!(increments(&s, &grid(3), 0).iter().all(|v| *v >= 0.0));
        let s = points(&[None, Some(-2.0)]);
        assert_eq!(increments(&s, &grid(2), 0), [0.0]);
    }

    // ---- Histograms ----

    #[test]
    fn a_histogram_sums_pods_per_le_and_decumulates() {
        let baseline = vec![
            bucket("a", "0.1", &[10.0, 15.0, 20.0]),
            bucket("a", "0.5", &[20.0, 30.0, 45.0]),
            bucket("a", "+Inf", &[25.0, 40.0, 55.0]),
            // A second pod writes its le differently: the same buckets.
            bucket("b", "0.10", &[0.0, 1.0, 1.0]),
            bucket("b", "5e-1", &[0.0, 2.0, 2.0]),
            bucket("b", "Inf", &[0.0, 4.0, 5.0]),
        ];
        let canary = vec![
            bucket("c", "+Inf", &[0.0, 3.0, 3.0]),
            bucket("c", "0.5", &[0.0, 2.0, 2.0]),
            bucket("c", "0.1", &[0.0, 1.0, 1.0]),
        ];
        let (counts, warnings) =
            histogram(&grid(3), answers(&baseline, &canary)).expect("histogram");
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(
            counts.kind,
            CountKind::Latency {
                bounds: vec![0.1, 0.5, f64::INFINITY]
            }
        );
        let (b, c) = per_block(&counts);
        // Block 1: ≤0.1: 5+1, ≤0.5: 10+2, all: 15+4.
        assert_eq!(b, [vec![6.0, 6.0, 7.0], vec![5.0, 10.0, 1.0]]);
        assert_eq!(c, [vec![1.0, 1.0, 1.0], vec![0.0, 0.0, 0.0]]);
        assert_eq!(counts.block(0).expect("block").start, t(T0));
        assert_eq!(counts.block(1).expect("block").end, t(T0 + 2 * STEP));
        assert_eq!(counts.requests(), (35.0, 3.0));
    }

    #[test]
    fn skew_between_buckets_is_clamped_at_zero() {
        // le=0.5 was scraped a moment later than +Inf and counted more in block 1.
        let baseline = vec![
            bucket("a", "0.1", &[0.0, 2.0]),
            bucket("a", "0.5", &[0.0, 12.0]),
            bucket("a", "+Inf", &[0.0, 10.0]),
        ];
        let (counts, _) = histogram(&grid(2), answers(&baseline, &[])).expect("histogram");
        assert_eq!(counts.block(0).expect("block").baseline, [2.0, 10.0, 0.0]);
        assert!(
            counts
                .block(0)
                .expect("block")
                .baseline
                .iter()
                .chain(counts.block(0).expect("block").canary)
                .all(|v| *v >= 0.0)
        );
    }

    #[test]
    fn different_buckets_are_coarsened_to_the_shared_bounds() {
        let baseline = vec![
            bucket("a", "0.1", &[0.0, 4.0]),
            bucket("a", "0.25", &[0.0, 6.0]),
            bucket("a", "0.5", &[0.0, 9.0]),
            bucket("a", "+Inf", &[0.0, 10.0]),
        ];
        let canary = vec![
            bucket("c", "0.05", &[0.0, 1.0]),
            bucket("c", "0.1", &[0.0, 2.0]),
            bucket("c", "0.5", &[0.0, 3.0]),
            bucket("c", "+Inf", &[0.0, 5.0]),
        ];
        let (counts, warnings) =
            histogram(&grid(2), answers(&baseline, &canary)).expect("histogram");
        assert_eq!(
            counts.kind,
            CountKind::Latency {
                bounds: vec![0.1, 0.5, f64::INFINITY]
            }
        );
        assert_eq!(counts.block(0).expect("block").baseline, [4.0, 5.0, 1.0]);
        assert_eq!(counts.block(0).expect("block").canary, [2.0, 1.0, 2.0]);
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].contains("different buckets")
                && warnings[0].contains("baseline le: 0.1, 0.25, 0.5, +Inf")
                && warnings[0].contains("canary le: 0.05, 0.1, 0.5, +Inf")
                && warnings[0].contains("the 3 bounds they share"),
            "{}",
            warnings[0]
        );

        // Nothing shared but +Inf: no latency distribution to compare.
        let canary = vec![
            bucket("c", "0.2", &[0.0, 1.0]),
            bucket("c", "+Inf", &[0.0, 5.0]),
        ];
        let err = histogram(&grid(2), answers(&baseline, &canary)).expect_err("nothing shared");
        assert!(err.contains("share no bucket bound but +Inf"), "{err}");
        assert!(err.contains("canary le: 0.2, +Inf"), "{err}");
    }

    #[test]
    fn a_histogram_without_inf_or_le_says_what_to_fix() {
        let baseline = vec![
            bucket("a", "0.1", &[0.0, 4.0]),
            bucket("a", "0.5", &[0.0, 6.0]),
        ];
        let err = histogram(&grid(2), answers(&baseline, &[])).expect_err("no +Inf");
        assert!(
            err.starts_with("the baseline histogram has no le=\"+Inf\" bucket (le: 0.1, 0.5)"),
            "{err}"
        );

        let canary = vec![counter("c", &[0.0, 4.0])];
        let err = histogram(&grid(2), answers(&[], &canary)).expect_err("no le");
        assert_eq!(
            err,
            "the canary series {pod=\"c\"} has no le label: is this the _bucket series? \
             e.g. http_request_duration_seconds_bucket{$selector}"
        );

        let canary = vec![bucket("c", "fast", &[0.0, 4.0])];
        let err = histogram(&grid(2), answers(&[], &canary)).expect_err("bad le");
        assert!(
            err.starts_with(
                "the canary series http_request_duration_seconds_bucket{le=\"fast\", pod=\"c\"} \
                 has le=\"fast\", which is not a bucket bound: is this the _bucket series?"
            ),
            "{err}"
        );
        let canary = vec![bucket("c", "NaN", &[0.0, 4.0])];
        assert!(histogram(&grid(2), answers(&[], &canary)).is_err());
    }

    #[test]
    fn le_parsing() {
        assert_eq!(parse_le("0.1"), parse_le("0.10"));
        assert_eq!(parse_le("0.1"), Some(0.1));
        assert_eq!(parse_le("1e-1"), Some(0.1));
        assert_eq!(parse_le("+Inf"), Some(f64::INFINITY));
        assert_eq!(parse_le("Inf"), Some(f64::INFINITY));
        assert_eq!(parse_le("10"), Some(10.0));
        assert_eq!(parse_le("-0").map(f64::to_bits), Some(0.0_f64.to_bits()));
        assert_eq!(parse_le("NaN"), None);
        assert_eq!(parse_le("-Inf"), None);
        assert_eq!(parse_le(""), None);
        assert_eq!(parse_le("0.1s"), None);
    }

    #[test]
    fn one_empty_track_counts_zero_and_both_empty_is_an_error() {
        let baseline = vec![
            bucket("a", "0.1", &[1.0, 4.0]),
            bucket("a", "+Inf", &[1.0, 10.0]),
        ];
        let (counts, _) = histogram(&grid(2), answers(&baseline, &[])).expect("canary not yet");
        assert_eq!(counts.block(0).expect("block").baseline, [3.0, 6.0]);
        assert_eq!(counts.block(0).expect("block").canary, [0.0, 0.0]);
        let (counts, _) = histogram(&grid(2), answers(&[], &baseline)).expect("baseline gone");
        assert_eq!(counts.block(0).expect("block").baseline, [0.0, 0.0]);
        assert_eq!(counts.block(0).expect("block").canary, [3.0, 6.0]);

        let err = histogram(&grid(2), answers(&[], &[])).expect_err("nothing");
        assert_eq!(
            err,
            "the counter query returned no series for either track: q{track=\"baseline\"} \
             (baseline), q{track=\"canary\"} (canary)"
        );
        let total = vec![counter("a", &[0.0, 1.0])];
        let err = ratio(&grid(2), answers(&[], &[]), answers(&[], &[])).expect_err("nothing");
        assert!(
            err.starts_with("the counter query returned no series"),
            "{err}"
        );
        // No 5xx series anywhere is zero errors, not an error.
        let counts = ratio(&grid(2), answers(&[], &[]), answers(&total, &[])).expect("ratio");
        assert_eq!(counts.block(0).expect("block").baseline, [0.0, 1.0]);
    }

    #[test]
    fn fewer_than_two_points_are_no_blocks() {
        let baseline = vec![bucket("a", "+Inf", &[1.0])];
        let (counts, _) = histogram(&grid(1), answers(&baseline, &[])).expect("one point");
        assert!(counts.is_empty());
        assert_eq!(
            counts.kind,
            CountKind::Latency {
                bounds: vec![f64::INFINITY]
            }
        );
    }

    #[test]
    fn a_histogram_reset_restarts_every_bucket() {
        // A pod restarted between points 1 and 2; a new pod appeared at point 2.
        let mut baseline = vec![
            bucket("a", "0.1", &[100.0, 110.0, 3.0]),
            bucket("a", "+Inf", &[200.0, 220.0, 5.0]),
            bucket("b", "0.1", &[]),
            bucket("b", "+Inf", &[]),
        ];
        baseline[2].1 = vec![at(2, 0, 1.0)];
        baseline[3].1 = vec![at(2, 0, 4.0)];
        let (counts, _) = histogram(&grid(3), answers(&baseline, &[])).expect("histogram");
        let (b, _) = per_block(&counts);
        assert_eq!(b, [vec![10.0, 10.0], vec![4.0, 5.0]]);
    }

    // ---- Ratios ----

    #[test]
    fn a_ratio_is_failed_and_ok_per_block() {
        let errors_b = vec![counter("a", &[1.0, 2.0, 2.0])];
        let total_b = vec![
            counter("a", &[100.0, 150.0, 170.0]),
            counter("b", &[10.0, 20.0, 30.0]),
        ];
        let errors_c = vec![counter("c", &[0.0, 3.0, 9.0])];
        // The canary's total was scraped a moment before its errors: total < errors in block 2.
        let total_c = vec![counter("c", &[0.0, 5.0, 8.0])];
        let counts = ratio(
            &grid(3),
            answers(&errors_b, &errors_c),
            answers(&total_b, &total_c),
        )
        .expect("ratio");
        assert_eq!(counts.kind, CountKind::Errors);
        let (b, c) = per_block(&counts);
        assert_eq!(b, [vec![1.0, 59.0], vec![0.0, 30.0]]);
        assert_eq!(c, [vec![3.0, 2.0], vec![6.0, 0.0]]);
    }

    #[test]
    fn a_ratio_with_one_track_empty_counts_it_zero() {
        let total_b = vec![counter("a", &[100.0, 150.0])];
        let counts = ratio(&grid(2), answers(&[], &[]), answers(&total_b, &[])).expect("ratio");
        assert_eq!(counts.block(0).expect("block").baseline, [0.0, 50.0]);
        assert_eq!(counts.block(0).expect("block").canary, [0.0, 0.0]);
    }
}
