//! The simulated service's traffic, one second at a time: requests arriving around the service's
//! rate (drifting like real load), split between the tracks by the canary's share, and per track
//! the errors and latency buckets drawn from its behaviour; the rolling one-minute window that turns
//! them into metric points, and the running counters a scrape reads.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Binomial, Distribution, Normal, Poisson};
use std::collections::VecDeque;

use super::histogram::{SLOTS, lognormal_slot_probabilities, quantile};
use super::measures::{Totals, TrackPoint};
use super::scenario::{self, Behaviour};

/// The aggregation window of every simulated metric point (like `rate(...[1m])`).
pub const METRIC_WINDOW_SECS: usize = 60;

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

/// What one second of traffic left: each track's metric points over the last minute, and the
/// service's requests and errors in this second.
#[derive(Debug, Clone, Copy)]
pub(super) struct Second {
    pub(super) baseline: TrackPoint,
    pub(super) canary: TrackPoint,
    pub(super) requests: u64,
    pub(super) errors: u64,
}

/// The seeded generator of the service's traffic and what it has counted so far.
#[derive(Debug)]
pub(super) struct Traffic {
    rng: ChaCha8Rng,
    /// The load's level around the service's rate (1.0 = on it).
    level: f64,
    windows: [RollingWindow; 2],
    /// Counters since the simulator started, per track, for the `/metrics` exposition.
    totals: [Totals; 2],
}

impl Traffic {
    pub(super) fn new(seed: u64) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed),
            level: 1.0,
            windows: Default::default(),
            totals: Default::default(),
        }
    }

    /// Counters since start: `[baseline, canary]`.
    pub(super) fn totals(&self) -> &[Totals; 2] {
        &self.totals
    }

    /// The next second: about `service_rps` requests, `canary_share` of them to the canary, which
    /// behaves as `canary_behaviour` (the baseline as [`scenario::BASE`]).
    pub(super) fn second(
        &mut self,
        service_rps: f64,
        canary_share: f64,
        canary_behaviour: Behaviour,
    ) -> Second {
        // Traffic drifts slowly around its level, like real load does.
        let drift = Normal::new(0.0, 0.01)
            .map(|n| n.sample(&mut self.rng))
            .unwrap_or(0.0);
        self.level = (self.level + drift + (1.0 - self.level) * 0.02).clamp(0.7, 1.3);
        let lambda = service_rps * self.level;
        let total = Poisson::new(lambda)
            .map(|p| p.sample(&mut self.rng) as u64)
            .unwrap_or(0);
        let canary_n = Binomial::new(total, canary_share)
            .map(|b| b.sample(&mut self.rng))
            .unwrap_or(0);
        let baseline_n = total - canary_n;
        let baseline = self.draw(baseline_n, scenario::BASE);
        let canary = self.draw(canary_n, canary_behaviour);
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
            for (t, c) in totals
                .error_slots
                .iter_mut()
                .zip(error_slots(counts.errors, &counts.slots))
            {
                *t += c;
            }
            let mean = behaviour.median_latency * (scenario::LATENCY_SIGMA.powi(2) / 2.0).exp();
            totals.latency_sum += counts.requests as f64 * mean;
        }
        Second {
            baseline: self.windows[0].point(),
            canary: self.windows[1].point(),
            requests: baseline.requests + canary.requests,
            errors: baseline.errors + canary.errors,
        }
    }

    /// One second of `n` requests: latencies drawn into buckets (a multinomial, drawn as a chain of
    /// binomials) and errors drawn as a binomial.
    fn draw(&mut self, n: u64, behaviour: Behaviour) -> SecondCounts {
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
}

/// Which of a second's latency slots its `errors` failed requests fall in, without a draw (so a
/// seed's traffic stays the same): in proportion to each slot's requests, rounded down, the rest
/// one each to the fullest slots first. Never more than a slot holds, so the successful
/// requests' counts (`slots - error_slots`) only grow too.
fn error_slots(errors: u64, slots: &[u64; SLOTS]) -> [u64; SLOTS] {
    let mut out = [0u64; SLOTS];
    let n: u64 = slots.iter().sum();
    if n == 0 || errors == 0 {
        return out;
    }
    let errors = errors.min(n);
    for (o, s) in out.iter_mut().zip(slots) {
        *o = (u128::from(errors) * u128::from(*s) / u128::from(n)) as u64;
    }
    let mut left = errors - out.iter().sum::<u64>();
    let mut order: Vec<usize> = (0..SLOTS).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(slots[i] - out[i]));
    for i in order.into_iter().cycle().take(SLOTS * 2) {
        if left == 0 {
            break;
        }
        if out[i] < slots[i] {
            out[i] += 1;
            left -= 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::domain::Track;
    use crate::sim::histogram::quantile;
    use crate::sim::scenario;
    use crate::sim::test_support::*;
    use crate::sim::{SERVICE_RPS, Scenario, SimCounter, SimMetric, SimOptions, Simulator};

    #[test]
    fn error_slots_split_the_errors_within_each_slot() {
        let mut slots = [0u64; super::SLOTS];
        slots[0] = 7;
        slots[3] = 2;
        slots[10] = 1;
        for errors in 0..=10 {
            let e = super::error_slots(errors, &slots);
            assert_eq!(e.iter().sum::<u64>(), errors, "{errors}: {e:?}");
            assert!(e.iter().zip(&slots).all(|(e, s)| e <= s), "{errors}: {e:?}");
        }
        assert_eq!(super::error_slots(5, &[0; super::SLOTS]), [0; super::SLOTS]);
        // Over many seconds the totals keep both shares growing.
        let s = sim(Scenario::ErrorSpike, 3);
        let t = s.totals()[1];
        assert_eq!(t.error_slots.iter().sum::<u64>(), t.errors);
        assert!(t.error_slots.iter().zip(&t.slots).all(|(e, s)| e <= s));
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
            s.started_at(),
            now() + secs(20),
            Duration::from_secs(5),
        );
        let p95 = |t| quantile(0.95, &slots_of(&sum(&counts, t)));
        // The distribution's p95 is exactly 1.2×; interpolated in the buckets (the baseline's in
        // (175ms, 200ms], the canary's in (200ms, 250ms]) it reads about 1.21× on average.
        let ratio = p95(Track::Canary) / p95(Track::Baseline);
        assert!((1.15..1.27).contains(&ratio), "canary/baseline p95 {ratio}");
        let errors = s.count(
            SimCounter::Errors,
            s.started_at(),
            now() + secs(20),
            Duration::from_secs(5),
        );
        let (b, c) = (sum(&errors, Track::Baseline), sum(&errors, Track::Canary));
        let ratio = |v: &[f64]| v[0] / (v[0] + v[1]);
        assert!(ratio(&c) < 0.002 && ratio(&b) < 0.002, "{b:?} {c:?}");
    }
}
