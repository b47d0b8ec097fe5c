//! The three methods, each on its own numbers from the same run:
//! - the seed rule (a `Gate`) and Mann–Whitney (`classify`) on the series Prometheus gives every
//!   10 s: p95 over the last 60 s by `histogram_quantile`, or the error ratio over the last 60 s;
//! - the sequential judge (`evaluate`) on the exact per-poll block counts.
//!
//! Each returns the first poll (1-based) at which a console polling every 10 s would have shown
//! FAIL (gate FAIL, judge HIGH, sequential FAIL), or `None`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use rollout_console::domain::counts::{CountKind, Counts};
use rollout_console::domain::gate::ForSpec;
use rollout_console::domain::judge::{Classification, Direction, JudgeSettings, classify};
use rollout_console::domain::sequential::{
    Context, Decision, SequentialSettings, alpha_per_metric, evaluate,
};
use rollout_console::domain::{Gate, Sample, Series, Unit, Verdict};

use crate::traffic::{BASELINE, CANARY, DEFAULT_BOUNDS, FINE_BOUNDS, POLL_SECS, Run};

/// Polls per Prometheus window (60 s).
pub const WINDOW_POLLS: usize = 6;
/// Points Mann–Whitney compares per track.
pub const MW_POINTS: usize = 30;
/// Points the thinned Mann–Whitney compares per track (one per window, the newest first).
pub const THINNED_POINTS: usize = 10;
/// The whole false-alarm budget, split over latency and errors.
pub const ALPHA: f64 = 0.01;
pub const SEQUENTIAL_METRICS: usize = 2;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Metric {
    Latency { fine: bool },
    Errors { base: usize },
}

impl Metric {
    pub fn is_latency(self) -> bool {
        matches!(self, Self::Latency { .. })
    }

    pub fn bounds(self) -> &'static [f64] {
        match self {
            Self::Latency { fine: true } => &FINE_BOUNDS,
            _ => &DEFAULT_BOUNDS,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Method {
    Seed,
    MannWhitney,
    Thinned,
    Sequential {
        tolerance: f64,
        warmup_secs: u64,
    },
    /// Diagnostic: the sequential judge with the first poll's canary requests left out, so no
    /// block is judged before the baseline has been counted (see `JUDGE_BENCH_DIAGNOSTICS`).
    SequentialFromSecondPoll {
        tolerance: f64,
    },
}

impl Method {
    pub fn label(self) -> String {
        match self {
            Self::Seed => "seed rule".into(),
            Self::MannWhitney => "Mann–Whitney".into(),
            Self::Thinned => "MW thinned".into(),
            Self::Sequential {
                tolerance,
                warmup_secs: 0,
            } => format!("sequential tol {tolerance}"),
            Self::Sequential {
                tolerance,
                warmup_secs,
            } => format!("sequential tol {tolerance}, warmup {warmup_secs}s"),
            Self::SequentialFromSecondPoll { tolerance } => {
                format!("sequential tol {tolerance}, poll 1's canary left out")
            }
        }
    }

    /// The seed's threshold rule for the metric.
    pub fn gate(metric: Metric) -> Gate {
        if metric.is_latency() {
            Gate {
                max_increase_pct: Some(10.0),
                for_: ForSpec::Checks(2),
                ..Gate::default()
            }
        } else {
            Gate {
                max_ratio: Some(1.5),
                min_baseline: Some(0.005),
                for_: ForSpec::Checks(2),
                ..Gate::default()
            }
        }
    }

    pub fn judge_settings(metric: Metric) -> JudgeSettings {
        JudgeSettings {
            confidence: 0.98,
            direction: Direction::Increase,
            allowed_increase: if metric.is_latency() { 1.1 } else { 1.2 },
            allowed_decrease: 1.0,
            min_samples: 10,
        }
    }

    pub fn sequential_settings(
        metric: Metric,
        tolerance: f64,
        warmup_secs: u64,
    ) -> SequentialSettings {
        SequentialSettings {
            direction: Direction::Increase,
            allowed_increase: if metric.is_latency() { 1.1 } else { 1.5 },
            tolerance,
            warmup: Duration::from_secs(warmup_secs),
            ..SequentialSettings::default()
        }
    }
}

pub fn t0() -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

/// The end of poll `k` (1-based).
pub fn poll_end(k: usize) -> DateTime<Utc> {
    t0() + chrono::Duration::seconds((k * POLL_SECS) as i64)
}

/// Per poll and track, the categories of the metric: latency buckets, or `[failed, ok]`.
fn categories(run: &Run, metric: Metric, poll: usize, track: usize) -> Vec<f64> {
    let p = &run.polls[poll];
    match metric {
        Metric::Latency { fine: true } => p.latency[track].iter().map(|c| f64::from(*c)).collect(),
        Metric::Latency { fine: false } => {
            let map = crate::traffic::fine_to_default();
            let mut out = vec![0.0; DEFAULT_BOUNDS.len()];
            for (i, c) in p.latency[track].iter().enumerate() {
                out[map[i]] += f64::from(*c);
            }
            out
        }
        Metric::Errors { base } => {
            let failed = f64::from(p.failed[track][base]);
            vec![failed, f64::from(p.requests[track]) - failed]
        }
    }
}

/// The run's blocks for the sequential judge (the first `polls` of them).
pub fn counts(run: &Run, metric: Metric, polls: usize) -> Counts {
    let kind = match metric {
        Metric::Latency { .. } => CountKind::Latency {
            bounds: metric.bounds().to_vec(),
        },
        Metric::Errors { .. } => CountKind::Errors,
    };
    let polls = polls.min(run.polls.len());
    let mut counts = Counts::with_capacity(kind, polls);
    for i in 0..polls {
        counts.push(
            poll_end(i),
            poll_end(i + 1),
            &categories(run, metric, i, BASELINE),
            &categories(run, metric, i, CANARY),
        );
    }
    counts
}

/// `histogram_quantile` as Prometheus computes it, for per-bucket counts with these upper bounds
/// (the last `+Inf`): linear interpolation inside the bucket holding the rank, from 0 for the
/// first bucket; a rank in `+Inf` gives the highest finite bound. NaN when empty.
pub fn histogram_quantile(q: f64, bounds: &[f64], counts: &[f64]) -> f64 {
    let total: f64 = counts.iter().sum();
    if total <= 0.0 {
        return f64::NAN;
    }
    let rank = q * total;
    let last_finite = bounds.len().saturating_sub(2);
    let mut cumulative = 0.0;
    for (i, count) in counts.iter().enumerate() {
        let before = cumulative;
        cumulative += count;
        if cumulative >= rank {
            if i + 1 == bounds.len() {
                return bounds[last_finite];
            }
            let lower = if i == 0 { 0.0 } else { bounds[i - 1] };
            let upper = bounds[i];
            if *count == 0.0 {
                return upper;
            }
            return lower + (upper - lower) * (rank - before) / count;
        }
    }
    bounds[last_finite]
}

/// The series Prometheus would give every poll: `(baseline, canary)` over the last 60 s (fewer
/// polls at the very start).
pub fn series(run: &Run, metric: Metric) -> (Vec<f64>, Vec<f64>) {
    let n = run.polls.len();
    let per_track = |track: usize| -> Vec<f64> {
        let cats: Vec<Vec<f64>> = (0..n).map(|i| categories(run, metric, i, track)).collect();
        (0..n)
            .map(|i| {
                let from = (i + 1).saturating_sub(WINDOW_POLLS);
                let mut sum = vec![0.0; cats[i].len()];
                for c in &cats[from..=i] {
                    for (s, v) in sum.iter_mut().zip(c) {
                        *s += v;
                    }
                }
                match metric {
                    Metric::Latency { .. } => histogram_quantile(0.95, metric.bounds(), &sum),
                    Metric::Errors { .. } => {
                        let total = sum[0] + sum[1];
                        if total > 0.0 {
                            sum[0] / total
                        } else {
                            f64::NAN
                        }
                    }
                }
            })
            .collect()
    };
    (per_track(BASELINE), per_track(CANARY))
}

fn as_series(values: &[f64], first_index: usize) -> Series {
    Series::new(
        values
            .iter()
            .enumerate()
            .map(|(i, v)| Sample {
                at: poll_end(first_index + i + 1),
                value: *v,
            })
            .collect(),
    )
}

/// Prefilter audit: polls where both the cheap test and the real call were run, and where they
/// disagreed (a skipped poll the real method would have failed). Must stay 0.
pub static AUDITED: AtomicUsize = AtomicUsize::new(0);
pub static AUDIT_MISMATCHES: AtomicUsize = AtomicUsize::new(0);

fn audit(skipped: bool, real_fails: bool) {
    AUDITED.fetch_add(1, Ordering::Relaxed);
    if skipped && real_fails {
        AUDIT_MISMATCHES.fetch_add(1, Ordering::Relaxed);
    }
}

/// A necessary condition for the gate's check to be violated at one pair (so skipping the real
/// call when it is false changes nothing): the same limit, loosened by 1e-9.
fn may_violate(gate: &Gate, b: f64, c: f64) -> bool {
    if !(b.is_finite() && c.is_finite()) {
        return false;
    }
    let effective = b.max(gate.min_baseline.unwrap_or(0.0));
    let factor = match (gate.max_increase_pct, gate.max_ratio) {
        (Some(pct), None) => 1.0 + pct / 100.0,
        (None, Some(ratio)) => ratio,
        _ => return true,
    };
    c > effective * factor * (1.0 - 1e-9)
}

/// The first poll the gate says FAIL (it reads the newest points only; `for = 2` needs two).
fn first_gate_fail(gate: &Gate, unit: Unit, b: &[f64], c: &[f64], check: bool) -> Option<usize> {
    let required = gate.for_.points(Duration::from_secs(POLL_SECS as u64)) as usize;
    (0..b.len()).find(|&i| {
        let cheap =
            (i + 1 >= required) && (i + 1 - required..=i).all(|j| may_violate(gate, b[j], c[j]));
        if !cheap && !check {
            return false;
        }
        let from = (i + 1).saturating_sub(required + 1);
        let verdict = gate
            .evaluate(
                "m",
                unit,
                &as_series(&b[from..=i], from),
                &as_series(&c[from..=i], from),
                Duration::from_secs(POLL_SECS as u64),
            )
            .verdict;
        let fails = verdict == Verdict::Fail;
        if check {
            audit(!cheap, fails);
        }
        fails
    })
}

fn finite(v: impl Iterator<Item = f64>) -> Vec<f64> {
    v.filter(|x| x.is_finite()).collect()
}

/// The first poll Mann–Whitney says HIGH, on the current step's points: the newest
/// `MW_POINTS`, or (thinned) up to `THINNED_POINTS` points one window apart counted back from
/// the newest.
fn first_mw_high(
    s: &JudgeSettings,
    b: &[f64],
    c: &[f64],
    step_polls: &[usize],
    thinned: bool,
    check: bool,
) -> Option<usize> {
    (0..b.len()).find(|&i| {
        let step = step_polls
            .iter()
            .rev()
            .find(|p| **p <= i)
            .copied()
            .unwrap_or(0);
        let picked: Vec<usize> = if thinned {
            (step..=i)
                .rev()
                .step_by(WINDOW_POLLS)
                .take(THINNED_POINTS)
                .collect()
        } else {
            ((i + 1).saturating_sub(MW_POINTS).max(step)..=i).collect()
        };
        let (pb, pc) = (
            finite(picked.iter().map(|j| b[*j])),
            finite(picked.iter().map(|j| c[*j])),
        );
        // HIGH needs enough points and a mean ratio above `allowed_increase` (or no ratio).
        let enough = pb.len() >= s.min_samples && pc.len() >= s.min_samples;
        let mean_b = pb.iter().sum::<f64>() / pb.len().max(1) as f64;
        let ratio = pc.iter().sum::<f64>() / pc.len().max(1) as f64 / mean_b;
        let cheap =
            enough && !(mean_b > 0.0 && ratio.is_finite() && ratio <= s.allowed_increase - 1e-9);
        if !cheap && !check {
            return false;
        }
        let fails = classify(&pb, &pc, s, Unit::Seconds).classification == Classification::High;
        if check {
            audit(!cheap, fails);
        }
        fails
    })
}

/// The first poll of FAIL by one evaluation over the run. With `probes`, the prefixes are tried
/// first (a FAIL in a prefix is the same FAIL: each block's e-value depends on earlier blocks
/// only), then the whole run.
fn first_sequential_fail(
    run: &Run,
    metric: Metric,
    s: &SequentialSettings,
    ctx: &Context,
    probes: &[usize],
    from_second_poll: bool,
) -> Option<usize> {
    let n = run.polls.len();
    for polls in probes.iter().copied().filter(|p| *p < n).chain([n]) {
        let mut counts = counts(run, metric, polls);
        if from_second_poll && let Some((_, canary)) = counts.values_mut(0) {
            canary.fill(0.0);
        }
        let r = evaluate(&counts, s, ctx);
        if r.decision == Decision::Fail {
            return r
                .decided_at
                .map(|at| ((at - t0()).num_seconds() as usize) / POLL_SECS);
        }
    }
    None
}

/// Judge one metric of one run by every method: the first failing poll (1-based) of each.
pub fn judge(
    run: &Run,
    metric: Metric,
    methods: &[Method],
    step_starts_secs: &[usize],
    probes: &[usize],
    check: bool,
) -> Vec<Option<u16>> {
    let needs_series = methods
        .iter()
        .any(|m| matches!(m, Method::Seed | Method::MannWhitney | Method::Thinned));
    let (b, c) = if needs_series {
        series(run, metric)
    } else {
        (Vec::new(), Vec::new())
    };
    let step_polls: Vec<usize> = step_starts_secs.iter().map(|s| s / POLL_SECS).collect();
    let unit = if metric.is_latency() {
        Unit::Seconds
    } else {
        Unit::Ratio
    };
    let ctx = Context {
        alpha: alpha_per_metric(ALPHA, SEQUENTIAL_METRICS),
        step_starts: step_starts_secs
            .iter()
            .map(|s| t0() + chrono::Duration::seconds(*s as i64))
            .collect(),
        hold_left: None,
    };
    methods
        .iter()
        .map(|m| {
            let first = match *m {
                Method::Seed => {
                    first_gate_fail(&Method::gate(metric), unit, &b, &c, check).map(|i| i + 1)
                }
                Method::MannWhitney | Method::Thinned => first_mw_high(
                    &Method::judge_settings(metric),
                    &b,
                    &c,
                    &step_polls,
                    *m == Method::Thinned,
                    check,
                )
                .map(|i| i + 1),
                Method::Sequential {
                    tolerance,
                    warmup_secs,
                } => first_sequential_fail(
                    run,
                    metric,
                    &Method::sequential_settings(metric, tolerance, warmup_secs),
                    &ctx,
                    probes,
                    false,
                ),
                Method::SequentialFromSecondPoll { tolerance } => first_sequential_fail(
                    run,
                    metric,
                    &Method::sequential_settings(metric, tolerance, 0),
                    &ctx,
                    probes,
                    true,
                ),
            };
            first.map(|p| u16::try_from(p).unwrap_or(u16::MAX))
        })
        .collect()
}
