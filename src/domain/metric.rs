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
