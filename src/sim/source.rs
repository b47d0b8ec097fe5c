//! The simulator as a metrics source: answers `sim:<metric>` queries for both tracks.

use async_trait::async_trait;
use std::sync::{Arc, Mutex};

use super::{SimMetric, Simulator};
use crate::domain::Track;
use crate::metrics::{FetchRequest, FetchResult, MetricsSource, TrackSeries};

pub struct SimMetrics {
    sim: Arc<Mutex<Simulator>>,
}

impl SimMetrics {
    pub fn new(sim: Arc<Mutex<Simulator>>) -> Self {
        Self { sim }
    }
}

#[async_trait]
impl MetricsSource for SimMetrics {
    fn describe(&self) -> String {
        "built-in simulator".into()
    }

    async fn fetch(&self, req: &FetchRequest) -> FetchResult {
        match self.sim.lock() {
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
    }
    for slo in &req.slos {
        result.queries += 1;
        result
            .slos
            .push((slo.name.clone(), Ok(sim.slo_measurement(req.now))));
    }
    result
}
