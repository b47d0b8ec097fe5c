//! Metric definitions: a gated metric's name, unit and gate. The values themselves (units, samples,
//! series) are in `series`.

use super::gate::Gate;
use super::series::Unit;

/// A gated metric as the console knows it: how to name, show and judge it.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricDef {
    pub name: String,
    pub unit: Unit,
    pub gate: Gate,
}

/// Which track's query answered with no series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmptyTrack {
    Baseline,
    Canary,
    Both,
}

/// Why a query answered with no series: what `rollout-console explain` finds, or else (when
/// those lookups fail) found by asking Prometheus for the metric by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmptyAnswer {
    /// Found over the API as `explain` does, in its words: one per finding, never empty (the
    /// first is the most telling).
    Diagnosed {
        track: EmptyTrack,
        words: Vec<String>,
    },
    /// No series of this metric name exists at all: a typo, or nothing scrapes it.
    MetricMissing { name: String },
    /// The metric exists, but the track's selector matches none of its series.
    SelectorEmpty { track: EmptyTrack },
}
