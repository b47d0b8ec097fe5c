//! What the simulator's unit tests share: a fixed `now`, a simulator per scenario and seed, and
//! small readers of its series and counts.

use chrono::{DateTime, TimeZone, Utc};
use std::time::Duration;

use crate::domain::Track;
use crate::domain::counts::Counts;

use super::histogram::SLOTS;
use super::{Scenario, SimMetric, SimOptions, Simulator};

pub(super) fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 9, 30, 0)
        .single()
        .expect("valid")
}

pub(super) fn sim(scenario: Scenario, seed: u64) -> Simulator {
    Simulator::new(
        SimOptions {
            scenario,
            seed,
            ..SimOptions::default()
        },
        now(),
    )
}

pub(super) fn latest(s: &Simulator, m: SimMetric, t: Track) -> f64 {
    s.series(
        m,
        t,
        s.last_tick(),
        Duration::from_secs(10),
        Duration::from_secs(1),
    )
    .latest()
    .map_or(f64::NAN, |p| p.value)
}

pub(super) fn secs(n: i64) -> chrono::Duration {
    chrono::Duration::seconds(n)
}

pub(super) fn sum(counts: &Counts, track: Track) -> Vec<f64> {
    let mut out: Vec<f64> = Vec::new();
    for b in counts.blocks() {
        let v = match track {
            Track::Baseline => b.baseline,
            Track::Canary => b.canary,
        };
        out.resize(v.len(), 0.0);
        for (o, x) in out.iter_mut().zip(v) {
            *o += x;
        }
    }
    out
}

pub(super) fn slots_of(counts: &[f64]) -> [u64; SLOTS] {
    let mut slots = [0u64; SLOTS];
    for (s, c) in slots.iter_mut().zip(counts) {
        *s = *c as u64;
    }
    slots
}
