//! The pure core: no I/O, no async, no clock. Every function that needs the time takes `now`.

pub mod action;
pub mod attention;
pub mod counts;
pub mod evalue;
pub mod format;
pub mod gate;
pub mod judge;
pub mod metric;
pub mod policy;
pub mod readiness;
pub mod rollout;
pub mod sequential;
pub mod series;
pub mod slo;

pub use gate::{Gate, GateEvaluation, Severity, Verdict};
pub use metric::MetricDef;
pub use rollout::{AnalysisPhase, AnalysisResult, Rollout, RolloutState, Step, StepRecord};
pub use series::{Sample, Series, Track, Unit};
pub use slo::{BudgetStatus, SloDef};
