//! The simulator behind `demo` (and later `simulate`): a baseline and a canary service with seeded
//! noise, a rollout driven by a small controller, and the metrics both produce. It is a backend and
//! a metrics source like any other (see `backend.rs` and `source.rs`).

pub mod backend;
pub mod demo;
pub mod exposition;
pub mod histogram;
pub mod scenario;
pub mod server;
pub mod source;

use chrono::{DateTime, Utc};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Binomial, Distribution, Normal, Poisson};
use std::collections::VecDeque;
use std::time::Duration;

use crate::domain::counts::{CountBlock, CountKind, Counts, grid};
use crate::domain::gate::ForSpec;
use crate::domain::slo::{BURN_WINDOWS, SloDef, SloMeasurement};
use crate::domain::{
    Gate, Rollout, RolloutState, Sample, Series, Step, StepRecord, Track, Unit, Verdict,
};
use crate::metrics::Counters;
use histogram::{BUCKETS, SLOTS, lognormal_slot_probabilities, quantile};
pub use scenario::Scenario;

/// Requests per second across both tracks, unless `SimOptions::service_rps` says otherwise.
pub const SERVICE_RPS: f64 = 400.0;
/// The simulated pods' template hashes (as Argo labels them), so configs without baseline /
/// canary selectors can be tried against `simulate`.
pub const STABLE_HASH: &str = "5f7c9d6b8";
pub const CANARY_HASH: &str = "7b9f4c6d5";
/// The aggregation window of every simulated metric point (like `rate(...[1m])`).
pub const METRIC_WINDOW_SECS: usize = 60;
/// How much history the simulator keeps (the longest chart window, plus slack).
const HISTORY_SECS: usize = 3_700;
/// Nominal holds (real-world lengths); `--speed` divides them.
const NOMINAL_STEPS: [(u8, Option<u64>); 4] = [
    (5, Some(600)),
    (25, Some(600)),
    (50, Some(1800)),
    (100, None),
];
/// The rollout started this long before the console opened, so the first frame has data.
const HEAD_START_SECS: i64 = 8;
/// The controller judges every this many seconds.
const CONTROLLER_PERIOD_SECS: i64 = 5;

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

/// One second of traffic on one track.
#[derive(Debug, Clone, Copy, Default)]
struct SecondCounts {
    requests: u64,
    errors: u64,
    slots: [u64; SLOTS],
}

/// A rolling window of per-second counts with running sums, so each new point costs O(buckets).
#[derive(Debug, Default)]
struct RollingWindow {
    seconds: VecDeque<SecondCounts>,
    sum: SecondCounts,
}

impl RollingWindow {
    fn push(&mut self, c: SecondCounts) {
        self.seconds.push_back(c);
        add(&mut self.sum, &c, true);
        if self.seconds.len() > METRIC_WINDOW_SECS
            && let Some(old) = self.seconds.pop_front()
        {
            add(&mut self.sum, &old, false);
        }
    }

    fn point(&self) -> TrackPoint {
        let s = &self.sum;
        let secs = self.seconds.len().max(1) as f64;
        let has = s.requests > 0;
        TrackPoint {
            rps: s.requests as f64 / secs,
            p50: quantile(0.50, &s.slots),
            p95: quantile(0.95, &s.slots),
            p99: quantile(0.99, &s.slots),
            error_ratio: if has {
                s.errors as f64 / s.requests as f64
            } else {
                f64::NAN
            },
        }
    }
}

fn add(into: &mut SecondCounts, c: &SecondCounts, plus: bool) {
    let op = |a: &mut u64, b: u64| {
        if plus {
            *a += b
        } else {
            *a = a.saturating_sub(b)
        }
    };
    op(&mut into.requests, c.requests);
    op(&mut into.errors, c.errors);
    for (a, b) in into.slots.iter_mut().zip(c.slots) {
        op(a, b);
    }
}

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
    fn delta(self, from: &Totals, to: &Totals) -> Vec<f64> {
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

#[derive(Debug, Clone, Copy)]
struct HistoryPoint {
    at: DateTime<Utc>,
    baseline: TrackPoint,
    canary: TrackPoint,
    service_requests: u64,
    service_errors: u64,
    /// The counters `[baseline, canary]` once this second's traffic is in: what a scrape at `at`
    /// would read.
    totals: [Totals; 2],
}

#[derive(Debug)]
pub struct Simulator {
    options: SimOptions,
    rng: ChaCha8Rng,
    rollout: Rollout,
    last_tick: DateTime<Utc>,
    started_at: DateTime<Utc>,
    traffic_level: f64,
    windows: [RollingWindow; 2],
    history: VecDeque<HistoryPoint>,
    seconds_since_controller: i64,
    /// Counters since the simulator started, per track, for the `/metrics` exposition.
    totals: [Totals; 2],
}

/// Monotonic counters of one track, as a Prometheus client library would keep them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Totals {
    pub requests: u64,
    pub errors: u64,
    /// Per-slot (not cumulative) latency bucket counts.
    pub slots: [u64; SLOTS],
    /// Sum of latencies in seconds (expected value per request: the log-normal's mean).
    pub latency_sum: f64,
}

/// The SLO the simulator's service is held to.
pub fn slo() -> SloDef {
    SloDef {
        name: "availability".into(),
        objective_pct: 99.95,
        window: Duration::from_secs(30 * 86_400),
    }
}

/// The controller's own analysis: roll back on errors, hold on latency (like an Argo AnalysisTemplate).
fn controller_error_gate() -> Gate {
    Gate {
        max: Some(0.01),
        for_: ForSpec::Checks(2),
        ..Gate::default()
    }
}

fn controller_latency_gate() -> Gate {
    Gate {
        max_increase_pct: Some(10.0),
        for_: ForSpec::Checks(2),
        ..Gate::default()
    }
}

impl Simulator {
    /// A simulator whose rollout began a few seconds before `now`, with an hour of baseline history.
    pub fn new(mut options: SimOptions, now: DateTime<Utc>) -> Self {
        let now = truncate_to_second(now);
        if !(options.service_rps.is_finite() && options.service_rps > 0.0) {
            options.service_rps = SERVICE_RPS;
        }
        let started_at = now - chrono::Duration::seconds(HEAD_START_SECS);
        let speed = if options.speed.is_finite() && options.speed > 0.0 {
            options.speed
        } else {
            1.0
        };
        let steps = NOMINAL_STEPS
            .iter()
            .map(|(weight, hold)| Step {
                weight: *weight,
                hold: hold
                    .map(|s| Duration::from_secs_f64(s as f64 / speed).max(Duration::from_secs(1))),
            })
            .map(|mut s| {
                if let Some(h) = s.hold {
                    s.hold = Some(Duration::from_secs(h.as_secs().max(1)));
                }
                s
            })
            .collect();
        let rollout = Rollout {
            name: options.rollout_name.clone(),
            state: RolloutState::Progressing,
            stable_version: "v1.2.2".into(),
            canary_version: "v1.2.3".into(),
            step: 0,
            canary_weight: NOMINAL_STEPS[0].0,
            steps,
            step_started_at: started_at,
            message: None,
            paused_by: None,
            paused_at: None,
            history: vec![StepRecord {
                step: 0,
                started_at,
                finished_at: None,
            }],
            stable_hash: Some(STABLE_HASH.into()),
            canary_hash: Some(CANARY_HASH.into()),
            analysis: Vec::new(),
            undo_to: None,
        };
        let mut sim = Self {
            rng: ChaCha8Rng::seed_from_u64(options.seed),
            options,
            rollout,
            last_tick: now - chrono::Duration::seconds(HISTORY_SECS as i64),
            started_at,
            traffic_level: 1.0,
            windows: Default::default(),
            history: VecDeque::with_capacity(HISTORY_SECS + 1),
            seconds_since_controller: 0,
            totals: Default::default(),
        };
        sim.advance_to(now);
        sim
    }

    pub fn options(&self) -> &SimOptions {
        &self.options
    }

    /// Counters since start: `[baseline, canary]`.
    pub fn totals(&self) -> &[Totals; 2] {
        &self.totals
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
        // Traffic drifts slowly around its level, like real load does.
        let drift = Normal::new(0.0, 0.01)
            .map(|n| n.sample(&mut self.rng))
            .unwrap_or(0.0);
        self.traffic_level =
            (self.traffic_level + drift + (1.0 - self.traffic_level) * 0.02).clamp(0.7, 1.3);
        let lambda = self.options.service_rps * self.traffic_level;
        let total = Poisson::new(lambda)
            .map(|p| p.sample(&mut self.rng) as u64)
            .unwrap_or(0);
        let share = self.canary_share(at);
        let canary_n = Binomial::new(total, share)
            .map(|b| b.sample(&mut self.rng))
            .unwrap_or(0);
        let baseline_n = total - canary_n;
        let canary_behaviour = if at >= self.started_at {
            self.options.scenario.canary(self.rollout.step)
        } else {
            scenario::BASE
        };
        let baseline = self.second(baseline_n, scenario::BASE);
        let canary = self.second(canary_n, canary_behaviour);
        self.windows[0].push(baseline);
        self.windows[1].push(canary);
        for (totals, (counts, behaviour)) in self
            .totals
            .iter_mut()
            .zip([(baseline, scenario::BASE), (canary, canary_behaviour)])
        {
            totals.requests += counts.requests;
            totals.errors += counts.errors;
            for (t, c) in totals.slots.iter_mut().zip(counts.slots) {
                *t += c;
            }
            let mean = behaviour.median_latency * (scenario::LATENCY_SIGMA.powi(2) / 2.0).exp();
            totals.latency_sum += counts.requests as f64 * mean;
        }
        self.history.push_back(HistoryPoint {
            at,
            baseline: self.windows[0].point(),
            canary: self.windows[1].point(),
            service_requests: baseline.requests + canary.requests,
            service_errors: baseline.errors + canary.errors,
            totals: self.totals,
        });
        while self.history.len() > HISTORY_SECS {
            self.history.pop_front();
        }
        self.seconds_since_controller += 1;
        if self.seconds_since_controller >= CONTROLLER_PERIOD_SECS {
            self.seconds_since_controller = 0;
            self.run_controller(at);
        }
    }

    /// One second of `n` requests: latencies drawn into buckets (a multinomial, drawn as a chain of
    /// binomials) and errors drawn as a binomial.
    fn second(&mut self, n: u64, behaviour: scenario::Behaviour) -> SecondCounts {
        let mut counts = SecondCounts {
            requests: n,
            ..SecondCounts::default()
        };
        if n == 0 {
            return counts;
        }
        counts.errors = Binomial::new(n, behaviour.error_ratio.clamp(0.0, 1.0))
            .map(|b| b.sample(&mut self.rng))
            .unwrap_or(0);
        let probabilities =
            lognormal_slot_probabilities(behaviour.median_latency, scenario::LATENCY_SIGMA);
        let mut left = n;
        let mut mass_left = 1.0;
        for (slot, p) in probabilities.iter().enumerate() {
            if left == 0 {
                break;
            }
            if slot == SLOTS - 1 || mass_left <= 0.0 {
                counts.slots[slot] += left;
                break;
            }
            let share = (p / mass_left).clamp(0.0, 1.0);
            let drawn = Binomial::new(left, share)
                .map(|b| b.sample(&mut self.rng))
                .unwrap_or(0);
            counts.slots[slot] = drawn;
            left -= drawn;
            mass_left -= p;
        }
        counts
    }

    /// The simulated controller: aborts on a failing error-rate analysis, and advances a step when
    /// its hold is over and latency is within 10% of baseline (otherwise it holds and says why).
    fn run_controller(&mut self, now: DateTime<Utc>) {
        if self.rollout.state != RolloutState::Progressing {
            return;
        }
        let period = Duration::from_secs(CONTROLLER_PERIOD_SECS as u64);
        let lookback = Duration::from_secs(30);
        let step = self.rollout.step;
        let errors = controller_error_gate().evaluate(
            "error rate",
            Unit::Ratio,
            &self.series(
                SimMetric::ErrorRatio,
                Track::Baseline,
                now,
                lookback,
                period,
            ),
            &self.series(SimMetric::ErrorRatio, Track::Canary, now, lookback, period),
            period,
        );
        if errors.verdict == Verdict::Fail {
            let why = format!(
                "{} for {} checks (controller analysis)",
                errors.summary(),
                errors.required_points
            );
            let _ = self.rollout.rollback(step, &why, now);
            return;
        }
        if self.rollout.hold_remaining(now) != Some(Duration::ZERO) {
            return;
        }
        let latency = controller_latency_gate().evaluate(
            "p95 latency",
            Unit::Seconds,
            &self.series(SimMetric::P95, Track::Baseline, now, lookback, period),
            &self.series(SimMetric::P95, Track::Canary, now, lookback, period),
            period,
        );
        if latency.verdict == Verdict::Pass {
            let weight = self.rollout.steps.get(step + 1).map_or(100, |s| s.weight);
            if self.rollout.promote(step, now).is_ok()
                && self.rollout.state != RolloutState::Completed
            {
                self.rollout.message = Some(format!(
                    "controller: hold over, analysis passed; promoted to {weight}%"
                ));
            }
        } else if !self
            .rollout
            .message
            .as_deref()
            .is_some_and(|m| m.starts_with("controller held"))
        {
            // Said once per hold, not at every check: the numbers live in the panels.
            self.rollout.message = Some(format!("controller held: {}", latency.summary()));
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
        let step_secs = step.as_secs().max(1) as i64;
        let count = (lookback.as_secs() as i64 / step_secs).max(0);
        let Some(newest) = self.history.back() else {
            return Series::default();
        };
        let newest_at = newest.at.min(now);
        let index_of = |at: DateTime<Utc>| -> Option<usize> {
            let back = (newest.at - at).num_seconds();
            if back < 0 {
                return None;
            }
            self.history.len().checked_sub(1 + back as usize)
        };
        let mut points = Vec::with_capacity(count as usize + 1);
        for k in (0..=count).rev() {
            let at = newest_at - chrono::Duration::seconds(k * step_secs);
            if let Some(point) = index_of(at).and_then(|i| self.history.get(i)) {
                let tp = match track {
                    Track::Baseline => point.baseline,
                    Track::Canary => point.canary,
                };
                let value = tp.get(metric);
                // No canary before the rollout began: a missing series, as Prometheus would have it.
                if track == Track::Canary && point.at <= self.started_at {
                    continue;
                }
                points.push(Sample {
                    at: point.at,
                    value,
                });
            }
        }
        Series::new(points)
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
        let points: Vec<(DateTime<Utc>, &[Totals; 2])> = grid(since, now, step)
            .into_iter()
            .filter_map(|at| self.totals_at(at).map(|t| (at, t)))
            .collect();
        let blocks = points
            .windows(2)
            .map(|w| {
                let ((start, from), (end, to)) = (w[0], w[1]);
                CountBlock {
                    start,
                    end,
                    baseline: counter.delta(&from[0], &to[0]),
                    canary: counter.delta(&from[1], &to[1]),
                }
            })
            .collect();
        Counts {
            kind: counter.kind(),
            blocks,
        }
    }

    /// The counters `[baseline, canary]` as a scrape at `at` would read them (the last whole
    /// second at or before `at`); `None` outside the history.
    fn totals_at(&self, at: DateTime<Utc>) -> Option<&[Totals; 2]> {
        let newest = self.history.back()?;
        if truncate_to_second(at) > newest.at {
            return None;
        }
        let i = self.history.partition_point(|p| p.at <= at);
        i.checked_sub(1)
            .and_then(|i| self.history.get(i))
            .map(|p| &p.totals)
    }

    /// Service error ratios over the SLO window and each burn window; what the simulator did not
    /// run itself is filled from the scenario's prior history.
    pub fn slo_measurement(&self, now: DateTime<Utc>) -> SloMeasurement {
        let slo = slo();
        let prior_ratio = self.options.scenario.prior_error_ratio();
        let ratio_over = |window: Duration, prior: f64| -> f64 {
            let since = now - chrono::Duration::from_std(window).unwrap_or_default();
            let (mut req, mut err, mut secs) = (0u64, 0u64, 0u64);
            for p in self.history.iter().rev().take_while(|p| p.at > since) {
                req += p.service_requests;
                err += p.service_errors;
                secs += 1;
            }
            let prior_req = self.options.service_rps * window.as_secs().saturating_sub(secs) as f64;
            (err as f64 + prior * prior_req) / (req as f64 + prior_req).max(1.0)
        };
        // The 30-day ratio that leaves the scenario's share of the budget spent.
        let prior_30d = self.options.scenario.prior_budget_spent() * slo.allowed_error_ratio();
        SloMeasurement {
            error_ratio: Some(ratio_over(slo.window, prior_30d)),
            window_ratios: BURN_WINDOWS
                .iter()
                .map(|(label, w)| (label.to_string(), Some(ratio_over(*w, prior_ratio))))
                .collect(),
        }
    }
}

fn truncate_to_second(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 9, 30, 0)
            .single()
            .expect("valid")
    }

    fn sim(scenario: Scenario, seed: u64) -> Simulator {
        Simulator::new(
            SimOptions {
                scenario,
                seed,
                ..SimOptions::default()
            },
            now(),
        )
    }

    fn latest(s: &Simulator, m: SimMetric, t: Track) -> f64 {
        s.series(
            m,
            t,
            s.last_tick,
            Duration::from_secs(10),
            Duration::from_secs(1),
        )
        .latest()
        .map_or(f64::NAN, |p| p.value)
    }

    #[test]
    fn simulated_p95_matches_the_distribution() {
        // True quantiles of the log-normal: median·exp(σ·z).
        let s = sim(Scenario::Healthy, 7);
        let true_p95 =
            scenario::BASE.median_latency * (scenario::LATENCY_SIGMA * 1.644_853_6_f64).exp();
        let true_p99 =
            scenario::BASE.median_latency * (scenario::LATENCY_SIGMA * 2.326_347_9_f64).exp();
        let p95 = latest(&s, SimMetric::P95, Track::Baseline);
        let p99 = latest(&s, SimMetric::P99, Track::Baseline);
        assert!(
            (p95 / true_p95 - 1.0).abs() < 0.06,
            "p95 {p95} vs {true_p95}"
        );
        assert!(
            (p99 / true_p99 - 1.0).abs() < 0.08,
            "p99 {p99} vs {true_p99}"
        );
        let p50 = latest(&s, SimMetric::P50, Track::Baseline);
        assert!(
            (p50 / scenario::BASE.median_latency - 1.0).abs() < 0.06,
            "p50 {p50}"
        );
    }

    #[test]
    fn request_rate_splits_by_weight() {
        // At real-world speed the first hold lasts 10 minutes: two minutes in, all at 5%.
        let mut s = Simulator::new(
            SimOptions {
                seed: 3,
                speed: 1.0,
                ..SimOptions::default()
            },
            now(),
        );
        s.advance_to(now() + chrono::Duration::seconds(120));
        let canary = latest(&s, SimMetric::Rps, Track::Canary);
        let baseline = latest(&s, SimMetric::Rps, Track::Baseline);
        let share = canary / (canary + baseline);
        assert!((share - 0.05).abs() < 0.02, "canary share {share}");
        assert!(((canary + baseline) / SERVICE_RPS - 1.0).abs() < 0.35);
    }

    #[test]
    fn same_seed_same_numbers_other_seed_other_numbers() {
        let a = latest(&sim(Scenario::Healthy, 42), SimMetric::P95, Track::Baseline);
        let b = latest(&sim(Scenario::Healthy, 42), SimMetric::P95, Track::Baseline);
        let c = latest(&sim(Scenario::Healthy, 43), SimMetric::P95, Track::Baseline);
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn healthy_walks_to_completion() {
        let mut s = sim(Scenario::Healthy, 5);
        // Holds at speed 20: 30s + 30s + 90s, plus controller periods.
        s.advance_to(now() + chrono::Duration::seconds(200));
        assert_eq!(
            s.rollout().state,
            RolloutState::Completed,
            "{:?}",
            s.rollout().message
        );
        assert_eq!(s.rollout().history.len(), 3);
    }

    #[test]
    fn latency_regression_is_held_at_25_percent_by_about_40_percent() {
        let mut s = sim(Scenario::LatencyRegression, 5);
        s.advance_to(now() + chrono::Duration::seconds(150));
        let r = s.rollout();
        assert_eq!(
            (r.state, r.step, r.canary_weight),
            (RolloutState::Progressing, 1, 25)
        );
        assert!(
            r.message.as_deref().is_some_and(|m| m.contains("held")),
            "{:?}",
            r.message
        );
        let ratio =
            latest(&s, SimMetric::P95, Track::Canary) / latest(&s, SimMetric::P95, Track::Baseline);
        assert!((ratio - 1.4).abs() < 0.12, "canary/baseline p95 {ratio}");
    }

    #[test]
    fn error_spike_is_rolled_back_by_the_controller() {
        let mut s = sim(Scenario::ErrorSpike, 5);
        s.advance_to(now() + chrono::Duration::seconds(120));
        let r = s.rollout();
        assert_eq!(r.state, RolloutState::RolledBack);
        let msg = r.message.clone().unwrap_or_default();
        assert!(
            msg.contains("> max 1.00%") && msg.contains("for 2 checks"),
            "{msg}"
        );
    }

    #[test]
    fn slow_burn_passes_gates_but_burns_budget() {
        let mut s = sim(Scenario::SlowBurn, 5);
        s.advance_to(now() + chrono::Duration::seconds(40));
        let status = slo().evaluate(&s.slo_measurement(now() + chrono::Duration::seconds(40)));
        let left = status.budget_remaining.expect("budget");
        assert!((0.10..0.13).contains(&left), "budget left {left}");
        assert!(status.burn("3d").is_some_and(|b| b > 1.0));
        assert_eq!(status.alert, Some(crate::domain::slo::Alert::Ticket));
        let healthy = slo().evaluate(&sim(Scenario::Healthy, 5).slo_measurement(now()));
        assert!(
            healthy.burn("5m").is_some_and(|b| b < 1.0),
            "{:?}",
            healthy.burn_rates
        );
    }

    #[test]
    fn no_canary_series_before_the_rollout_began() {
        let s = sim(Scenario::Healthy, 1);
        let canary = s.series(
            SimMetric::P95,
            Track::Canary,
            now(),
            Duration::from_secs(300),
            Duration::from_secs(5),
        );
        let baseline = s.series(
            SimMetric::P95,
            Track::Baseline,
            now(),
            Duration::from_secs(300),
            Duration::from_secs(5),
        );
        assert_eq!(baseline.points.len(), 61);
        assert!(canary.points.len() <= 2, "{}", canary.points.len());
    }

    fn secs(n: i64) -> chrono::Duration {
        chrono::Duration::seconds(n)
    }

    fn sum(blocks: &[CountBlock], track: Track) -> Vec<f64> {
        let mut out: Vec<f64> = Vec::new();
        for b in blocks {
            let v = match track {
                Track::Baseline => &b.baseline,
                Track::Canary => &b.canary,
            };
            out.resize(v.len(), 0.0);
            for (o, x) in out.iter_mut().zip(v) {
                *o += x;
            }
        }
        out
    }

    fn slots_of(counts: &[f64]) -> [u64; SLOTS] {
        let mut slots = [0u64; SLOTS];
        for (s, c) in slots.iter_mut().zip(counts) {
            *s = *c as u64;
        }
        slots
    }

    #[test]
    fn counts_are_the_exact_increments_of_the_counters_on_the_shared_grid() {
        let mut s = sim(Scenario::ErrorSpike, 11);
        let start = now() + secs(20);
        s.advance_to(start);
        let before = *s.totals();
        let end = now() + secs(120);
        s.advance_to(end);
        let after = *s.totals();
        let step = Duration::from_secs(10);
        let latency = s.count(SimCounter::LatencyBuckets, start, end, step);
        let errors = s.count(SimCounter::Errors, start, end, step);

        // Blocks on the shared grid: consecutive points, each starting where the last one ended.
        let points = grid(start, end, step);
        assert_eq!(points.len(), 11);
        for counts in [&latency, &errors] {
            assert_eq!(counts.blocks.len(), points.len() - 1);
            for (b, w) in counts.blocks.iter().zip(points.windows(2)) {
                assert_eq!((b.start, b.end), (w[0], w[1]));
            }
        }
        let CountKind::Latency { bounds } = &latency.kind else {
            panic!("{:?}", latency.kind)
        };
        assert_eq!(bounds.len(), SLOTS);
        assert_eq!(&bounds[..BUCKETS.len()], &BUCKETS[..]);
        assert_eq!(bounds.last(), Some(&f64::INFINITY));
        assert_eq!(errors.kind, CountKind::Errors);

        // The sum over the blocks is exactly the counters' difference.
        for (track, i) in [(Track::Baseline, 0), (Track::Canary, 1)] {
            let (b, a) = (&before[i], &after[i]);
            let slots = sum(&latency.blocks, track);
            let want: Vec<f64> = a
                .slots
                .iter()
                .zip(b.slots)
                .map(|(a, b)| (a - b) as f64)
                .collect();
            assert_eq!(slots, want, "{track:?}");
            let failed_ok = sum(&errors.blocks, track);
            let failed = (a.errors - b.errors) as f64;
            let all = (a.requests - b.requests) as f64;
            assert_eq!(failed_ok, vec![failed, all - failed], "{track:?}");
            assert!(
                all > 0.0 && failed > 0.0,
                "{track:?}: {all} requests, {failed} failed"
            );
        }

        // Per block the buckets (the last one +Inf) count every request, as [failed, ok] does.
        for (l, e) in latency.blocks.iter().zip(&errors.blocks) {
            assert_eq!(l.baseline_requests(), e.baseline_requests());
            assert_eq!(l.canary_requests(), e.canary_requests());
            assert!(l.baseline_requests() > 0.0);
            assert_eq!(l.baseline.len(), SLOTS);
            assert_eq!(e.canary.len(), 2);
        }
        assert_eq!(
            latency.requests(),
            (
                (after[0].requests - before[0].requests) as f64,
                (after[1].requests - before[1].requests) as f64
            )
        );
    }

    #[test]
    fn counts_start_where_the_history_does_and_end_where_the_simulation_is() {
        let s = sim(Scenario::Healthy, 2);
        let step = Duration::from_secs(60);
        // Two hours back is before the history (and before the simulator's first second); a
        // minute ahead is not simulated yet.
        let counts = s.count(
            SimCounter::Errors,
            now() - secs(7_200),
            now() + secs(60),
            step,
        );
        let oldest = s.history.front().map(|p| p.at).expect("history");
        let first = grid(now() - secs(7_200), now() + secs(60), step)
            .into_iter()
            .find(|t| *t >= oldest)
            .expect("a grid point in the history");
        assert_eq!(counts.blocks.first().map(|b| b.start), Some(first));
        assert_eq!(counts.blocks.last().map(|b| b.end), Some(now()));
        assert!(counts.blocks.windows(2).all(|w| w[0].end == w[1].start));
        assert_eq!(counts.blocks.len(), 61, "{}", counts.blocks.len());
        // Nothing at all when no two points are in the history.
        let none = s.count(
            SimCounter::Errors,
            now() - secs(7_200),
            now() - secs(3_800),
            step,
        );
        assert!(none.blocks.is_empty());
        // A step that does not divide a second still counts every request once.
        let fine = s.count(
            SimCounter::LatencyBuckets,
            now() - secs(10),
            now(),
            Duration::from_millis(250),
        );
        let coarse = s.count(
            SimCounter::LatencyBuckets,
            now() - secs(10),
            now(),
            Duration::from_secs(10),
        );
        assert_eq!(fine.blocks.len(), 40);
        assert_eq!(fine.requests(), coarse.requests());
    }

    #[test]
    fn the_canary_counts_nothing_before_the_rollout_began() {
        let mut s = sim(Scenario::Healthy, 4);
        s.advance_to(now() + secs(20));
        let started = s.started_at;
        let counts = s.count(
            SimCounter::LatencyBuckets,
            started - secs(120),
            now() + secs(20),
            Duration::from_secs(1),
        );
        let (before, after): (Vec<_>, Vec<_>) = counts.blocks.iter().partition(|b| b.end < started);
        assert_eq!(before.len(), 119);
        assert!(before.iter().all(|b| b.canary_requests() == 0.0));
        assert!(before.iter().all(|b| b.baseline_requests() > 0.0));
        let canary: f64 = after.iter().map(|b| b.canary_requests()).sum();
        assert!(canary > 100.0, "{canary}");
    }

    #[test]
    fn counters_the_simulator_does_not_have_are_errors_in_words() {
        let s = sim(Scenario::Healthy, 1);
        let ok = s.counts(
            &Counters::Histogram(" sim:latency_buckets".into()),
            now() - secs(30),
            now(),
            Duration::from_secs(10),
        );
        assert_eq!(ok.map(|c| c.blocks.len()), Ok(3));
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

    #[test]
    fn rps_sets_the_traffic() {
        let s = Simulator::new(
            SimOptions {
                service_rps: 4_000.0,
                ..SimOptions::default()
            },
            now(),
        );
        let counts = s.count(
            SimCounter::Errors,
            now() - secs(600),
            now(),
            Duration::from_secs(600),
        );
        let (b, c) = counts.requests();
        let rps = (b + c) / 600.0;
        assert!((rps / 4_000.0 - 1.0).abs() < 0.3, "{rps}");
        assert_eq!(s.options().service_rps, 4_000.0);
        let fallback = Simulator::new(
            SimOptions {
                service_rps: f64::NAN,
                ..SimOptions::default()
            },
            now(),
        );
        assert_eq!(fallback.options().service_rps, SERVICE_RPS);
    }

    #[test]
    fn mild_latency_canary_p95_is_a_fifth_over_the_baseline_from_the_first_step() {
        let mut s = Simulator::new(
            SimOptions {
                scenario: Scenario::MildLatency,
                seed: 9,
                service_rps: 4_000.0,
                ..SimOptions::default()
            },
            now(),
        );
        s.advance_to(now() + secs(20));
        // Still at 5%: the first step's hold (30s at speed 20) is not over.
        assert_eq!(s.rollout().canary_weight, 5);
        let counts = s.count(
            SimCounter::LatencyBuckets,
            s.started_at,
            now() + secs(20),
            Duration::from_secs(5),
        );
        let p95 = |t| quantile(0.95, &slots_of(&sum(&counts.blocks, t)));
        // The distribution's p95 is exactly 1.2×; interpolated in the buckets (the baseline's in
        // (175ms, 200ms], the canary's in (200ms, 250ms]) it reads about 1.21× on average.
        let ratio = p95(Track::Canary) / p95(Track::Baseline);
        assert!((1.15..1.27).contains(&ratio), "canary/baseline p95 {ratio}");
        let errors = s.count(
            SimCounter::Errors,
            s.started_at,
            now() + secs(20),
            Duration::from_secs(5),
        );
        let (b, c) = (
            sum(&errors.blocks, Track::Baseline),
            sum(&errors.blocks, Track::Canary),
        );
        let ratio = |v: &[f64]| v[0] / (v[0] + v[1]);
        assert!(ratio(&c) < 0.002 && ratio(&b) < 0.002, "{b:?} {c:?}");
    }

    #[test]
    fn mild_latency_is_held_at_5_percent_once_the_first_hold_is_over() {
        for (seed, rps) in [(2, SERVICE_RPS), (3, 4_000.0)] {
            let mut s = Simulator::new(
                SimOptions {
                    scenario: Scenario::MildLatency,
                    seed,
                    service_rps: rps,
                    ..SimOptions::default()
                },
                now(),
            );
            s.advance_to(now() + secs(150));
            let r = s.rollout();
            assert_eq!(
                (r.state, r.step, r.canary_weight),
                (RolloutState::Progressing, 0, 5),
                "seed {seed}, {rps} rps"
            );
            let msg = r.message.clone().unwrap_or_default();
            assert!(
                msg.starts_with("controller held: canary p95 latency")
                    && msg.contains("limit +10%"),
                "{msg}"
            );
        }
    }
}
