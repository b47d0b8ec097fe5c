//! Test fixtures of the sequential judge: seeded latency and error runs, times and a context.

use chrono::{DateTime, TimeZone, Utc};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Binomial, Distribution, Poisson};
use std::time::Duration;

use super::Context;
use crate::domain::counts::{CountKind, Counts};

const BOUNDS: [f64; 12] = [
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    f64::INFINITY,
];

pub(super) fn t(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + secs, 0)
        .single()
        .expect("t")
}

fn lognormal_probabilities(median: f64, sigma: f64) -> Vec<f64> {
    let cdf = |x: f64| crate::domain::judge::normal_cdf((x.ln() - median.ln()) / sigma);
    let mut prev = 0.0;
    BOUNDS
        .iter()
        .map(|b| {
            let c = if b.is_finite() { cdf(*b) } else { 1.0 };
            let p = c - prev;
            prev = c;
            p
        })
        .collect()
}

fn draw(rng: &mut ChaCha8Rng, n: u64, p: &[f64]) -> Vec<f64> {
    let mut left = n;
    let mut mass = 1.0;
    p.iter()
        .map(|pk| {
            let share = if mass > 0.0 {
                (pk / mass).clamp(0.0, 1.0)
            } else {
                0.0
            };
            let k = Binomial::new(left, share).map_or(0, |b| b.sample(rng));
            left -= k;
            mass -= pk;
            k as f64
        })
        .collect()
}

/// `polls` blocks of 10s at 95 vs 5 rps; the canary's median is × `shift` from `from` on.
pub(super) fn latency_run(seed: u64, polls: usize, shift: f64, from: usize) -> Counts {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let healthy = lognormal_probabilities(0.08, 0.5);
    let slower = lognormal_probabilities(0.08 * shift, 0.5);
    let mut counts = Counts::new(CountKind::Latency {
        bounds: BOUNDS.to_vec(),
    });
    for i in 0..polls {
        let n_b = Poisson::new(950.0).map_or(0.0, |p| p.sample(&mut rng)) as u64;
        let n_c = Poisson::new(50.0).map_or(0.0, |p| p.sample(&mut rng)) as u64;
        let canary_p = if i >= from { &slower } else { &healthy };
        let baseline = draw(&mut rng, n_b, &healthy);
        let canary = draw(&mut rng, n_c, canary_p);
        counts.push(t(i as i64 * 10), t(i as i64 * 10 + 10), &baseline, &canary);
    }
    counts
}

pub(super) fn errors_run(seed: u64, polls: usize, base: f64, ratio: f64) -> Counts {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut counts = Counts::new(CountKind::Errors);
    for i in 0..polls {
        let n_b = Poisson::new(950.0).map_or(0.0, |p| p.sample(&mut rng)) as u64;
        let n_c = Poisson::new(50.0).map_or(0.0, |p| p.sample(&mut rng)) as u64;
        let e_b = Binomial::new(n_b, base).map_or(0, |b| b.sample(&mut rng));
        let e_c = Binomial::new(n_c, (base * ratio).min(1.0)).map_or(0, |b| b.sample(&mut rng));
        counts.push(
            t(i as i64 * 10),
            t(i as i64 * 10 + 10),
            &[e_b as f64, (n_b - e_b) as f64],
            &[e_c as f64, (n_c - e_c) as f64],
        );
    }
    counts
}

pub(super) fn ctx(hold_over: bool) -> Context {
    Context {
        alpha: 0.005,
        step_starts: vec![t(0)],
        hold_left: hold_over.then_some(Duration::ZERO),
    }
}
