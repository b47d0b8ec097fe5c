//! Small statistics for the tables: Wilson intervals, order statistics of polls to FAIL, and the
//! oracle bound ln(1/α)/KL.

use rollout_console::domain::judge::normal_cdf;

/// The 95% Wilson score interval of k successes in n.
pub fn wilson(k: usize, n: usize) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let z = 1.959_964;
    let (k, n) = (k as f64, n as f64);
    let p = k / n;
    let denom = 1.0 + z * z / n;
    let center = (p + z * z / (2.0 * n)) / denom;
    let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / denom;
    ((center - half).max(0.0), (center + half).min(1.0))
}

pub fn pct(x: f64) -> String {
    let v = 100.0 * x;
    if v == 0.0 {
        "0%".into()
    } else if v < 1.0 {
        format!("{v:.2}%")
    } else if v < 10.0 {
        format!("{v:.1}%")
    } else {
        format!("{v:.0}%")
    }
}

/// "0.3% (0.1–0.9)": the share of runs ever failed with its 95% interval.
pub fn share_cell(k: usize, n: usize) -> String {
    let (lo, hi) = wilson(k, n);
    format!(
        "{} ({}–{})",
        pct(k as f64 / n.max(1) as f64),
        pct(lo).trim_end_matches('%'),
        pct(hi)
    )
}

/// The q-quantile (nearest rank) of polls to FAIL, a run never failed counting as infinitely
/// late; `None` when that quantile is a run that never failed.
pub fn quantile(first: &[Option<u16>], q: f64) -> Option<u16> {
    if first.is_empty() {
        return None;
    }
    let mut v: Vec<u16> = first.iter().map(|f| f.unwrap_or(u16::MAX)).collect();
    v.sort_unstable();
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    Some(v[rank - 1]).filter(|x| *x != u16::MAX)
}

/// "4 / 7": median and p90 of polls to FAIL, with the share never failed when there is one.
pub fn detection_cell(first: &[Option<u16>], polls: usize) -> String {
    let show = |q: Option<u16>| q.map_or_else(|| format!(">{polls}"), |p| p.to_string());
    let never = first.iter().filter(|f| f.is_none()).count();
    let tail = if never > 0 {
        format!(" ({} never)", pct(never as f64 / first.len() as f64))
    } else {
        String::new()
    };
    format!(
        "{} / {}{tail}",
        show(quantile(first, 0.5)),
        show(quantile(first, 0.9))
    )
}

/// Bucket probabilities of a log-normal latency (median, σ) for these upper bounds (last +Inf).
pub fn lognormal_buckets(bounds: &[f64], median: f64, sigma: f64) -> Vec<f64> {
    let mut prev = 0.0;
    bounds
        .iter()
        .map(|b| {
            let c = if b.is_finite() {
                normal_cdf((b.ln() - median.ln()) / sigma)
            } else {
                1.0
            };
            let p = (c - prev).max(0.0);
            prev = c;
            p
        })
        .collect()
}

/// KL(q ‖ p) in nats.
pub fn kl(q: &[f64], p: &[f64]) -> f64 {
    q.iter()
        .zip(p)
        .filter(|(q, _)| **q > 0.0)
        .map(|(q, p)| q * (q / p.max(1e-300)).ln())
        .sum()
}

pub fn bernoulli_kl(q: f64, p: f64) -> f64 {
    kl(&[q, 1.0 - q], &[p, 1.0 - p])
}

/// ln(1/α) / (KL per canary request × canary requests per poll): the fewest polls any test at
/// level α needs on average, knowing both distributions (Wald).
pub fn oracle_polls(kl_per_request: f64, canary_per_poll: f64, alpha: f64) -> f64 {
    (1.0 / alpha).ln() / (kl_per_request * canary_per_poll)
}
