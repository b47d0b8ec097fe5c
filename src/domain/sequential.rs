//! The sequential judge: an anytime-valid test on request counts, watched at every poll.
//!
//! Per metric, over the canary version's life, block by block (the intervals between polls):
//! - **FAIL** when the evidence that the canary is worse — a running product of block e-values
//!   (`evalue`), averaged over a grid of alternatives from `allowed_increase` up — reaches
//!   1/α. Under "the canary behaves like the baseline" (requests independent given the load,
//!   whatever the load does), the chance that this *ever* happens, however often it is polled,
//!   is at most α (Ville's inequality). A FAIL stays a FAIL.
//! - **PASS** when every shift of at least `allowed_increase` is ruled out at the same level (the
//!   anytime-valid range for the effect lies below it), or when the step's hold ends with
//!   enough requests counted and no evidence.
//! - **COLLECTING** otherwise: never a FAIL from a lack of data, never a PASS without requests.
//!
//! Latency: the effect is a factor `s` stretching the baseline's latency distribution (within a
//! bucket, latencies are taken as spread evenly on a log scale; the FAIL test against "no
//! change" does not depend on that). Errors: the effect is the ratio of the error ratios (exact).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::time::Duration;

use super::counts::{CountBlock, CountKind, Counts};
use super::evalue::{Columns, LinearNull, apply, ln_e_categorical, ln_e_errors, stretch};
use super::format::short_duration;
use super::judge::Direction;

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
/// Baseline requests the plug-ins need before a block counts as evidence: with none, the
/// smoothed guess is a 50% error ratio and a flat latency histogram, and betting on those would
/// throw away every alternative at the first block.
const PLUGIN_MIN_REQUESTS: f64 = 20.0;
/// Blocks the speed of the evidence is measured over, for "≈ 40s more".
const RECENT_BLOCKS: usize = 12;

/// How one metric is judged sequentially (`judge = "sequential"`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SequentialSettings {
    pub direction: Direction,
    /// The smallest slow-down (latency: a factor on the distribution) or error-ratio increase
    /// that matters; > 1.
    pub allowed_increase: f64,
    /// The same for decreases (`direction = "decrease"` or `"either"`); > 1.
    pub allowed_decrease: f64,
    /// Requests each track needs before a PASS.
    pub min_samples: u64,
    /// The first part of each step that is not counted, while new pods warm up.
    #[serde(with = "super::format::humantime_serde")]
    pub warmup: Duration,
    /// The share of the allowed change, on a log scale, that a FAIL must also rule out: 0 fails
    /// on evidence of any change; 0.25 (the default) also needs evidence against a quarter of the
    /// allowed change (×1.024 for 1.1, ×1.11 for 1.5), so small differences between pods are not
    /// failed. Larger shares cost detection speed (0.5: about a third slower at +20%).
    pub tolerance: f64,
}

/// `[judge] alpha` by default: 1% for the whole rollout.
pub const DEFAULT_ALPHA: f64 = 0.01;
pub const DEFAULT_MIN_SAMPLES: u64 = 100;
pub const DEFAULT_TOLERANCE: f64 = 0.25;

impl Default for SequentialSettings {
    fn default() -> Self {
        Self {
            direction: Direction::Increase,
            allowed_increase: 1.1,
            allowed_decrease: 1.1,
            min_samples: DEFAULT_MIN_SAMPLES,
            warmup: Duration::ZERO,
            tolerance: DEFAULT_TOLERANCE,
        }
    }
}

impl SequentialSettings {
    pub fn validate(&self) -> Result<(), String> {
        for (name, v) in [
            ("allowed_increase", self.allowed_increase),
            ("allowed_decrease", self.allowed_decrease),
        ] {
            if !(v.is_finite() && v > 1.0 && v <= 10.0) {
                return Err(format!(
                    "{name} must be a factor above 1 and at most 10 (e.g. 1.1 for +10%), got {v}"
                ));
            }
        }
        if !(0.0..1.0).contains(&self.tolerance) {
            return Err(format!(
                "tolerance must be at least 0 and below 1 (a share of the allowed change), got {}",
                self.tolerance
            ));
        }
        Ok(())
    }
}

/// The false-alarm budget of one metric: `alpha` split evenly over the sequential metrics.
pub fn alpha_per_metric(alpha: f64, metrics: usize) -> f64 {
    alpha / metrics.max(1) as f64
}

/// What the rollout tells the judge.
#[derive(Debug, Clone, PartialEq)]
pub struct Context {
    /// This metric's false-alarm budget, in (0, 1).
    pub alpha: f64,
    /// When each step of the canary's life began, oldest first (for `warmup`).
    pub step_starts: Vec<DateTime<Utc>>,
    /// What is left of the current step's hold (`Some(0)`: it has ended; `None`: no hold).
    pub hold_left: Option<Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Fail,
    Pass,
    Collecting,
}

impl Decision {
    pub fn label(self) -> &'static str {
        match self {
            Self::Fail => "FAIL",
            Self::Pass => "PASS",
            Self::Collecting => "COLLECTING",
        }
    }
}

/// What the effect is measured as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// Canary latencies = baseline latencies × the factor.
    LatencyFactor,
    /// Canary error ratio = baseline error ratio × the factor.
    ErrorRatio,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SequentialResult {
    pub decision: Decision,
    pub effect: Effect,
    /// ln of the evidence that the canary is worse (the FAIL test), now; 0 is "none".
    pub evidence: f64,
    /// The highest it has been.
    pub peak_evidence: f64,
    /// ln(1/α): FAIL at or above.
    pub threshold: f64,
    /// The effect's estimate in the current step (a factor; 1 = no change).
    pub estimate: Option<f64>,
    /// Its anytime-valid range at 1 − α over the current step; `None` when no single factor fits
    /// the data.
    pub range: Option<(f64, f64)>,
    /// 1 − α, for the range's label.
    pub confidence: f64,
    /// Requests counted per track (after warm-up) over the canary's life: `(baseline, canary)`.
    pub requests: (f64, f64),
    /// The same in the current step, which the estimate, the range and a PASS are about.
    pub step_requests: (f64, f64),
    /// Error ratios counted per track (errors only).
    pub error_ratios: Option<(f64, f64)>,
    /// Canary requests per second lately.
    pub canary_rate: Option<f64>,
    /// When the decision was reached (FAIL or PASS by the test; `None` for a PASS at hold end).
    pub decided_at: Option<DateTime<Utc>>,
    /// A PASS given because the hold ended, not because the test ruled the effect out.
    pub passed_at_hold_end: bool,
    /// How long a decision is likely to take at the current traffic, while collecting.
    pub eta: Option<Duration>,
    /// What is left of the current step's hold, while collecting (a PASS comes at its end).
    pub hold_left: Option<Duration>,
    /// The end of the last block counted.
    pub counted_until: Option<DateTime<Utc>>,
    pub reason: String,
}

/// The figures behind a sequential verdict, as `check --json` and the receipts carry them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    pub decision: Decision,
    /// `latency_factor` (canary latencies = baseline × estimate) or `error_ratio` (canary error
    /// ratio = baseline's × estimate).
    pub effect: Effect,
    /// ln of the evidence that the canary is worse; FAIL at `threshold` = ln(1/α).
    pub evidence: f64,
    pub threshold: f64,
    pub estimate: Option<f64>,
    /// The anytime-valid range of the effect at `confidence`.
    pub range: Option<[f64; 2]>,
    pub confidence: f64,
    pub requests: Requests,
    /// While collecting: how long a decision is likely to take at the current traffic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eta_seconds: Option<u64>,
    /// The end of the block at which the test decided (FAIL, or PASS by ruling the effect out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<DateTime<Utc>>,
    /// The end of the last block counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counted_until: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Requests {
    pub baseline: f64,
    pub canary: f64,
}

impl SequentialResult {
    pub fn figures(&self) -> Figures {
        Figures {
            decision: self.decision,
            effect: self.effect,
            evidence: self.evidence.max(-1e6),
            threshold: self.threshold,
            estimate: self.estimate,
            range: self.range.map(|(lo, hi)| [lo, hi]),
            confidence: self.confidence,
            requests: Requests {
                baseline: self.requests.0,
                canary: self.requests.1,
            },
            eta_seconds: self.eta.map(|d| d.as_secs()),
            decided_at: self.decided_at,
            counted_until: self.counted_until,
        }
    }

    /// Evidence as a share of the threshold, for a meter (0..=1).
    pub fn evidence_fraction(&self) -> f64 {
        if self.threshold > 0.0 {
            (self.evidence / self.threshold).clamp(0.0, 1.0)
        } else {
            0.0
        }
    }

    /// "×1.18 (99.5% range 1.09–1.29)".
    pub fn estimate_text(&self) -> String {
        let Some(est) = self.estimate else {
            return match self.range {
                Some(_) => self.range_text().trim_start().to_string(),
                None => "no estimate yet".into(),
            };
        };
        format!("×{}{}", factor(est), self.range_text())
    }

    /// " (99.5% range 1.09–1.29)".
    fn range_text(&self) -> String {
        let level = percent_label(self.confidence);
        match self.range {
            Some((lo, hi)) if lo <= 0.0 && hi.is_infinite() => {
                format!(" ({level} range still open)")
            }
            Some((lo, hi)) if hi.is_infinite() => format!(" ({level} range above {})", factor(lo)),
            Some((lo, hi)) if lo <= 0.0 => format!(" ({level} range below {})", factor(hi)),
            Some((lo, hi)) => format!(" ({level} range {}–{})", factor(lo), factor(hi)),
            None => " (no single factor fits the data)".into(),
        }
    }
}

fn factor(v: f64) -> String {
    if v >= 9.995 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// `99.5%` for 0.995.
pub fn percent_label(confidence: f64) -> String {
    let pct = confidence * 100.0;
    let text = format!("{pct:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text}%")
}

fn requests_text(n: f64) -> String {
    if n >= 100_000.0 {
        format!("{:.0}k", n / 1000.0)
    } else if n >= 1_000.0 {
        format!("{:.1}k", n / 1000.0)
    } else {
        format!("{n:.0}")
    }
}

/// One effect size with its e-process.
struct Hypothesis {
    factor: f64,
    /// Latency stretch columns (`None` for errors).
    columns: Option<Columns>,
    /// The last projection onto this null (latency), to start the next one from.
    projection: Vec<f64>,
    ln_e: f64,
    rejected_at: Option<DateTime<Utc>>,
}

impl Hypothesis {
    fn new(factor: f64) -> Self {
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
struct Alternative {
    shape: Hypothesis,
    weight: f64,
    /// Whether the factor is an increase (compared with the increase floor) or a decrease.
    up: bool,
    against_none: f64,
    against_floor: f64,
    floor_projection: Vec<f64>,
}

/// The change that is tolerated: `tolerance` of the allowed one on a log scale (1.1^0.25 ≈ 1.024).
fn floors(s: &SequentialSettings) -> (f64, f64) {
    (
        s.allowed_increase.powf(s.tolerance),
        1.0 / s.allowed_decrease.powf(s.tolerance),
    )
}

/// Rebuild the latency stretches with the baseline's shape once it has this much more data.
const RESHAPE_GROWTH: f64 = 1.25;

/// The effects that matter, on the side(s) the direction judges, with their mixture weights.
fn alternatives(s: &SequentialSettings) -> Vec<(f64, f64)> {
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
fn matters(s: &SequentialSettings, factor: f64) -> bool {
    let eps = 1e-9;
    let up = factor >= s.allowed_increase - eps;
    let down = factor <= 1.0 / s.allowed_decrease + eps;
    match s.direction {
        Direction::Increase => up,
        Direction::Decrease => down,
        Direction::Either => up || down,
    }
}

fn range_grid(effect: Effect, s: &SequentialSettings) -> Vec<f64> {
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
fn smoothed(counts: &[f64]) -> Vec<f64> {
    let total: f64 = counts.iter().sum::<f64>() + PSEUDO_COUNT * counts.len() as f64;
    counts.iter().map(|c| (c + PSEUDO_COUNT) / total).collect()
}

fn clean(values: &[f64], len: usize) -> Option<Vec<f64>> {
    (values.len() == len).then(|| {
        values
            .iter()
            .map(|v| if v.is_finite() && *v > 0.0 { *v } else { 0.0 })
            .collect()
    })
}

/// `ln(Σ w exp(x) / Σ w)` over `(x, w)` pairs, stable: the log of a weighted mixture of
/// e-processes, itself an e-process.
fn ln_mixture(values: &[(f64, f64)]) -> f64 {
    let max = values.iter().map(|v| v.0).fold(f64::NEG_INFINITY, f64::max);
    let weight: f64 = values.iter().map(|v| v.1).sum();
    if !max.is_finite() || weight <= 0.0 {
        return f64::NEG_INFINITY;
    }
    let sum: f64 = values.iter().map(|(x, w)| w * (x - max).exp()).sum();
    max + (sum / weight).ln()
}

/// The latency factor that best explains the canary's counts given the baseline's, on `grid`
/// (ties and no data: 1).
fn best_factor(grid: &[Hypothesis], baseline_p: &[f64], canary: &[f64]) -> f64 {
    let mut best: (f64, f64) = (f64::NEG_INFINITY, 1.0);
    for h in grid {
        let Some(columns) = &h.columns else { continue };
        let q = apply(columns, baseline_p);
        let ll: f64 = canary
            .iter()
            .zip(&q)
            .filter(|(c, _)| **c > 0.0)
            .map(|(c, q)| c * q.max(1e-300).ln())
            .sum();
        let closer_to_one = (ll - best.0).abs() < 1e-9 && h.factor.ln().abs() < best.1.ln().abs();
        if ll > best.0 + 1e-9 || closer_to_one {
            best = (ll, h.factor);
        }
    }
    best.1
}

/// The step that a moment belongs to began at the latest start at or before it.
fn in_warmup(block: &CountBlock, step_starts: &[DateTime<Utc>], warmup: Duration) -> bool {
    if warmup.is_zero() {
        return false;
    }
    let Some(start) = step_starts.iter().rev().find(|s| **s < block.end) else {
        return false;
    };
    let warm_until = *start + chrono::Duration::from_std(warmup).unwrap_or_default();
    block.start < warm_until
}

/// Judge the counts so far. Pure and stateless: the same counts give the same result, so the
/// console and `check` agree, and a FAIL found in earlier blocks is found again.
pub fn evaluate(counts: &Counts, s: &SequentialSettings, ctx: &Context) -> SequentialResult {
    let effect = match counts.kind {
        CountKind::Latency { .. } => Effect::LatencyFactor,
        CountKind::Errors => Effect::ErrorRatio,
    };
    let alpha = if ctx.alpha > 0.0 && ctx.alpha < 1.0 {
        ctx.alpha
    } else {
        0.01
    };
    let threshold = (1.0 / alpha).ln();
    let bounds = match &counts.kind {
        CountKind::Latency { bounds } => Some(bounds.as_slice()),
        CountKind::Errors => None,
    };
    let categories = counts.kind.categories();
    let mut fail: Vec<Alternative> = alternatives(s)
        .into_iter()
        .map(|(f, weight)| Alternative {
            shape: Hypothesis::new(f),
            weight,
            up: f > 1.0,
            against_none: 0.0,
            against_floor: 0.0,
            floor_projection: Vec::new(),
        })
        .collect();
    let (floor_up, floor_down) = floors(s);
    let mut floor_columns: (Columns, Columns) = (Vec::new(), Vec::new());
    let mut nulls: Vec<Hypothesis> = range_grid(effect, s)
        .into_iter()
        .map(Hypothesis::new)
        .collect();
    let mut shaped_at = -1.0;

    let mut base_total = vec![0.0; categories];
    let mut canary_total = vec![0.0; categories];
    let mut fail_at: Option<DateTime<Utc>> = None;
    let mut pass_at: Option<DateTime<Utc>> = None;
    let mut peak = 0.0_f64;
    let mut mixture = 0.0;
    // (end, FAIL evidence, PASS evidence, canary requests) per counted block, for the speed.
    let mut history: Vec<(DateTime<Utc>, f64, f64, f64)> = Vec::new();

    // The range and a PASS are about the canary at its current weight: the current step only.
    // The FAIL evidence runs over the whole life (it holds whatever the load or weight does).
    let step_start = ctx.step_starts.last().copied();
    let mut step_base = vec![0.0; categories];
    let mut step_canary = vec![0.0; categories];
    for block in &counts.blocks {
        if in_warmup(block, &ctx.step_starts, s.warmup) {
            continue;
        }
        let in_step = step_start.is_none_or(|t| block.start >= t);
        let (Some(b), Some(c)) = (
            clean(&block.baseline, categories),
            clean(&block.canary, categories),
        ) else {
            continue;
        };
        // Plug-ins from earlier blocks only: that is what keeps the product a supermartingale.
        let p_b = smoothed(&base_total);
        let seen: f64 = base_total.iter().sum();
        let betting = seen >= PLUGIN_MIN_REQUESTS;
        if let Some(bounds) = bounds
            && (shaped_at < 0.0 || seen > shaped_at * RESHAPE_GROWTH + 100.0)
        {
            // Within-bucket shapes from the baseline so far: predictable, so still valid.
            shaped_at = seen;
            for h in fail
                .iter_mut()
                .map(|a| &mut a.shape)
                .chain(nulls.iter_mut())
            {
                h.columns = Some(stretch(bounds, h.factor, Some(&p_b)));
            }
            floor_columns = (
                stretch(bounds, floor_up, Some(&p_b)),
                stretch(bounds, floor_down, Some(&p_b)),
            );
        }
        match effect {
            _ if !betting => {}
            Effect::LatencyFactor => {
                for alt in &mut fail {
                    let q_c = alt
                        .shape
                        .columns
                        .as_ref()
                        .map_or_else(|| p_b.clone(), |a| apply(a, &p_b));
                    alt.against_none += ln_e_categorical(&b, &c, &p_b, &q_c, None);
                    let floor = LinearNull {
                        columns: if alt.up {
                            &floor_columns.0
                        } else {
                            &floor_columns.1
                        },
                        projection: &mut alt.floor_projection,
                    };
                    alt.against_floor += ln_e_categorical(&b, &c, &p_b, &q_c, Some(floor));
                }
                // The alternative for the range: the factor that fits this step's canary best.
                let guess = best_factor(&nulls, &p_b, &step_canary);
                let q_c = nulls
                    .iter()
                    .find(|h| h.factor == guess)
                    .and_then(|h| h.columns.as_ref())
                    .map_or_else(|| p_b.clone(), |a| apply(a, &p_b));
                for h in nulls
                    .iter_mut()
                    .filter(|h| in_step && h.rejected_at.is_none())
                {
                    let null = h.columns.as_ref().map(|columns| LinearNull {
                        columns,
                        projection: &mut h.projection,
                    });
                    h.ln_e += ln_e_categorical(&b, &c, &p_b, &q_c, null);
                }
            }
            Effect::ErrorRatio => {
                // This step's canary error ratio, pulled towards the baseline's while it is thin.
                let pi_b = p_b[0];
                let step_n: f64 = step_canary.iter().sum();
                let pi_c_seen = ((step_canary[0] + pi_b) / (step_n + 1.0)).clamp(1e-9, 1.0 - 1e-9);
                for alt in &mut fail {
                    let pi_c = (pi_b * alt.shape.factor).clamp(1e-9, 1.0 - 1e-9);
                    let floor = if alt.up { floor_up } else { floor_down };
                    let (b, c) = ([b[0], b[1]], [c[0], c[1]]);
                    alt.against_none += ln_e_errors(b, c, pi_b, pi_c, 1.0);
                    alt.against_floor += ln_e_errors(b, c, pi_b, pi_c, floor);
                }
                for h in nulls
                    .iter_mut()
                    .filter(|h| in_step && h.rejected_at.is_none())
                {
                    h.ln_e += ln_e_errors([b[0], b[1]], [c[0], c[1]], pi_b, pi_c_seen, h.factor);
                }
            }
        }
        for (total, v) in base_total.iter_mut().zip(&b) {
            *total += v;
        }
        for (total, v) in canary_total.iter_mut().zip(&c) {
            *total += v;
        }
        if in_step {
            for (total, v) in step_base.iter_mut().zip(&b) {
                *total += v;
            }
            for (total, v) in step_canary.iter_mut().zip(&c) {
                *total += v;
            }
        }
        // Evidence against "no change" (exact) and against the tolerated change on the side of
        // the alternatives (a floor): both must be there for a FAIL.
        let side = |up: bool| {
            let values: Vec<(f64, f64)> = fail
                .iter()
                .filter(|a| a.up == up)
                .map(|a| (a.against_floor, a.weight))
                .collect();
            ln_mixture(&values)
        };
        let none: Vec<(f64, f64)> = fail.iter().map(|a| (a.against_none, a.weight)).collect();
        mixture = ln_mixture(&none).min(side(true).max(side(false)));
        peak = peak.max(mixture);
        if fail_at.is_none() && mixture >= threshold {
            fail_at = Some(block.end);
        }
        for h in nulls.iter_mut() {
            if h.rejected_at.is_none() && h.ln_e >= threshold {
                h.rejected_at = Some(block.end);
            }
        }
        let enough = step_base.iter().sum::<f64>() >= s.min_samples as f64
            && step_canary.iter().sum::<f64>() >= s.min_samples as f64;
        // Ruled out: every effect that matters is rejected while some smaller one is not (when
        // every factor on the grid is rejected, the effect may lie beyond it).
        let ruled_out = nulls
            .iter()
            .filter(|h| matters(s, h.factor))
            .all(|h| h.rejected_at.is_some())
            && nulls.iter().any(|h| h.rejected_at.is_none());
        if pass_at.is_none() && enough && ruled_out {
            pass_at = Some(block.end);
        }
        let pass_evidence = nulls
            .iter()
            .filter(|h| matters(s, h.factor))
            .map(|h| {
                if h.rejected_at.is_some() {
                    threshold
                } else {
                    h.ln_e
                }
            })
            .fold(f64::INFINITY, f64::min);
        history.push((block.end, mixture, pass_evidence, c.iter().sum()));
    }

    let requests = (
        base_total.iter().sum::<f64>(),
        canary_total.iter().sum::<f64>(),
    );
    let step_requests = (
        step_base.iter().sum::<f64>(),
        step_canary.iter().sum::<f64>(),
    );
    let enough = step_requests.0 >= s.min_samples as f64 && step_requests.1 >= s.min_samples as f64;
    let estimate = (step_requests.1 > 0.0)
        .then(|| match effect {
            Effect::LatencyFactor => best_factor(&nulls, &smoothed(&step_base), &step_canary),
            // The plain ratio of the error ratios: unknown while the baseline has no error.
            Effect::ErrorRatio => {
                let baseline = step_base[0] / step_requests.0.max(1.0);
                let canary = step_canary[0] / step_requests.1.max(1.0);
                if baseline > 0.0 {
                    canary / baseline
                } else {
                    f64::NAN
                }
            }
        })
        .filter(|e| e.is_finite());
    let alive: Vec<f64> = nulls
        .iter()
        .filter(|h| h.rejected_at.is_none())
        .map(|h| h.factor)
        .collect();
    let (grid_min, grid_max) = (
        nulls.first().map_or(0.0, |h| h.factor),
        nulls.last().map_or(f64::INFINITY, |h| h.factor),
    );
    let range = match (alive.first(), alive.last(), estimate) {
        // An end of the grid is no bound: the range goes on past it ("below", "above").
        (Some(lo), Some(hi), _) if step_requests.1 > 0.0 => Some((
            if *lo <= grid_min { 0.0 } else { *lo },
            if *hi >= grid_max { f64::INFINITY } else { *hi },
        )),
        // Every factor on the grid is rejected and the estimate is beyond one of its ends.
        (None, None, Some(e)) if e >= grid_max => Some((grid_max, f64::INFINITY)),
        (None, None, Some(e)) if e <= grid_min => Some((0.0, grid_min)),
        _ => None,
    };
    let error_ratios = (effect == Effect::ErrorRatio
        && step_requests.0 > 0.0
        && step_requests.1 > 0.0)
        .then(|| {
            (
                step_base[0] / step_requests.0,
                step_canary[0] / step_requests.1,
            )
        });
    let recent = &history[history.len().saturating_sub(RECENT_BLOCKS + 1)..];
    let span_secs = match (recent.first(), recent.last()) {
        (Some(first), Some(last)) if recent.len() > 1 => {
            (last.0 - first.0).num_milliseconds() as f64 / 1000.0
        }
        _ => 0.0,
    };
    let canary_rate =
        (span_secs > 0.0).then(|| recent.iter().skip(1).map(|h| h.3).sum::<f64>() / span_secs);
    let (decision, decided_at, passed_at_hold_end) = match (fail_at, pass_at) {
        (Some(at), _) => (Decision::Fail, Some(at), false),
        (None, Some(at)) => (Decision::Pass, Some(at), false),
        (None, None) if ctx.hold_left == Some(Duration::ZERO) && enough => {
            (Decision::Pass, None, true)
        }
        _ => (Decision::Collecting, None, false),
    };
    let eta = (decision == Decision::Collecting && span_secs > 0.0)
        .then(|| {
            let (first, last) = (recent.first()?, recent.last()?);
            let to_go = |now: f64, then: f64| {
                let speed = (now - then) / span_secs;
                (speed > 0.0 && now < threshold).then(|| (threshold - now) / speed)
            };
            let secs = [to_go(last.1, first.1), to_go(last.2, first.2)]
                .into_iter()
                .flatten()
                .fold(f64::INFINITY, f64::min);
            (secs.is_finite()).then(|| Duration::from_secs_f64(secs.min(86_400.0 * 30.0)))
        })
        .flatten();
    let mut result = SequentialResult {
        decision,
        effect,
        evidence: mixture,
        peak_evidence: peak,
        threshold,
        estimate,
        range,
        confidence: 1.0 - alpha,
        requests,
        step_requests,
        error_ratios,
        canary_rate,
        decided_at,
        passed_at_hold_end,
        eta,
        hold_left: ctx.hold_left.filter(|_| decision == Decision::Collecting),
        counted_until: history.last().map(|h| h.0),
        reason: String::new(),
    };
    result.reason = reason(&result, s);
    result
}

/// The verdict in words: a headline (decision and effect), then the evidence and the counts.
impl SequentialResult {
    /// The result for a rollout that has ended: it takes no more decisions, so no pace or hold
    /// is promised in its words.
    pub fn ended(mut self, s: &SequentialSettings) -> Self {
        self.eta = None;
        self.canary_rate = None;
        self.hold_left = None;
        self.reason = reason(&self, s);
        self
    }
}

fn reason(r: &SequentialResult, s: &SequentialSettings) -> String {
    let (headline, detail) = (headline(r, s), detail(r, s));
    match r.decision {
        Decision::Collecting if r.requests.1 <= 0.0 => headline,
        Decision::Pass if !r.passed_at_hold_end => format!("{headline}; {detail}"),
        _ => format!(
            "{headline}; evidence {} of {:.1}; {detail}",
            evidence_text(r.evidence),
            r.threshold
        ),
    }
}

/// "canary is slower: latency ×1.18 (99.5% range 1.09–1.29)".
pub fn headline(r: &SequentialResult, s: &SequentialSettings) -> String {
    let effect = match (r.effect, r.error_ratios) {
        (Effect::ErrorRatio, Some((b, c))) => {
            let estimate = r.estimate_text();
            let sep = if r.estimate.is_some() { ": " } else { " " };
            format!(
                "errors {:.2}% vs {:.2}%{sep}{estimate}",
                c * 100.0,
                b * 100.0
            )
        }
        (Effect::ErrorRatio, None) => format!("error ratio {}", r.estimate_text()),
        (Effect::LatencyFactor, _) => format!("latency {}", r.estimate_text()),
    };
    let worse = match (r.effect, s.direction) {
        (Effect::LatencyFactor, Direction::Increase) => "slower",
        (Effect::LatencyFactor, Direction::Decrease) => "faster",
        (Effect::ErrorRatio, Direction::Increase) => "failing more",
        (Effect::ErrorRatio, Direction::Decrease) => "failing less",
        (_, Direction::Either) => "different",
    };
    let limit = match s.direction {
        Direction::Increase => format!("×{}", factor(s.allowed_increase)),
        Direction::Decrease => format!("×{}", factor(1.0 / s.allowed_decrease)),
        Direction::Either => format!(
            "×{} or ×{}",
            factor(s.allowed_increase),
            factor(1.0 / s.allowed_decrease)
        ),
    };
    match r.decision {
        Decision::Fail => format!("canary is {worse}: {effect}"),
        Decision::Pass if r.passed_at_hold_end => {
            format!("hold ended without evidence of a change of {limit} or more: {effect}")
        }
        Decision::Pass => format!("a change of {limit} or more is ruled out: {effect}"),
        Decision::Collecting if r.requests.1 <= 0.0 => {
            "collecting: no canary requests counted yet".into()
        }
        Decision::Collecting => format!("collecting: {effect}"),
    }
}

/// A FAIL in few words, for the one-line "why": "slower: ×1.38 (99.5% range 1.32–1.46)".
pub fn short_headline(r: &SequentialResult, s: &SequentialSettings) -> String {
    let full = headline(r, s);
    match full.strip_prefix("canary is ") {
        Some(rest) => rest.replacen(": latency ", ": ", 1),
        None => full,
    }
}

/// Evidence for reading: `1.6`, `37`, `951`.
pub fn evidence_text(ln_e: f64) -> String {
    let v = ln_e.max(0.0);
    if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// "412 canary / 8.1k baseline requests; a decision in ≈ 40s at 5.0 rps".
pub fn detail(r: &SequentialResult, s: &SequentialSettings) -> String {
    let counted = format!(
        "{} canary / {} baseline requests",
        requests_text(r.requests.1),
        requests_text(r.requests.0)
    );
    if r.decision != Decision::Collecting {
        return counted;
    }
    let enough = (r.step_requests.1 as u64) >= s.min_samples;
    let short = if enough {
        String::new()
    } else {
        format!(" ({} in this step needed for a PASS)", s.min_samples)
    };
    let pace = match (r.eta, r.canary_rate, r.hold_left) {
        // The hold ends first: that is when a PASS comes.
        (eta, _, Some(left)) if enough && !left.is_zero() && eta.is_none_or(|e| left < e) => {
            format!(
                "; PASS when the hold ends in {} unless evidence comes first",
                short_duration(left)
            )
        }
        (Some(eta), Some(rate), _) => {
            format!("; a decision in ≈ {} at {rate:.1} rps", short_duration(eta))
        }
        (None, Some(rate), _) => format!("; no decision in sight at {rate:.1} rps"),
        _ => String::new(),
    };
    format!("{counted}{short}{pace}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use rand_distr::{Binomial, Distribution, Poisson};

    const BOUNDS: [f64; 12] = [
        0.005,
        0.01,
        0.025,
        0.05,
        0.1,
        0.25,
        0.5,
        1.0,
        2.5,
        5.0,
        10.0,
        f64::INFINITY,
    ];

    fn t(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + secs, 0)
            .single()
            .expect("t")
    }

    fn lognormal_probabilities(median: f64, sigma: f64) -> Vec<f64> {
        let cdf = |x: f64| crate::domain::judge::normal_cdf((x.ln() - median.ln()) / sigma);
        let mut prev = 0.0;
        BOUNDS
            .iter()
            .map(|b| {
                let c = if b.is_finite() { cdf(*b) } else { 1.0 };
                let p = c - prev;
                prev = c;
                p
            })
            .collect()
    }

    fn draw(rng: &mut ChaCha8Rng, n: u64, p: &[f64]) -> Vec<f64> {
        let mut left = n;
        let mut mass = 1.0;
        p.iter()
            .map(|pk| {
                let share = if mass > 0.0 {
                    (pk / mass).clamp(0.0, 1.0)
                } else {
                    0.0
                };
                let k = Binomial::new(left, share).map_or(0, |b| b.sample(rng));
                left -= k;
                mass -= pk;
                k as f64
            })
            .collect()
    }

    /// `polls` blocks of 10s at 95 vs 5 rps; the canary's median is × `shift` from `from` on.
    fn latency_run(seed: u64, polls: usize, shift: f64, from: usize) -> Counts {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let healthy = lognormal_probabilities(0.08, 0.5);
        let slower = lognormal_probabilities(0.08 * shift, 0.5);
        let blocks = (0..polls)
            .map(|i| {
                let n_b = Poisson::new(950.0).map_or(0.0, |p| p.sample(&mut rng)) as u64;
                let n_c = Poisson::new(50.0).map_or(0.0, |p| p.sample(&mut rng)) as u64;
                let canary_p = if i >= from { &slower } else { &healthy };
                CountBlock {
                    start: t(i as i64 * 10),
                    end: t(i as i64 * 10 + 10),
                    baseline: draw(&mut rng, n_b, &healthy),
                    canary: draw(&mut rng, n_c, canary_p),
                }
            })
            .collect();
        Counts {
            kind: CountKind::Latency {
                bounds: BOUNDS.to_vec(),
            },
            blocks,
        }
    }

    fn errors_run(seed: u64, polls: usize, base: f64, ratio: f64) -> Counts {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let blocks = (0..polls)
            .map(|i| {
                let n_b = Poisson::new(950.0).map_or(0.0, |p| p.sample(&mut rng)) as u64;
                let n_c = Poisson::new(50.0).map_or(0.0, |p| p.sample(&mut rng)) as u64;
                let e_b = Binomial::new(n_b, base).map_or(0, |b| b.sample(&mut rng));
                let e_c =
                    Binomial::new(n_c, (base * ratio).min(1.0)).map_or(0, |b| b.sample(&mut rng));
                CountBlock {
                    start: t(i as i64 * 10),
                    end: t(i as i64 * 10 + 10),
                    baseline: vec![e_b as f64, (n_b - e_b) as f64],
                    canary: vec![e_c as f64, (n_c - e_c) as f64],
                }
            })
            .collect();
        Counts {
            kind: CountKind::Errors,
            blocks,
        }
    }

    fn ctx(hold_over: bool) -> Context {
        Context {
            alpha: 0.005,
            step_starts: vec![t(0)],
            hold_left: hold_over.then_some(Duration::ZERO),
        }
    }

    #[test]
    fn a_twenty_percent_slowdown_fails_within_a_few_polls() {
        // 95 vs 5 rps, 10s polls, Prometheus's default buckets, σ 0.5, slower from the start.
        let mut polls: Vec<i64> = (0..15)
            .map(|seed| {
                let r = evaluate(
                    &latency_run(20 + seed, 30, 1.2, 0),
                    &SequentialSettings::default(),
                    &ctx(false),
                );
                assert_eq!(r.decision, Decision::Fail, "seed {seed}: {}", r.reason);
                let (lo, hi) = r.range.expect("range");
                assert!(lo > 1.0 && hi > 1.1, "{}", r.reason);
                assert!(
                    r.reason.starts_with("canary is slower: latency ×1."),
                    "{}",
                    r.reason
                );
                r.decided_at.map_or(99, |at| (at - t(0)).num_seconds() / 10)
            })
            .collect();
        polls.sort_unstable();
        assert!(polls[7] <= 7, "median polls to FAIL: {polls:?}");
    }

    #[test]
    fn a_slowdown_under_the_tolerated_change_is_not_failed() {
        // ×1.04 is under 1.1^0.5 ≈ 1.049: with tolerance 0.5, many requests see it, none fails
        // it, and the range rules out ×1.1. With no tolerance the same counts fail it.
        let half = SequentialSettings {
            tolerance: 0.5,
            ..SequentialSettings::default()
        };
        let r = evaluate(&latency_run(3, 200, 1.04, 0), &half, &ctx(false));
        assert_eq!(r.decision, Decision::Pass, "{}", r.reason);
        let exact = SequentialSettings {
            tolerance: 0.0,
            ..SequentialSettings::default()
        };
        let strict = evaluate(&latency_run(3, 200, 1.04, 0), &exact, &ctx(false));
        assert_eq!(strict.decision, Decision::Fail, "{}", strict.reason);
        // The default (a quarter, ×1.024) does not fail ×1.01.
        let r = evaluate(
            &latency_run(4, 200, 1.01, 0),
            &SequentialSettings::default(),
            &ctx(false),
        );
        assert_ne!(r.decision, Decision::Fail, "{}", r.reason);
    }

    #[test]
    fn a_healthy_canary_passes_by_ruling_out_the_allowed_slowdown() {
        let counts = latency_run(2, 60, 1.0, 0);
        let r = evaluate(&counts, &SequentialSettings::default(), &ctx(false));
        assert_eq!(r.decision, Decision::Pass, "{}", r.reason);
        let (lo, hi) = r.range.expect("range");
        assert!(lo < 1.0 && hi < 1.1, "{lo}..{hi}");
        assert!(!r.passed_at_hold_end);
    }

    #[test]
    fn healthy_canaries_are_rarely_failed() {
        // 40 runs of 60 polls at α = 0.005: more than one failure would be far beyond the bound.
        let failed = (0..40)
            .filter(|seed| {
                let r = evaluate(
                    &latency_run(100 + seed, 60, 1.0, 0),
                    &SequentialSettings::default(),
                    &ctx(false),
                );
                r.decision == Decision::Fail
            })
            .count();
        assert!(failed <= 1, "{failed} of 40 healthy runs failed");
    }

    #[test]
    fn doubled_errors_fail_and_the_range_covers_two() {
        let counts = errors_run(3, 40, 0.05, 2.0);
        let s = SequentialSettings {
            allowed_increase: 1.5,
            ..SequentialSettings::default()
        };
        let r = evaluate(&counts, &s, &ctx(false));
        assert_eq!(r.decision, Decision::Fail, "{}", r.reason);
        assert!(r.decided_at.is_some_and(|at| at <= t(150)), "{}", r.reason);
        let (lo, hi) = r.range.expect("range");
        assert!(lo <= 2.0 && hi >= 2.0, "{lo}..{hi}");
        assert!(
            r.reason.starts_with("canary is failing more: errors ") && r.reason.contains("% vs "),
            "{}",
            r.reason
        );
    }

    #[test]
    fn an_end_of_the_grid_is_no_bound_so_the_estimate_stays_inside_its_range() {
        // No canary errors yet: the estimate is ×0, below the grid's lowest factor.
        let counts = errors_run(5, 4, 0.001, 0.0);
        let r = evaluate(&counts, &SequentialSettings::default(), &ctx(false));
        let (lo, hi) = r.range.expect("range");
        assert_eq!(lo, 0.0, "{}", r.estimate_text());
        assert!(
            r.estimate.is_none_or(|e| e >= lo && e <= hi),
            "{}",
            r.estimate_text()
        );
        assert!(
            r.estimate_text().contains("range below"),
            "{}",
            r.estimate_text()
        );
    }

    #[test]
    fn no_canary_traffic_is_collecting_never_pass_even_when_the_hold_is_over() {
        let mut counts = errors_run(4, 20, 0.01, 1.0);
        for b in &mut counts.blocks {
            b.canary = vec![0.0, 0.0];
        }
        let r = evaluate(&counts, &SequentialSettings::default(), &ctx(true));
        assert_eq!(r.decision, Decision::Collecting);
        assert_eq!(r.reason, "collecting: no canary requests counted yet");
        assert_eq!(r.range, None);
        let none = evaluate(
            &Counts {
                kind: CountKind::Errors,
                blocks: vec![],
            },
            &SequentialSettings::default(),
            &ctx(true),
        );
        assert_eq!(none.decision, Decision::Collecting);
    }

    #[test]
    fn the_hold_ending_passes_with_enough_requests_and_says_so() {
        let counts = latency_run(5, 4, 1.0, 0);
        let collecting = evaluate(&counts, &SequentialSettings::default(), &ctx(false));
        assert_eq!(
            collecting.decision,
            Decision::Collecting,
            "{}",
            collecting.reason
        );
        assert!(
            collecting.reason.starts_with("collecting: latency ×"),
            "{}",
            collecting.reason
        );
        let r = evaluate(&counts, &SequentialSettings::default(), &ctx(true));
        assert_eq!(r.decision, Decision::Pass, "{}", r.reason);
        assert!(r.passed_at_hold_end);
        assert!(
            r.reason.starts_with("hold ended without evidence"),
            "{}",
            r.reason
        );
    }

    #[test]
    fn nan_and_negative_counts_and_wrong_lengths_are_ignored_not_fatal() {
        let mut counts = latency_run(6, 10, 1.0, 0);
        counts.blocks[2].canary[3] = f64::NAN;
        counts.blocks[3].baseline[1] = -5.0;
        counts.blocks[4].canary.pop();
        let r = evaluate(&counts, &SequentialSettings::default(), &ctx(false));
        assert!(r.evidence.is_finite(), "{r:?}");
        assert_ne!(r.decision, Decision::Fail);
    }

    #[test]
    fn warmup_skips_the_start_of_each_step() {
        // A slow canary only during the first 30s of the step: with a 40s warm-up it is not seen.
        let mut counts = latency_run(7, 20, 1.0, 0);
        let slow = latency_run(8, 3, 2.0, 0);
        for i in 0..3 {
            counts.blocks[i].canary = slow.blocks[i].canary.clone();
        }
        let s = SequentialSettings::default();
        let cold = evaluate(&counts, &s, &ctx(false));
        assert_eq!(cold.decision, Decision::Fail, "{}", cold.reason);
        let warm = evaluate(
            &counts,
            &SequentialSettings {
                warmup: Duration::from_secs(40),
                ..s
            },
            &ctx(false),
        );
        assert_ne!(warm.decision, Decision::Fail, "{}", warm.reason);
        assert!(warm.requests.1 < cold.requests.1);
    }

    #[test]
    fn the_same_counts_give_the_same_verdict_and_a_fail_is_found_again() {
        let counts = latency_run(9, 40, 1.5, 10);
        let first = evaluate(&counts, &SequentialSettings::default(), &ctx(false));
        let mut more = counts.clone();
        more.blocks
            .extend(latency_run(10, 10, 1.0, 0).blocks.into_iter().map(|mut b| {
                b.start += chrono::Duration::seconds(400);
                b.end += chrono::Duration::seconds(400);
                b
            }));
        let later = evaluate(&more, &SequentialSettings::default(), &ctx(false));
        assert_eq!(first.decision, Decision::Fail);
        assert_eq!(later.decision, Decision::Fail);
        assert_eq!(first.decided_at, later.decided_at);
    }

    #[test]
    fn settings_must_name_an_effect_that_matters() {
        assert!(SequentialSettings::default().validate().is_ok());
        let bad = SequentialSettings {
            allowed_increase: 1.0,
            ..SequentialSettings::default()
        };
        assert!(bad.validate().unwrap_err().contains("allowed_increase"));
        assert_eq!(alpha_per_metric(0.01, 2), 0.005);
    }
}
