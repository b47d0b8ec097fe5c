//! What is judged and how: `[[rollouts]]`, `[[metrics]]` (and their judge), `[[slos]]`,
//! `[judge]`, `[policy]` and `[notify]`.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::domain::format::humantime_serde;
use crate::domain::{Gate, Unit};

/// `[judge]`.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JudgeConfig {
    /// The chance, over the whole rollout, that the sequential judge ever fails a canary that
    /// behaves like its baseline; split evenly across the sequential metrics.
    pub alpha: f64,
    /// Mann–Whitney score: at or above, INCONCLUSIVE (below: FAIL).
    pub marginal: f64,
    /// Mann–Whitney score: at or above, PASS.
    pub pass: f64,
}

impl Default for JudgeConfig {
    fn default() -> Self {
        let t = crate::domain::judge::ScoreThresholds::default();
        Self {
            alpha: DEFAULT_ALPHA,
            marginal: t.marginal,
            pass: t.pass,
        }
    }
}

pub use crate::domain::sequential::DEFAULT_ALPHA;

impl JudgeConfig {
    pub fn thresholds(&self) -> crate::domain::judge::ScoreThresholds {
        crate::domain::judge::ScoreThresholds {
            marginal: self.marginal,
            pass: self.pass,
        }
    }
}

/// A Slack-compatible webhook per action. The URL carries a token: prefer `webhook_url_file`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    #[serde(default)]
    pub webhook_url: Option<String>,
    #[serde(default)]
    pub webhook_url_file: Option<PathBuf>,
    #[serde(default = "super::default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
}

/// `[fleet]`: how a rollout the config does not name is queried (the fleet list follows every
/// rollout the backend lists).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetConfig {
    /// The service's label matchers with `$rollout` (its only variable), e.g. `app="$rollout"`.
    #[serde(default)]
    pub service: Option<toml::Spanned<String>>,
    /// The pod-template-hash label the tracks are told apart by.
    #[serde(default = "default_pod_hash_label")]
    pub pod_hash_label: String,
    /// The label holding the rollout's name in every series (e.g. `rollout`): one query per
    /// metric for the whole fleet instead of two per rollout.
    #[serde(default)]
    pub group_by: Option<String>,
    /// `recorded = true`: the grouped metrics and SLO windows are read from the recording rules
    /// `rollout-console rules` writes (`metrics::rules`), loaded in Prometheus.
    #[serde(default)]
    pub recorded: Option<toml::Spanned<bool>>,
    /// `preset = "<name>"`: the metrics and SLO of one instrumentation (config::presets).
    #[serde(default)]
    pub preset: Option<toml::Spanned<String>>,
}

impl Default for FleetConfig {
    fn default() -> Self {
        Self {
            service: None,
            pod_hash_label: default_pod_hash_label(),
            group_by: None,
            recorded: None,
            preset: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolloutConfig {
    pub name: String,
    /// Label matchers of the baseline and canary pods. Leave both out to build them from the
    /// rollout's pod-template hashes (Argo), ANDed with `service`.
    #[serde(default)]
    pub baseline: Option<String>,
    #[serde(default)]
    pub canary: Option<String>,
    #[serde(default)]
    pub service: Option<String>,
    /// The pod-template-hash label as Prometheus stores it (kubernetes_sd's labelmap turns
    /// `rollouts-pod-template-hash` into this).
    #[serde(default = "default_pod_hash_label")]
    pub pod_hash_label: String,
    /// `preset = "<name>"`: the metrics and SLO of one instrumentation (config::presets).
    #[serde(default)]
    pub preset: Option<toml::Spanned<String>>,
}

impl RolloutConfig {
    /// A rollout named on the command line only: every selector left to the defaults.
    pub fn unlisted(name: &str) -> Self {
        Self {
            name: name.to_string(),
            baseline: None,
            canary: None,
            service: None,
            pod_hash_label: default_pod_hash_label(),
            preset: None,
        }
    }
}

fn default_pod_hash_label() -> String {
    "rollouts_pod_template_hash".into()
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricConfig {
    pub name: String,
    /// Spanned so a template error can point at the query's line and column.
    pub query: toml::Spanned<String>,
    #[serde(default)]
    pub unit: Unit,
    #[serde(default, with = "humantime_serde::option")]
    pub window: Option<Duration>,
    #[serde(default)]
    pub gate: Gate,
    /// `judge = "sequential"` (a test on request counts: needs `histogram`, or `errors` and
    /// `total`) or `"mann-whitney"` (on the query's points); the keys below tune it.
    #[serde(default)]
    pub judge: Option<JudgeKind>,
    /// Latency: the histogram's raw `_bucket` series, e.g.
    /// `http_request_duration_seconds_bucket{$selector}` (no rate(), no $window).
    #[serde(default)]
    pub histogram: Option<toml::Spanned<String>>,
    /// Ratios: the raw counters of failed and of all requests.
    #[serde(default)]
    pub errors: Option<toml::Spanned<String>>,
    #[serde(default)]
    pub total: Option<toml::Spanned<String>>,
    /// Sequential: the first part of each step not counted while new pods warm up.
    #[serde(default, with = "humantime_serde::option")]
    pub warmup: Option<Duration>,
    /// Sequential: the share of the allowed change (log scale) a FAIL must also rule out.
    #[serde(default)]
    pub tolerance: Option<f64>,
    #[serde(default)]
    pub confidence: Option<f64>,
    #[serde(default)]
    pub direction: Option<crate::domain::judge::Direction>,
    #[serde(default)]
    pub allowed_increase: Option<f64>,
    #[serde(default)]
    pub allowed_decrease: Option<f64>,
    #[serde(default)]
    pub min_samples: Option<usize>,
    /// A HIGH/LOW from the judge on a critical metric fails the whole canary.
    #[serde(default)]
    pub critical: bool,
    /// The metric's weight in the judge's score.
    #[serde(default = "default_weight")]
    pub weight: f64,
}

fn default_weight() -> f64 {
    1.0
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum JudgeKind {
    #[serde(rename = "sequential")]
    Sequential,
    #[serde(rename = "mann-whitney")]
    MannWhitney,
}

impl MetricConfig {
    /// The raw counters behind this metric, when it names them.
    pub fn counters(&self) -> Option<crate::metrics::Counters> {
        match (&self.histogram, &self.errors, &self.total) {
            (Some(h), _, _) => Some(crate::metrics::Counters::Histogram(h.get_ref().clone())),
            (None, Some(errors), Some(total)) => Some(crate::metrics::Counters::Ratio {
                errors: errors.get_ref().clone(),
                total: total.get_ref().clone(),
            }),
            _ => None,
        }
    }

    /// The sequential judge's settings, when this metric has it.
    pub fn sequential_settings(&self) -> Option<crate::domain::sequential::SequentialSettings> {
        (self.judge? == JudgeKind::Sequential).then_some(())?;
        let d = crate::domain::sequential::SequentialSettings::default();
        Some(crate::domain::sequential::SequentialSettings {
            direction: self.direction.unwrap_or(d.direction),
            allowed_increase: self.allowed_increase.unwrap_or(d.allowed_increase),
            allowed_decrease: self.allowed_decrease.unwrap_or(d.allowed_decrease),
            min_samples: self.min_samples.map_or(d.min_samples, |n| n as u64),
            warmup: self.warmup.unwrap_or(d.warmup),
            tolerance: self.tolerance.unwrap_or(d.tolerance),
        })
    }

    /// The Mann–Whitney judge's settings, when this metric has it.
    pub fn judge_settings(&self) -> Option<crate::domain::judge::JudgeSettings> {
        (self.judge? == JudgeKind::MannWhitney).then_some(())?;
        let d = crate::domain::judge::JudgeSettings::default();
        Some(crate::domain::judge::JudgeSettings {
            confidence: self.confidence.unwrap_or(d.confidence),
            direction: self.direction.unwrap_or(d.direction),
            allowed_increase: self.allowed_increase.unwrap_or(d.allowed_increase),
            allowed_decrease: self.allowed_decrease.unwrap_or(d.allowed_decrease),
            min_samples: self.min_samples.unwrap_or(d.min_samples),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SloConfig {
    pub name: String,
    pub objective: f64,
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    pub error_ratio: toml::Spanned<String>,
    /// Recorded series to read instead of `error_ratio`: one template where `$window` is the
    /// window's label (Sloth: `slo:sli_error:ratio_rate$window{sloth_service="checkout",
    /// sloth_slo="availability"}`), or a table by window label (Pyrra:
    /// `{ "5m" = 'http_requests:burnrate5m{slo="checkout"}', … }`); a window missing from the
    /// table is computed from `error_ratio`.
    #[serde(default)]
    pub recorded: Option<toml::Spanned<RecordedConfig>>,
}

/// `recorded` of an `[[slos]]` entry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum RecordedConfig {
    Template(String),
    ByWindow(BTreeMap<String, String>),
}

impl SloConfig {
    /// The labels of the windows this SLO is measured over: its own (`30d`) and the burn
    /// windows (`5m` … `3d`).
    pub fn window_labels(&self) -> Vec<String> {
        std::iter::once(crate::metrics::template::prom_duration(self.window))
            .chain(crate::domain::slo::BURN_WINDOWS.map(|(l, _)| l.to_string()))
            .collect()
    }

    /// The recorded series by window label (`SloDef::recorded`).
    pub fn recorded_by_window(&self) -> Vec<(String, String)> {
        match self.recorded.as_ref().map(|r| r.get_ref()) {
            None => Vec::new(),
            Some(RecordedConfig::Template(t)) => self
                .window_labels()
                .into_iter()
                .map(|l| (l, t.clone()))
                .collect(),
            Some(RecordedConfig::ByWindow(table)) => {
                table.iter().map(|(l, t)| (l.clone(), t.clone())).collect()
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    #[serde(default = "default_min_budget")]
    pub min_budget_to_promote: f64,
}

fn default_min_budget() -> f64 {
    10.0
}

impl Default for PolicyConfig {
    fn default() -> Self {
        Self {
            min_budget_to_promote: default_min_budget(),
        }
    }
}
