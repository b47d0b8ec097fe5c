//! The simulator as a metrics source: answers `sim:<metric>` queries for both tracks, and the
//! counts of `sim:latency_buckets` and `sim:errors` / `sim:requests` for the sequential judge.

use async_trait::async_trait;
use std::sync::{Arc, Mutex};

use super::fleet::Fleet;
use super::{SimCounter, SimMetric, Simulator};
use crate::domain::Track;
use crate::metrics::{FetchRequest, FetchResult, MetricsSource, TrackSeries};

pub struct SimMetrics {
    fleet: Fleet,
}

impl SimMetrics {
    pub fn new(sim: Arc<Mutex<Simulator>>) -> Self {
        Self::fleet(Fleet::single(sim))
    }

    /// Answers each poll from the member it names (`FetchRequest::rollout`), else the first.
    pub fn fleet(fleet: Fleet) -> Self {
        Self { fleet }
    }
}

#[async_trait]
impl MetricsSource for SimMetrics {
    fn describe(&self) -> String {
        "built-in simulator".into()
    }

    async fn fetch(&self, req: &FetchRequest) -> FetchResult {
        let member = match &req.rollout {
            Some(r) => self.fleet.get(&r.name),
            None => self.fleet.members().next().map(|(_, s)| s),
        };
        let Some(member) = member else {
            let why = format!(
                "the simulator runs no rollout named {:?}",
                req.rollout.as_ref().map(|r| r.name.as_str()).unwrap_or("")
            );
            return FetchResult {
                warnings: vec![why],
                ..FetchResult::default()
            };
        };
        match member.lock() {
            Ok(mut sim) => answer(&mut sim, req),
            Err(_) => FetchResult {
                warnings: vec!["simulator state is poisoned".into()],
                ..FetchResult::default()
            },
        }
    }
}

/// Answer a fetch from the simulator's state at `req.now` (synchronous, for tests and the source).
pub fn answer(sim: &mut Simulator, req: &FetchRequest) -> FetchResult {
    sim.advance_to(req.now);
    let mut result = FetchResult::default();
    for m in &req.metrics {
        let series = match SimMetric::from_query(&m.query) {
            Some(metric) => {
                result.queries += 2;
                Ok(TrackSeries {
                    baseline: sim.series(metric, Track::Baseline, req.now, req.lookback, req.step),
                    canary: sim.series(metric, Track::Canary, req.now, req.lookback, req.step),
                })
            }
            None => Err(format!(
                "the simulator does not know the query {:?}; use sim:p50, sim:p95, sim:p99, sim:error_ratio or sim:rps",
                m.query
            )),
        };
        result.metrics.push((m.name.clone(), series));
        if let Some(q) = &m.counts {
            let counts = SimCounter::from_counters(&q.counters).map(|counter| {
                // One range query per counter per track, as a Prometheus source would send.
                result.queries += match counter {
                    SimCounter::LatencyBuckets => 2,
                    SimCounter::Errors => 4,
                };
                sim.count(counter, q.since, req.now, req.step)
            });
            result.counts.push((m.name.clone(), counts));
        }
    }
    for slo in &req.slos {
        result.queries += 1;
        result
            .slos
            .push((slo.name.clone(), Ok(sim.slo_measurement(req.now))));
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::counts::CountKind;
    use crate::metrics::{Counters, CountsQuery, MetricQuery};
    use crate::sim::SimOptions;
    use chrono::{DateTime, TimeZone, Utc};
    use std::time::Duration;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 9, 30, 0)
            .single()
            .expect("valid")
    }

    fn metric(name: &str, query: &str, counters: Option<Counters>) -> MetricQuery {
        MetricQuery {
            name: name.into(),
            query: query.into(),
            window: None,
            counts: counters.map(|counters| CountsQuery {
                counters,
                since: now() - chrono::Duration::seconds(60),
            }),
        }
    }

    #[test]
    fn answer_fills_the_counts_by_metric_name() {
        let mut sim = Simulator::new(SimOptions::default(), now());
        let req = FetchRequest {
            now: now() + chrono::Duration::seconds(10),
            lookback: Duration::from_secs(300),
            step: Duration::from_secs(10),
            metrics: vec![
                metric(
                    "p95 latency",
                    "sim:p95",
                    Some(Counters::Histogram("sim:latency_buckets".into())),
                ),
                metric(
                    "error rate",
                    "sim:error_ratio",
                    Some(Counters::Ratio {
                        errors: "sim:errors".into(),
                        total: "sim:requests".into(),
                    }),
                ),
                metric("request rate", "sim:rps", None),
                metric(
                    "p99 latency",
                    "sim:p99",
                    Some(Counters::Histogram(
                        "http_request_duration_seconds_bucket".into(),
                    )),
                ),
            ],
            slos: Vec::new(),
            tracks: None,
            priority: crate::metrics::Priority::Open,
            rollout: None,
        };
        let result = answer(&mut sim, &req);
        // 4 series × 2 tracks, plus 2 counter queries for the histogram and 4 for the ratio.
        assert_eq!(result.queries, 8 + 2 + 4);
        let names: Vec<&str> = result.counts.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["p95 latency", "error rate", "p99 latency"]);
        let latency = result.counts[0].1.as_ref().expect("latency counts");
        assert!(matches!(latency.kind, CountKind::Latency { .. }));
        // Since 09:29:00 until 09:30:10 at 10s: 7 blocks, every request of both tracks in them.
        assert_eq!(latency.len(), 7);
        let errors = result.counts[1].1.as_ref().expect("error counts");
        assert_eq!(errors.kind, CountKind::Errors);
        assert_eq!(errors.requests(), latency.requests());
        assert!(errors.requests().1 > 0.0);
        let unknown = result.counts[2].1.as_ref().expect_err("unknown counter");
        assert!(
            unknown.contains("http_request_duration_seconds_bucket")
                && unknown.contains("sim:latency_buckets"),
            "{unknown}"
        );
    }
}
