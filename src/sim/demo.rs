//! The demo's built-in metric and SLO definitions: what `rollout-console demo` judges. The app
//! turns them into panels (`app::demo`); the simulator knows nothing of the app.

use crate::domain::gate::ForSpec;
use crate::domain::sequential::SequentialSettings;
use crate::domain::{Gate, MetricDef, Severity, SloDef, Unit};
use crate::metrics::Counters;

/// One metric the demo shows: its definition, the simulator's series for it, and its judge.
#[derive(Debug, Clone)]
pub struct DemoMetric {
    pub def: MetricDef,
    pub query: String,
    pub counters: Option<Counters>,
    pub sequential: Option<SequentialSettings>,
    pub critical: bool,
}

pub fn metrics() -> Vec<DemoMetric> {
    let panel = |name: &str, query: &str, unit, gate| DemoMetric {
        def: MetricDef {
            name: name.into(),
            unit,
            gate,
        },
        query: query.into(),
        counters: None,
        sequential: None,
        critical: false,
    };
    let mut panels = vec![
        panel(
            "p95 latency",
            "sim:p95",
            Unit::Seconds,
            Gate {
                max: Some(2.5),
                for_: ForSpec::Checks(2),
                severity: Severity::Hold,
                ..Gate::default()
            },
        ),
        panel(
            "p99 latency",
            "sim:p99",
            Unit::Seconds,
            Gate {
                max_ratio: Some(1.5),
                for_: ForSpec::Checks(2),
                severity: Severity::Rollback,
                ..Gate::default()
            },
        ),
        panel(
            "error rate",
            "sim:error_ratio",
            Unit::Ratio,
            Gate {
                max: Some(0.01),
                for_: ForSpec::Checks(2),
                severity: Severity::Rollback,
                ..Gate::default()
            },
        ),
        panel(
            "request rate",
            "sim:rps",
            Unit::Rps,
            Gate {
                min: Some(1.0),
                severity: Severity::Warn,
                ..Gate::default()
            },
        ),
    ];
    // The relative rules are the sequential judge's, on request counts: p95 latency on the
    // latency histogram (a ×1.1 slow-down matters), the error rate on the error and request
    // counters (×1.5 matters); both critical, so a FAIL advises a rollback. The gates keep the
    // absolute ceilings (the error rate's on at least 100 requests).
    panels[0].counters = Some(Counters::Histogram("sim:latency_buckets".into()));
    panels[0].sequential = Some(SequentialSettings::default());
    panels[0].critical = true;
    panels[2].counters = Some(Counters::Ratio {
        errors: "sim:errors".into(),
        total: "sim:requests".into(),
    });
    panels[2].sequential = Some(SequentialSettings {
        allowed_increase: 1.5,
        ..SequentialSettings::default()
    });
    panels[2].critical = true;
    panels
}

/// The demo's SLOs and the simulator's series for each.
pub fn slos() -> Vec<(SloDef, String)> {
    vec![(super::slo(), "sim:slo".into())]
}
