//! What the simulator measures per track and the names it answers to: the metric points behind
//! `sim:p50` … `sim:rps` ([`TrackPoint`], [`SimMetric`]) and the raw counters behind
//! `sim:latency_buckets`, `sim:errors` and `sim:requests` ([`Totals`], [`SimCounter`]).

use crate::domain::counts::CountKind;
use crate::metrics::Counters;

use super::histogram::{BUCKETS, SLOTS};

/// The metric values of one track at one second, each over the last minute.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackPoint {
    pub rps: f64,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub error_ratio: f64,
}

impl TrackPoint {
    pub fn get(&self, metric: SimMetric) -> f64 {
        match metric {
            SimMetric::P50 => self.p50,
            SimMetric::P95 => self.p95,
            SimMetric::P99 => self.p99,
            SimMetric::ErrorRatio => self.error_ratio,
            SimMetric::Rps => self.rps,
        }
    }
}

/// What the simulator can answer, addressed as `sim:<name>` queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimMetric {
    P50,
    P95,
    P99,
    ErrorRatio,
    Rps,
}

impl SimMetric {
    pub fn from_query(q: &str) -> Option<Self> {
        match q.trim() {
            "sim:p50" => Some(Self::P50),
            "sim:p95" => Some(Self::P95),
            "sim:p99" => Some(Self::P99),
            "sim:error_ratio" => Some(Self::ErrorRatio),
            "sim:rps" => Some(Self::Rps),
            _ => None,
        }
    }
}

/// The simulator's raw counters, by the names a `MetricQuery.counts` asks for them.
pub const LATENCY_BUCKETS_COUNTER: &str = "sim:latency_buckets";
pub const ERRORS_COUNTER: &str = "sim:errors";
pub const REQUESTS_COUNTER: &str = "sim:requests";

/// What the simulator counts per track between evaluation points (for the sequential judge).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimCounter {
    /// The latency histogram (`sim:latency_buckets`): requests per bucket.
    LatencyBuckets,
    /// Failed and all requests (`sim:errors` of `sim:requests`): `[failed, ok]`.
    Errors,
}

impl SimCounter {
    /// The counter a query names, or an error in words listing the ones the simulator has.
    pub fn from_counters(counters: &Counters) -> Result<Self, String> {
        match counters {
            Counters::Histogram(h) if h.trim() == LATENCY_BUCKETS_COUNTER => {
                Ok(Self::LatencyBuckets)
            }
            Counters::Ratio { errors, total }
                if errors.trim() == ERRORS_COUNTER && total.trim() == REQUESTS_COUNTER =>
            {
                Ok(Self::Errors)
            }
            other => {
                let asked = match other {
                    Counters::Histogram(h) => format!("the histogram {h:?}"),
                    Counters::Ratio { errors, total } => {
                        format!("the ratio of {errors:?} to {total:?}")
                    }
                };
                Err(format!(
                    "the simulator cannot count {asked}; it counts the histogram \
                     {LATENCY_BUCKETS_COUNTER:?} and the ratio errors = {ERRORS_COUNTER:?}, \
                     total = {REQUESTS_COUNTER:?}"
                ))
            }
        }
    }

    /// The categories of its blocks: the histogram's bounds in seconds plus `+Inf`, or
    /// `[failed, ok]`.
    pub fn kind(self) -> CountKind {
        match self {
            Self::LatencyBuckets => CountKind::Latency {
                bounds: BUCKETS.iter().copied().chain([f64::INFINITY]).collect(),
            },
            Self::Errors => CountKind::Errors,
        }
    }

    /// One track's counts between two snapshots of its counters.
    pub(super) fn delta(self, from: &Totals, to: &Totals) -> Vec<f64> {
        match self {
            Self::LatencyBuckets => to
                .slots
                .iter()
                .zip(from.slots)
                .map(|(b, a)| b.saturating_sub(a) as f64)
                .collect(),
            Self::Errors => {
                let failed = to.errors.saturating_sub(from.errors);
                let all = to.requests.saturating_sub(from.requests);
                vec![failed as f64, all.saturating_sub(failed) as f64]
            }
        }
    }
}

/// Monotonic counters of one track, as a Prometheus client library would keep them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Totals {
    pub requests: u64,
    pub errors: u64,
    /// Per-slot (not cumulative) latency bucket counts.
    pub slots: [u64; SLOTS],
    /// The failed requests' share of `slots` (each at most its slot's count): what an
    /// instrumentation labelling its histogram by status code splits off as the 5xx series.
    pub error_slots: [u64; SLOTS],
    /// Sum of latencies in seconds (expected value per request: the log-normal's mean).
    pub latency_sum: f64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::Scenario;
    use crate::sim::test_support::*;
    use std::time::Duration;

    #[test]
    fn counters_the_simulator_does_not_have_are_errors_in_words() {
        let s = sim(Scenario::Healthy, 1);
        let ok = s.counts(
            &Counters::Histogram(" sim:latency_buckets".into()),
            now() - secs(30),
            now(),
            Duration::from_secs(10),
        );
        assert_eq!(ok.map(|c| c.len()), Ok(3));
        let err = s
            .counts(
                &Counters::Ratio {
                    errors: "sim:errors".into(),
                    total: "http_requests_total".into(),
                },
                now() - secs(30),
                now(),
                Duration::from_secs(10),
            )
            .expect_err("unknown counter");
        assert!(
            err.contains("\"http_requests_total\"")
                && err.contains("sim:latency_buckets")
                && err.contains("sim:errors")
                && err.contains("sim:requests"),
            "{err}"
        );
    }
}
