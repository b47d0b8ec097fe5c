//! `simulate --fleet N`: N independent simulated rollouts, so the fleet screen has something to
//! sort with no cluster. Each member is a [`Simulator`] of its own (its own seed, derived from the
//! run's, and its own lock, so an action on one never waits for or touches another), with a
//! deterministic mix of scenarios that covers every rank of the attention sort: most healthy, and
//! a latency regression, an error spike, a slow burn, one paused by a person and one already
//! completed (for N ≥ 6; a smaller fleet takes the first N of that list).

use chrono::{DateTime, Utc};
use std::sync::{Arc, Mutex};

use super::history::truncate_to_second;
use super::{Scenario, SimOptions, Simulator};

/// The most rollouts `simulate --fleet` serves.
pub const MAX_FLEET: usize = 200;

/// Realistic service names, in order; members beyond the list are `svc-K` (K is 1-based).
pub const NAMES: [&str; 16] = [
    "checkout",
    "payments",
    "search",
    "cart",
    "catalog",
    "inventory",
    "shipping",
    "orders",
    "accounts",
    "auth",
    "pricing",
    "reviews",
    "recommendations",
    "notifications",
    "media",
    "gateway",
];

/// Who paused the member that starts paused.
pub const PAUSED_BY: &str = "bob@laptop";

/// How a member's rollout stands when the server starts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Start {
    /// Begun a few seconds ago, like `simulate` without a fleet.
    Fresh,
    /// Begun this share of the rollout's whole length ago (holds at `--speed`), so the healthy
    /// members are spread over the steps rather than moving in lockstep.
    Staggered(f64),
    /// Paused by a person at its first step, this many seconds ago.
    PausedBy(&'static str, i64),
    /// Promoted fully to 100%, this many seconds ago.
    Completed(i64),
}

/// One member of the fleet, before it runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub name: String,
    pub scenario: Scenario,
    pub seed: u64,
    pub start: Start,
}

/// The name of member `index` (0-based).
pub fn name(index: usize) -> String {
    NAMES
        .get(index)
        .map_or_else(|| format!("svc-{}", index + 1), |n| (*n).to_string())
}

/// Member `index`'s seed: the run's seed and the index through SplitMix64, so neighbours share
/// no stream and the same run seed replays the same fleet.
pub fn member_seed(seed: u64, index: usize) -> u64 {
    let mut z = seed ^ (index as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The scenario and start of member `index`: the six that cover the attention sort first, then
/// mostly healthy members at staggered steps, with a mild latency regression every tenth.
fn mix(index: usize) -> (Scenario, Start) {
    match index {
        0 => (Scenario::Healthy, Start::Fresh),
        1 => (Scenario::LatencyRegression, Start::Fresh),
        2 => (Scenario::ErrorSpike, Start::Fresh),
        3 => (Scenario::SlowBurn, Start::Fresh),
        4 => (Scenario::Healthy, Start::PausedBy(PAUSED_BY, 180)),
        5 => (Scenario::Healthy, Start::Completed(600)),
        i if i % 10 == 6 => (Scenario::MildLatency, Start::Fresh),
        // 0, 0.42, 0.24, … of the rollout's length: never the end, so they are still moving.
        i => (
            Scenario::Healthy,
            Start::Staggered(((i * 7) % 10) as f64 * 0.06),
        ),
    }
}

/// The plan of a fleet of `n` rollouts from the run's `seed`.
pub fn plan(n: usize, seed: u64) -> Vec<Member> {
    (0..n)
        .map(|i| {
            let (scenario, start) = mix(i);
            Member {
                name: name(i),
                scenario,
                seed: member_seed(seed, i),
                start,
            }
        })
        .collect()
}

/// Nominal length of the whole rollout in seconds (10m + 10m + 30m of holds).
const NOMINAL_ROLLOUT_SECS: f64 = 3_000.0;

/// Run `member` up to `now`: `base` gives the speed and the traffic; the name, scenario and seed
/// are the member's.
pub fn simulate(member: &Member, base: &SimOptions, now: DateTime<Utc>) -> Simulator {
    let options = SimOptions {
        scenario: member.scenario,
        seed: member.seed,
        rollout_name: member.name.clone(),
        ..base.clone()
    };
    // Whole seconds, as the simulator keeps its clock (a pause at 09:27:00, not 09:27:00.068).
    let now = truncate_to_second(now);
    let ago = |secs: i64| now - chrono::Duration::seconds(secs);
    match member.start {
        Start::Fresh => Simulator::new(options, now),
        Start::Staggered(share) => {
            let speed = if base.speed.is_finite() && base.speed > 0.0 {
                base.speed
            } else {
                1.0
            };
            let secs = (share * NOMINAL_ROLLOUT_SECS / speed) as i64;
            let mut sim = Simulator::new(options, ago(secs));
            sim.advance_to(now);
            sim
        }
        Start::PausedBy(actor, secs) => {
            let at = ago(secs);
            let mut sim = Simulator::new(options, at);
            let r = sim.rollout_mut();
            if r.pause(r.step, actor, at).is_ok() {
                r.message = Some(format!("paused by {actor}"));
            }
            sim.advance_to(now);
            sim
        }
        Start::Completed(secs) => {
            let at = ago(secs);
            let mut sim = Simulator::new(options, at);
            let r = sim.rollout_mut();
            while !r.state.is_terminal() && r.promote(r.step, at).is_ok() {}
            sim.advance_to(now);
            sim
        }
    }
}

/// The running fleet: each member behind its own lock, in plan order.
#[derive(Clone)]
pub struct Fleet {
    members: Arc<Vec<(String, Arc<Mutex<Simulator>>)>>,
}

impl Fleet {
    /// `n` rollouts (1..=[`MAX_FLEET`]) from `base`'s seed, speed and traffic, run up to `now`.
    /// The members are built on as many threads as the machine has (each simulates its hour of
    /// history first).
    pub fn new(n: usize, base: &SimOptions, now: DateTime<Utc>) -> Self {
        let plan = plan(n.clamp(1, MAX_FLEET), base.seed);
        let threads = std::thread::available_parallelism()
            .map_or(1, |p| p.get())
            .min(plan.len());
        let chunk = plan.len().div_ceil(threads);
        let sims: Vec<Simulator> = std::thread::scope(|scope| {
            let handles: Vec<_> = plan
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || {
                        part.iter()
                            .map(|m| simulate(m, base, now))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect()
        });
        Self::from_simulators(sims)
    }

    /// A fleet of the given simulators, named by their rollouts.
    pub fn from_simulators(sims: Vec<Simulator>) -> Self {
        let members = sims
            .into_iter()
            .map(|s| (s.rollout().name.clone(), Arc::new(Mutex::new(s))))
            .collect();
        Self {
            members: Arc::new(members),
        }
    }

    /// The one simulator `simulate` runs without `--fleet`, as a fleet of one.
    pub fn single(sim: Arc<Mutex<Simulator>>) -> Self {
        let name = sim
            .lock()
            .map(|s| s.rollout().name.clone())
            .unwrap_or_default();
        Self {
            members: Arc::new(vec![(name, sim)]),
        }
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The members' names, in plan order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.members.iter().map(|(n, _)| n.as_str())
    }

    /// Every member, in plan order.
    pub fn members(&self) -> impl Iterator<Item = (&str, &Arc<Mutex<Simulator>>)> {
        self.members.iter().map(|(n, s)| (n.as_str(), s))
    }

    /// The member named `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<Mutex<Simulator>>> {
        self.members.iter().find(|(n, _)| n == name).map(|(_, s)| s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{RolloutState, Track};
    use crate::sim::SimMetric;
    use crate::sim::test_support::{now, secs};

    fn base(seed: u64) -> SimOptions {
        SimOptions {
            seed,
            ..SimOptions::default()
        }
    }

    #[test]
    fn names_are_services_then_numbered() {
        let names: Vec<String> = (0..18).map(name).collect();
        assert_eq!(&names[..3], ["checkout", "payments", "search"]);
        assert_eq!(names[15], "gateway");
        assert_eq!(names[16], "svc-17");
        assert_eq!(names[17], "svc-18");
        let plan = plan(200, 1);
        let distinct: std::collections::BTreeSet<_> = plan.iter().map(|m| &m.name).collect();
        assert_eq!(distinct.len(), 200, "names are unique");
    }

    #[test]
    fn six_or_more_cover_every_rank_and_most_are_healthy() {
        let p = plan(6, 9);
        let kinds: Vec<_> = p.iter().map(|m| (m.scenario, m.start)).collect();
        assert_eq!(
            kinds,
            [
                (Scenario::Healthy, Start::Fresh),
                (Scenario::LatencyRegression, Start::Fresh),
                (Scenario::ErrorSpike, Start::Fresh),
                (Scenario::SlowBurn, Start::Fresh),
                (Scenario::Healthy, Start::PausedBy("bob@laptop", 180)),
                (Scenario::Healthy, Start::Completed(600)),
            ]
        );
        let p = plan(50, 9);
        let healthy = p
            .iter()
            .filter(|m| m.scenario == Scenario::Healthy && !matches!(m.start, Start::PausedBy(..)))
            .count();
        assert!(healthy * 2 > p.len(), "{healthy} of {} healthy", p.len());
        // A smaller fleet is the first N of that list.
        assert_eq!(plan(3, 9), plan(50, 9)[..3]);
        assert_eq!(plan(1, 9)[0].scenario, Scenario::Healthy);
    }

    #[test]
    fn seeds_are_derived_distinct_and_replayable() {
        let a = plan(50, 7);
        assert_eq!(a, plan(50, 7), "same run seed, same fleet");
        let seeds: std::collections::BTreeSet<_> = a.iter().map(|m| m.seed).collect();
        assert_eq!(seeds.len(), 50);
        let b = plan(50, 8);
        assert!(a.iter().zip(&b).all(|(x, y)| x.seed != y.seed));
    }

    #[test]
    fn members_start_where_their_plan_says() {
        let fleet = Fleet::new(8, &base(3), now());
        assert_eq!(fleet.len(), 8);
        let state = |name: &str| {
            let s = fleet.get(name).expect(name).lock().expect("lock");
            s.rollout().clone()
        };
        let paused = state("catalog");
        assert_eq!(paused.state, RolloutState::Paused);
        assert_eq!(paused.paused_by.as_deref(), Some("bob@laptop"));
        assert_eq!(paused.paused_at, Some(now() - secs(180)));
        let done = state("inventory");
        assert_eq!(
            (done.state, done.canary_weight),
            (RolloutState::Completed, 100)
        );
        for name in ["checkout", "payments", "search", "shipping", "orders"] {
            let r = state(name);
            assert_eq!(r.state, RolloutState::Progressing, "{name}");
            assert_eq!(r.name, name);
        }
        // The staggered healthy ones began earlier: `orders` (share 0.54 at speed 20: 81 s ago)
        // is past its first step while the fresh `checkout` is not.
        assert_eq!(state("checkout").step, 0);
        assert!(state("orders").step >= 1, "{:?}", state("orders"));
        assert_eq!(state("shipping").step, 0, "the mild latency one is fresh");
        assert!(fleet.get("nope").is_none());
    }

    #[test]
    fn members_are_independent() {
        let fleet = Fleet::new(6, &base(3), now());
        let later = now() + secs(120);
        let totals: Vec<_> = fleet
            .members()
            .map(|(_, s)| {
                let mut s = s.lock().expect("lock");
                s.advance_to(later);
                s.totals()[0]
            })
            .collect();
        // Each has its own noise: no two baselines counted the same.
        for (i, a) in totals.iter().enumerate() {
            for b in &totals[i + 1..] {
                assert_ne!(a.requests, b.requests);
            }
        }
        // Acting on one leaves the others as they were.
        let before: Vec<_> = fleet
            .members()
            .map(|(_, s)| s.lock().expect("lock").rollout().clone())
            .collect();
        {
            let mut payments = fleet
                .get("payments")
                .expect("payments")
                .lock()
                .expect("lock");
            let step = payments.rollout().step;
            payments
                .rollout_mut()
                .pause(step, "alice@bastion", later)
                .expect("pause");
        }
        for ((name, s), was) in fleet.members().zip(&before) {
            let r = s.lock().expect("lock").rollout().clone();
            if name == "payments" {
                assert_eq!(r.state, RolloutState::Paused);
            } else {
                assert_eq!(&r, was, "{name} changed");
            }
        }
        // The error spike rolls back while the healthy one goes on.
        let spike = fleet.get("search").expect("search");
        spike.lock().expect("lock").advance_to(now() + secs(200));
        assert_eq!(
            spike.lock().expect("lock").rollout().state,
            RolloutState::RolledBack
        );
        let healthy = fleet
            .get("checkout")
            .expect("checkout")
            .lock()
            .expect("lock");
        assert_eq!(healthy.rollout().state, RolloutState::Progressing);
        let p95 = healthy.series(
            SimMetric::P95,
            Track::Baseline,
            later,
            std::time::Duration::from_secs(60),
            std::time::Duration::from_secs(5),
        );
        assert_eq!(p95.points.len(), 13);
    }
}
