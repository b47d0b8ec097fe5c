//! What the e-processes bet against: the FAIL test's alternatives with their mixture weights and
//! the tolerated change (the floors), the grid of factors the range is made of, each one's
//! e-process state, and the pieces they share: one block's counts with the plug-in, the
//! smoothed plug-in itself and the mixture of e-processes.

use chrono::{DateTime, Utc};

use super::{Effect, SequentialSettings};
use crate::domain::evalue::Columns;
use crate::domain::judge::Direction;

/// Alternatives of the FAIL test, as multiples of the smallest effect that matters, with their
/// weights in the mixture: most on the small effects, which are the hard ones to see (a large
/// one piles up evidence fast whatever its weight).
const ALTERNATIVES: [(f64, f64); 6] = [
    (1.0, 0.3),
    (1.1, 0.3),
    (1.35, 0.15),
    (1.8, 0.1),
    (3.0, 0.1),
    (6.0, 0.05),
];
/// The range's grid on a log scale, both ways from 1: `(step, up to)` bands, fine near "no
/// change" and coarser far from it (latency to ×10, error ratios to ×200).
const LATENCY_RANGE_BANDS: [(f64, f64); 3] = [(0.02, 0.7), (0.05, 1.6), (0.1, 2.31)];
const ERRORS_RANGE_BANDS: [(f64, f64); 3] = [(0.03, 1.2), (0.08, 2.4), (0.15, 5.3)];
/// Pseudo-count per category of the plug-in distributions (no category is ever impossible).
const PSEUDO_COUNT: f64 = 0.5;

/// One effect size with its e-process.
pub(super) struct Hypothesis {
    pub(super) factor: f64,
    /// Latency stretch columns (`None` for errors).
    pub(super) columns: Option<Columns>,
    /// The last projection onto this null (latency), to start the next one from.
    pub(super) projection: Vec<f64>,
    pub(super) ln_e: f64,
    pub(super) rejected_at: Option<DateTime<Utc>>,
}

impl Hypothesis {
    pub(super) fn new(factor: f64) -> Self {
        Self {
            factor,
            columns: None,
            projection: Vec::new(),
            ln_e: 0.0,
            rejected_at: None,
        }
    }
}

/// An alternative of the FAIL test ("the canary is worse by this factor") with its e-processes
/// against "no change" and against the tolerated change on its side.
pub(super) struct Alternative {
    pub(super) shape: Hypothesis,
    pub(super) weight: f64,
    /// Whether the factor is an increase (compared with the increase floor) or a decrease.
    pub(super) up: bool,
    pub(super) against_none: f64,
    pub(super) against_floor: f64,
    pub(super) floor_projection: Vec<f64>,
}

/// The change that is tolerated: `tolerance` of the allowed one on a log scale (1.1^0.25 ≈ 1.024).
pub(super) fn floors(s: &SequentialSettings) -> (f64, f64) {
    (
        s.allowed_increase.powf(s.tolerance),
        1.0 / s.allowed_decrease.powf(s.tolerance),
    )
}

/// The effects that matter, on the side(s) the direction judges, with their mixture weights.
pub(super) fn alternatives(s: &SequentialSettings) -> Vec<(f64, f64)> {
    let up = ALTERNATIVES
        .iter()
        .map(|(m, w)| (s.allowed_increase * m, *w));
    let down = ALTERNATIVES
        .iter()
        .map(|(m, w)| (1.0 / (s.allowed_decrease * m), *w));
    match s.direction {
        Direction::Increase => up.collect(),
        Direction::Decrease => down.collect(),
        Direction::Either => up.chain(down).collect(),
    }
}

/// Whether an effect of this size is one the user said matters.
pub(super) fn matters(s: &SequentialSettings, factor: f64) -> bool {
    let eps = 1e-9;
    let up = factor >= s.allowed_increase - eps;
    let down = factor <= 1.0 / s.allowed_decrease + eps;
    match s.direction {
        Direction::Increase => up,
        Direction::Decrease => down,
        Direction::Either => up || down,
    }
}

pub(super) fn range_grid(effect: Effect, s: &SequentialSettings) -> Vec<f64> {
    let bands = match effect {
        Effect::LatencyFactor => LATENCY_RANGE_BANDS,
        Effect::ErrorRatio => ERRORS_RANGE_BANDS,
    };
    let mut logs = vec![0.0];
    let mut x: f64 = 0.0;
    for (step, until) in bands {
        while x + step <= until + 1e-9 {
            x += step;
            logs.push(x);
            logs.push(-x);
        }
    }
    let mut grid: Vec<f64> = logs
        .into_iter()
        .map(f64::exp)
        .chain([s.allowed_increase, 1.0 / s.allowed_decrease])
        .collect();
    grid.sort_by(f64::total_cmp);
    grid.dedup_by(|a, b| (*a / *b - 1.0).abs() < 1e-9);
    grid
}

/// Plug-in category probabilities from counts so far (never zero).
pub(super) fn smoothed(counts: &[f64]) -> Vec<f64> {
    let total: f64 = counts.iter().sum::<f64>() + PSEUDO_COUNT * counts.len() as f64;
    counts.iter().map(|c| (c + PSEUDO_COUNT) / total).collect()
}

/// `ln(Σ w exp(x) / Σ w)` over `(x, w)` pairs, stable: the log of a weighted mixture of
/// e-processes, itself an e-process.
pub(super) fn ln_mixture(values: &[(f64, f64)]) -> f64 {
    let max = values.iter().map(|v| v.0).fold(f64::NEG_INFINITY, f64::max);
    let weight: f64 = values.iter().map(|v| v.1).sum();
    if !max.is_finite() || weight <= 0.0 {
        return f64::NEG_INFINITY;
    }
    let sum: f64 = values.iter().map(|(x, w)| w * (x - max).exp()).sum();
    max + (sum / weight).ln()
}

/// One block's counts (cleaned) with the baseline plug-in from the blocks before it.
pub(super) struct Block<'a> {
    pub(super) baseline: &'a [f64],
    pub(super) canary: &'a [f64],
    /// Smoothed baseline category probabilities from the earlier blocks.
    pub(super) plugin: &'a [f64],
    /// Whether the block is in the current step (the range is about it alone).
    pub(super) in_step: bool,
}
