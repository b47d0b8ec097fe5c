//! The simulator itself: its options, and the clock that drives the rest. Each simulated second
//! it asks the traffic for the next second at the canary's current share, files it in the
//! history, and every few seconds lets the controller judge; reads (series, counts, the SLO
//! measurement) go to the history.

use chrono::{DateTime, Utc};
use std::time::Duration;

use crate::domain::counts::Counts;
use crate::domain::slo::SloMeasurement;
use crate::domain::{Rollout, RolloutState, Series, Track};
use crate::metrics::Counters;

use super::controller::{self, CONTROLLER_PERIOD_SECS};
use super::history::{HISTORY_SECS, History, HistoryPoint, truncate_to_second};
use super::measures::{SimCounter, SimMetric, Totals};
use super::scenario::{self, Scenario};
use super::slo;
use super::traffic::Traffic;

/// Requests per second across both tracks, unless `SimOptions::service_rps` says otherwise.
pub const SERVICE_RPS: f64 = 400.0;
/// The rollout started this long before the console opened, so the first frame has data.
const HEAD_START_SECS: i64 = 8;

#[derive(Debug, Clone, PartialEq)]
pub struct SimOptions {
    pub scenario: Scenario,
    pub seed: u64,
    /// Holds are divided by this; 20 makes the 50-minute rollout take 2.5 minutes.
    pub speed: f64,
    pub rollout_name: String,
    /// Requests per second across both tracks (on average; the load drifts ±30% around it).
    pub service_rps: f64,
}

impl Default for SimOptions {
    fn default() -> Self {
        Self {
            scenario: Scenario::Healthy,
            seed: 1,
            speed: 20.0,
            rollout_name: "checkout".into(),
            service_rps: SERVICE_RPS,
        }
    }
}

#[derive(Debug)]
pub struct Simulator {
    options: SimOptions,
    rollout: Rollout,
    last_tick: DateTime<Utc>,
    started_at: DateTime<Utc>,
    traffic: Traffic,
    history: History,
    seconds_since_controller: i64,
}

impl Simulator {
    /// A simulator whose rollout began a few seconds before `now`, with an hour of baseline history.
    pub fn new(mut options: SimOptions, now: DateTime<Utc>) -> Self {
        let now = truncate_to_second(now);
        if !(options.service_rps.is_finite() && options.service_rps > 0.0) {
            options.service_rps = SERVICE_RPS;
        }
        let started_at = now - chrono::Duration::seconds(HEAD_START_SECS);
        let rollout = controller::initial_rollout(&options.rollout_name, options.speed, started_at);
        let mut sim = Self {
            traffic: Traffic::new(options.seed),
            options,
            rollout,
            last_tick: now - chrono::Duration::seconds(HISTORY_SECS as i64),
            started_at,
            history: History::new(),
            seconds_since_controller: 0,
        };
        sim.advance_to(now);
        sim
    }

    pub fn options(&self) -> &SimOptions {
        &self.options
    }

    /// Counters since start: `[baseline, canary]`.
    pub fn totals(&self) -> &[Totals; 2] {
        self.traffic.totals()
    }

    pub fn rollout(&self) -> &Rollout {
        &self.rollout
    }

    pub fn rollout_mut(&mut self) -> &mut Rollout {
        &mut self.rollout
    }

    /// Generate every whole second up to `now` (at most the history length, e.g. after a suspend).
    pub fn advance_to(&mut self, now: DateTime<Utc>) {
        let now = truncate_to_second(now);
        let oldest = now - chrono::Duration::seconds(HISTORY_SECS as i64);
        if self.last_tick < oldest {
            self.last_tick = oldest;
        }
        while self.last_tick < now {
            self.last_tick += chrono::Duration::seconds(1);
            let at = self.last_tick;
            self.tick(at);
        }
    }

    fn canary_share(&self, at: DateTime<Utc>) -> f64 {
        if at < self.started_at {
            return 0.0;
        }
        match self.rollout.state {
            RolloutState::Completed => 1.0,
            RolloutState::RolledBack | RolloutState::Failed => 0.0,
            _ => f64::from(self.rollout.canary_weight) / 100.0,
        }
    }

    fn tick(&mut self, at: DateTime<Utc>) {
        let share = self.canary_share(at);
        let canary_behaviour = if at >= self.started_at {
            self.options.scenario.canary(self.rollout.step)
        } else {
            scenario::BASE
        };
        let second = self
            .traffic
            .second(self.options.service_rps, share, canary_behaviour);
        self.history.push(HistoryPoint {
            at,
            baseline: second.baseline,
            canary: second.canary,
            service_requests: second.requests,
            service_errors: second.errors,
            totals: *self.traffic.totals(),
        });
        self.seconds_since_controller += 1;
        if self.seconds_since_controller >= CONTROLLER_PERIOD_SECS {
            self.seconds_since_controller = 0;
            let (history, started_at, last_tick) = (&self.history, self.started_at, self.last_tick);
            controller::run(&mut self.rollout, at, |metric, track, lookback, step| {
                let now = truncate_to_second(at).min(last_tick);
                history.series(metric, track, now, lookback, step, started_at)
            });
        }
    }

    /// A series at `step` spacing over `[now - lookback, now]`, newest point at `now`.
    pub fn series(
        &self,
        metric: SimMetric,
        track: Track,
        now: DateTime<Utc>,
        lookback: Duration,
        step: Duration,
    ) -> Series {
        let now = truncate_to_second(now).min(self.last_tick);
        self.history
            .series(metric, track, now, lookback, step, self.started_at)
    }

    /// Requests counted per track between the evaluation points `grid(since, now, step)`: block i
    /// is the counters at point i minus those at point i − 1, exactly. Points the history does not
    /// reach (older than it, before the simulator's first second, or not simulated yet) are left
    /// out, so the blocks start where data exists. The canary counts nothing before the rollout.
    pub fn counts(
        &self,
        counters: &Counters,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
        step: Duration,
    ) -> Result<Counts, String> {
        SimCounter::from_counters(counters).map(|c| self.count(c, since, now, step))
    }

    /// [`Simulator::counts`] for a counter already resolved.
    pub fn count(
        &self,
        counter: SimCounter,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
        step: Duration,
    ) -> Counts {
        self.history.count(counter, since, now, step)
    }

    /// Service error ratios over the SLO window and each burn window; what the simulator did not
    /// run itself is filled from the scenario's prior history.
    pub fn slo_measurement(&self, now: DateTime<Utc>) -> SloMeasurement {
        slo::measurement(
            &self.history,
            self.options.scenario,
            self.options.service_rps,
            now,
        )
    }

    #[cfg(test)]
    pub(super) fn last_tick(&self) -> DateTime<Utc> {
        self.last_tick
    }

    #[cfg(test)]
    pub(super) fn started_at(&self) -> DateTime<Utc> {
        self.started_at
    }

    #[cfg(test)]
    pub(super) fn history(&self) -> &History {
        &self.history
    }
}
