//! Test fixtures of the gates: a series every 10 s and a gate judged on two of them.

use chrono::{DateTime, Utc};
use std::time::Duration;

use super::{Gate, GateEvaluation};
use crate::domain::series::{Sample, Series, Unit};

pub(super) const POLL: Duration = Duration::from_secs(10);

pub(super) fn series(values: &[f64]) -> Series {
    let t0 = DateTime::<Utc>::UNIX_EPOCH;
    Series::new(
        values
            .iter()
            .enumerate()
            .map(|(i, v)| Sample {
                at: t0 + chrono::Duration::seconds(10 * i as i64),
                value: *v,
            })
            .collect(),
    )
}

pub(super) fn eval(gate: &Gate, unit: Unit, b: &[f64], c: &[f64]) -> GateEvaluation {
    gate.evaluate("m", unit, &series(b), &series(c), POLL)
}
