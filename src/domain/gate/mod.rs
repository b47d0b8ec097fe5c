//! Gates: the rules a canary metric must hold, against its baseline or alone, and what judging
//! them says.
//!
//! This file holds the rule as configured (`Gate`: its checks, `for`, `min_requests`, severity)
//! and the outcome (`Verdict`, `GateEvaluation`). `checks.rs` checks one (baseline, canary) pair
//! and words each check; `evaluate.rs` judges the series: the verdict at the newest point, and
//! whether the gate held at each point (for phase readiness).
//!
//! Every check present in a gate must hold. A violation only counts as FAIL (WARN for a `warn`
//! gate) once it has held at each of the last `for` evaluation points; before that it is PENDING.
//! A violation seen on fewer canary requests than `min_requests` is COLLECTING, never FAIL.
//! Missing data is NO DATA, never PASS. A gate without checks passes, shown for information.
//!
//! Zero baseline rule: relative checks (`max_increase_pct`, `max_ratio`, `max_delta`,
//! `min_decrease_pct`, `min_ratio`) compare against `max(baseline, min_baseline)`. Without a
//! `min_baseline`, a zero baseline makes an upper relative limit 0 (plus `max_delta`), so any canary
//! value above zero fails: strict, never "everything passes". Set `min_baseline` (e.g. 0.005 for
//! an error ratio) to judge a near-zero baseline against a sensible floor instead.

mod checks;
mod evaluate;

use serde::{Deserialize, Serialize};
use std::time::Duration;

use chrono::{DateTime, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// A FAIL means: roll back.
    #[default]
    Rollback,
    /// A FAIL blocks promotion; no rollback advised.
    Hold,
    /// Shown, never blocks.
    Warn,
}

/// `for = 2` (consecutive evaluation points) or `for = "1m"` (converted with the poll interval).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ForSpec {
    Checks(u32),
    #[serde(with = "super::format::humantime_serde")]
    Duration(Duration),
}

impl Default for ForSpec {
    fn default() -> Self {
        Self::Checks(1)
    }
}

impl ForSpec {
    /// How many consecutive points a violation must hold, at least 1.
    pub fn points(self, poll_interval: Duration) -> u32 {
        match self {
            Self::Checks(n) => n.max(1),
            Self::Duration(d) => {
                let step = poll_interval.as_secs_f64().max(0.001);
                ((d.as_secs_f64() / step).ceil() as u32).max(1)
            }
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_increase_pct: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ratio: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_delta: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_decrease_pct: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_ratio: Option<f64>,
    /// Floor for the baseline in relative checks (see the module docs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_baseline: Option<f64>,
    /// A violation seen on fewer canary requests than this (in the metric's window) is
    /// COLLECTING, not FAIL: one 5xx in ten requests is not a 10% error rate. Needs the metric's
    /// `total` or `histogram` to count requests; ratio metrics default to
    /// `DEFAULT_MIN_REQUESTS`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_requests: Option<f64>,
    #[serde(default, rename = "for")]
    pub for_: ForSpec,
    #[serde(default)]
    pub severity: Severity,
}

/// Canary requests behind each canary point (by timestamp), and how many a violation needs.
pub type Counted<'a> = (&'a [(DateTime<Utc>, f64)], f64);

/// `min_requests` of a ratio metric whose requests are counted, when the gate sets none.
pub const DEFAULT_MIN_REQUESTS: f64 = 100.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Pending,
    /// Not enough requests yet to judge (a sequential judge still counting, or a violation seen
    /// on fewer than `min_requests`): never a PASS, never a FAIL.
    Collecting,
    Fail,
    /// A failing gate whose severity is `warn`: shown, never blocks.
    Warn,
    NoData,
}

impl Verdict {
    /// The name written in `check --json` and in audit receipts (serde's): `no_data`, not `nodata`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Pending => "pending",
            Self::Collecting => "collecting",
            Self::Fail => "fail",
            Self::Warn => "warn",
            Self::NoData => "no_data",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Pass => "PASS",
            Self::Pending => "PENDING",
            Self::Collecting => "COLLECTING",
            Self::Fail => "FAIL",
            Self::Warn => "WARN",
            Self::NoData => "NO DATA",
        }
    }

    /// A symbol that carries the meaning without colour.
    pub fn symbol(self) -> &'static str {
        match self {
            Self::Pass => "✓",
            Self::Pending | Self::Collecting => "…",
            Self::Fail => "✗",
            Self::Warn => "!",
            Self::NoData => "?",
        }
    }

    /// Whether a promotion on this verdict needs an explicit override.
    pub fn blocks_promotion(self) -> bool {
        matches!(self, Self::Fail | Self::NoData)
    }

    /// Whether this verdict still says something once the rollout has ended (completed or
    /// rolled back). With no canary left, NO DATA, PENDING or COLLECTING would read as something
    /// to wait for; a FAIL or WARN stays, as it says why it ended, and so does a PASS.
    pub fn is_news_after_the_end(self) -> bool {
        !matches!(self, Self::NoData | Self::Pending | Self::Collecting)
    }
}

/// The outcome of one gate on one metric, with the numbers and the words behind it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateEvaluation {
    pub verdict: Verdict,
    pub severity: Severity,
    pub baseline: Option<f64>,
    pub canary: Option<f64>,
    /// One sentence per check, the failing ones first.
    pub reasons: Vec<String>,
    /// Consecutive violating points at the end, and how many make a FAIL.
    pub violating_points: u32,
    pub required_points: u32,
    /// The limit on the canary that decides the verdict now: the violated one, else the tightest.
    pub threshold: Option<f64>,
    /// Canary requests behind the newest value (its window), when they are counted.
    pub canary_requests: Option<f64>,
}

impl GateEvaluation {
    pub fn delta(&self) -> Option<f64> {
        Some(self.canary? - self.baseline?)
    }

    /// Relative change in percent; `None` on a zero baseline.
    pub fn delta_pct(&self) -> Option<f64> {
        let (b, c) = (self.baseline?, self.canary?);
        (b != 0.0).then(|| (c - b) / b.abs() * 100.0)
    }

    pub fn summary(&self) -> &str {
        self.reasons.first().map_or("", String::as_str)
    }
}

#[cfg(test)]
mod fixtures;

#[cfg(test)]
mod tests {
    use super::*;

    const EVERY_VERDICT: [Verdict; 6] = [
        Verdict::Pass,
        Verdict::Pending,
        Verdict::Collecting,
        Verdict::Fail,
        Verdict::Warn,
        Verdict::NoData,
    ];

    #[test]
    fn after_the_end_only_a_waiting_verdict_is_no_news() {
        let news: Vec<Verdict> = EVERY_VERDICT
            .into_iter()
            .filter(|v| v.is_news_after_the_end())
            .collect();
        assert_eq!(news, [Verdict::Pass, Verdict::Fail, Verdict::Warn]);
    }

    #[test]
    fn gate_parses_from_the_config_shape() {
        let g: Gate =
            toml::from_str("max_increase_pct = 10\nmax = 2.5\nfor = 2\nseverity = \"rollback\"")
                .expect("parses");
        assert_eq!(g.for_, ForSpec::Checks(2));
        let g: Gate = toml::from_str("max = 0.01\nfor = \"1m\"").expect("parses");
        assert_eq!(g.for_, ForSpec::Duration(Duration::from_secs(60)));
        assert!(
            toml::from_str::<Gate>("maxx = 1").is_err(),
            "typos are errors"
        );
    }

    #[test]
    fn verdict_names_are_serdes_no_data_included() {
        for v in EVERY_VERDICT {
            assert_eq!(serde_json::to_value(v).expect("json"), v.as_str());
        }
        assert_eq!(Verdict::NoData.as_str(), "no_data");
    }
}
