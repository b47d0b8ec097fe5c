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
//!
//! Files: this one holds the settings and the result's types; `process.rs` runs the e-process
//! over the blocks (`hypotheses.rs`: what it bets against; `latency.rs` and `errors.rs`: one
//! block's bets for each kind of count), `verdict.rs` turns what it has seen into a decision,
//! an estimate and its range, and `words.rs` says it in figures and words.

mod errors;
mod hypotheses;
mod latency;
mod process;
mod verdict;
mod words;

pub use process::evaluate;
pub use words::{
    Figures, Requests, compact_headline, detail, evidence_text, headline, percent_label,
    short_headline,
};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::time::Duration;

use super::judge::Direction;

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

#[cfg(test)]
mod fixtures;

#[cfg(test)]
mod tests {
    use super::*;

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
