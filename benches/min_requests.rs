//! What `min_requests` buys a threshold gate on an error ratio: `cargo bench --bench
//! min_requests` prints a markdown table (figures, not assertions).
//!
//! Each run: 360 polls of 10 s; per second, Poisson requests (the baseline at 95 rps, the canary
//! at the rate in the row) and binomial errors; each poll's value is the error ratio over the
//! last 60 s (the console's default window), and the requests behind the canary's value are the
//! canary requests in that window. The real `Gate::evaluate_counted` judges every poll, as the
//! console does, with two gates seen in the seeds: an absolute ceiling (`max = 0.01`) and a ratio
//! to the baseline held for two checks (`max_ratio = 1.5, for = 2`). Healthy: both tracks fail
//! 0.5% of requests; broken: the canary fails 3% (×6).
//!
//! Per cell: the share of polls that FAIL, the share that are COLLECTING (a violation muted for
//! lack of requests), and for the broken canary the median poll of the first FAIL. Environment:
//! `MIN_REQUESTS_BENCH_RUNS` (default 200), `MIN_REQUESTS_BENCH_SEED`.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Binomial, Distribution, Poisson};
use rollout_console::domain::gate::{ForSpec, Gate, Verdict};
use rollout_console::domain::{Sample, Series, Unit};

const POLLS: usize = 360;
const POLL_SECS: usize = 10;
const WINDOW_SECS: usize = 60;
const BASELINE_RPS: f64 = 95.0;
const BASE_ERROR: f64 = 0.005;
const BROKEN_ERROR: f64 = 0.03;
const CANARY_RPS: [f64; 4] = [0.5, 2.0, 5.0, 20.0];
const MIN_REQUESTS: [Option<f64>; 5] = [None, Some(20.0), Some(50.0), Some(100.0), Some(200.0)];

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .expect("a valid instant")
}

/// Per second: (requests, errors) of one track.
fn traffic(rng: &mut ChaCha8Rng, rps: f64, error: f64) -> Vec<(u64, u64)> {
    let arrivals = Poisson::new(rps).expect("a positive rate");
    (0..POLLS * POLL_SECS)
        .map(|_| {
            let n = arrivals.sample(rng) as u64;
            let e = if n == 0 {
                0
            } else {
                Binomial::new(n, error).expect("a probability").sample(rng)
            };
            (n, e)
        })
        .collect()
}

/// The error ratio over the window ending at each poll (NaN without requests, as PromQL's 0/0),
/// and the requests behind it.
fn windows(per_second: &[(u64, u64)]) -> (Vec<f64>, Vec<f64>) {
    (1..=POLLS)
        .map(|poll| {
            let end = poll * POLL_SECS;
            let start = end.saturating_sub(WINDOW_SECS);
            let (n, e) = per_second[start..end]
                .iter()
                .fold((0u64, 0u64), |(n, e), (dn, de)| (n + dn, e + de));
            (e as f64 / n as f64, n as f64)
        })
        .unzip()
}

struct Tally {
    fail: usize,
    collecting: usize,
    polls: usize,
    first_fails: Vec<usize>,
}

fn run_gate(gate: &Gate, baseline: &[f64], canary: &[f64], requests: &[f64], t: &mut Tally) {
    let at = |i: usize| t0() + chrono::Duration::seconds(((i + 1) * POLL_SECS) as i64);
    let mut first = None;
    for poll in 0..POLLS {
        // The gate only looks back over a few points; a short tail keeps the bench fast.
        let from = poll.saturating_sub(8);
        let series = |values: &[f64]| {
            Series::new(
                (from..=poll)
                    .map(|i| Sample {
                        at: at(i),
                        value: values[i],
                    })
                    .collect(),
            )
        };
        let counted: Vec<(DateTime<Utc>, f64)> =
            (from..=poll).map(|i| (at(i), requests[i])).collect();
        let eval = gate.evaluate_counted(
            "error rate",
            Unit::Ratio,
            &series(baseline),
            &series(canary),
            Duration::from_secs(POLL_SECS as u64),
            gate.min_requests.map(|min| (counted.as_slice(), min)),
        );
        t.polls += 1;
        match eval.verdict {
            Verdict::Fail => {
                t.fail += 1;
                first.get_or_insert(poll + 1);
            }
            Verdict::Collecting => t.collecting += 1,
            _ => {}
        }
    }
    if let Some(p) = first {
        t.first_fails.push(p);
    }
}

fn pct(k: usize, n: usize) -> String {
    let p = 100.0 * k as f64 / n.max(1) as f64;
    if p == 0.0 {
        "0".into()
    } else if p < 0.1 {
        "<0.1".into()
    } else {
        format!("{p:.1}")
    }
}

fn median(values: &mut [usize]) -> Option<usize> {
    values.sort_unstable();
    values.get(values.len() / 2).copied()
}

fn main() {
    let runs: usize = std::env::var("MIN_REQUESTS_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let seed: u64 = std::env::var("MIN_REQUESTS_BENCH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_261_201);
    let gates = [
        ("max = 0.01", {
            Gate {
                max: Some(0.01),
                ..Gate::default()
            }
        }),
        ("max_ratio = 1.5, for = 2", {
            Gate {
                max_ratio: Some(1.5),
                for_: ForSpec::Checks(2),
                ..Gate::default()
            }
        }),
    ];
    println!(
        "min_requests on an error-ratio gate: {runs} runs × {POLLS} polls of {POLL_SECS} s per \
         cell; {WINDOW_SECS} s window; baseline {BASELINE_RPS} rps; errors {:.1}% healthy, \
         {:.0}% broken canary",
        BASE_ERROR * 100.0,
        BROKEN_ERROR * 100.0
    );
    println!(
        "cells: healthy canary: polls FAIL % / COLLECTING % · broken canary: polls FAIL % / \
         COLLECTING % / median poll of the first FAIL (runs never failed)\n"
    );
    for (label, gate) in &gates {
        println!("gate `{label}`\n");
        print!("| canary rps (requests per window) |");
        for min in MIN_REQUESTS {
            match min {
                None => print!(" no min_requests |"),
                Some(m) => print!(" min_requests {m:.0} |"),
            }
        }
        println!();
        println!("|---|{}", "---|".repeat(MIN_REQUESTS.len()));
        for (ri, rps) in CANARY_RPS.iter().enumerate() {
            print!("| {rps} ({:.0}) |", rps * WINDOW_SECS as f64);
            for min in MIN_REQUESTS {
                let gate = Gate {
                    min_requests: min,
                    ..gate.clone()
                };
                let mut healthy = Tally {
                    fail: 0,
                    collecting: 0,
                    polls: 0,
                    first_fails: vec![],
                };
                let mut broken = Tally {
                    fail: 0,
                    collecting: 0,
                    polls: 0,
                    first_fails: vec![],
                };
                for run in 0..runs {
                    // The same traffic for every min_requests in a row: only the gate differs.
                    let mut rng = ChaCha8Rng::seed_from_u64(
                        seed ^ ((ri as u64) << 32) ^ (run as u64).wrapping_mul(0x9E37_79B9),
                    );
                    let (baseline, _) = windows(&traffic(&mut rng, BASELINE_RPS, BASE_ERROR));
                    let (canary, requests) = windows(&traffic(&mut rng, *rps, BASE_ERROR));
                    run_gate(&gate, &baseline, &canary, &requests, &mut healthy);
                    let (bad, bad_requests) = windows(&traffic(&mut rng, *rps, BROKEN_ERROR));
                    run_gate(&gate, &baseline, &bad, &bad_requests, &mut broken);
                }
                let never = runs - broken.first_fails.len();
                let first =
                    median(&mut broken.first_fails).map_or("–".to_string(), |p| p.to_string());
                print!(
                    " {} / {} · {} / {} / {first} ({never}) |",
                    pct(healthy.fail, healthy.polls),
                    pct(healthy.collecting, healthy.polls),
                    pct(broken.fail, broken.polls),
                    pct(broken.collecting, broken.polls),
                );
            }
            println!();
        }
        println!();
    }
}
