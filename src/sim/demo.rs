//! The demo's built-in metric and SLO definitions: what `rollout-console demo` judges.

use crate::app::model::{MetricPanel, SloPanel};
use crate::domain::gate::ForSpec;
use crate::domain::judge::JudgeSettings;
use crate::domain::{Gate, MetricDef, Severity, Unit};

pub fn metric_panels() -> Vec<MetricPanel> {
    let panel = |name: &str, query: &str, unit, gate| {
        MetricPanel::new(
            MetricDef {
                name: name.into(),
                unit,
                gate,
            },
            query.into(),
        )
    };
    let mut panels = vec![
        panel(
            "p95 latency",
            "sim:p95",
            Unit::Seconds,
            Gate {
                max_increase_pct: Some(10.0),
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
                max_ratio: Some(2.0),
                min_baseline: Some(0.005),
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
    // p99 is also judged statistically (Mann–Whitney, 98%), with the +10% effect-size floor the
    // judge benchmark shows is needed on overlapping-window series; few samples suit short holds.
    panels[1].judge = Some(JudgeSettings {
        allowed_increase: 1.1,
        min_samples: 6,
        ..JudgeSettings::default()
    });
    panels
}

pub fn slo_panels() -> Vec<SloPanel> {
    vec![SloPanel::new(super::slo(), "sim:slo".into())]
}
