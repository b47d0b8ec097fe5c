//! Latency histograms as Prometheus keeps them: cumulative bucket counts with upper bounds.

/// Upper bounds in seconds, fine where the demo's latencies live; `+Inf` is implied after the last.
pub const BUCKETS: [f64; 24] = [
    0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.125, 0.15, 0.175, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5,
    0.6, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0,
];
/// Per-bucket (not cumulative) counts: one slot per finite bound, plus the `+Inf` overflow.
pub const SLOTS: usize = BUCKETS.len() + 1;

/// The standard normal CDF (Abramowitz & Stegun 7.1.26 erf, |error| < 1.5e-7).
pub fn normal_cdf(z: f64) -> f64 {
    let x = z.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-x * x).exp();
    if z >= 0.0 {
        0.5 * (1.0 + erf)
    } else {
        0.5 * (1.0 - erf)
    }
}

/// Probability mass of each slot for a log-normal latency with this median and shape.
pub fn lognormal_slot_probabilities(median: f64, sigma: f64) -> [f64; SLOTS] {
    let mu = median.ln();
    let mut out = [0.0; SLOTS];
    let mut prev = 0.0;
    for (i, bound) in BUCKETS.iter().enumerate() {
        let cdf = normal_cdf((bound.ln() - mu) / sigma);
        out[i] = (cdf - prev).max(0.0);
        prev = cdf;
    }
    out[SLOTS - 1] = (1.0 - prev).max(0.0);
    out
}

/// `histogram_quantile` as Prometheus computes it: linear interpolation inside the bucket that
/// holds the rank; a rank in the `+Inf` bucket returns the highest finite bound. NaN when empty.
pub fn quantile(q: f64, slots: &[u64; SLOTS]) -> f64 {
    let total: u64 = slots.iter().sum();
    if total == 0 {
        return f64::NAN;
    }
    let rank = q * total as f64;
    let mut cumulative = 0u64;
    for (i, count) in slots.iter().enumerate() {
        let before = cumulative;
        cumulative += count;
        if (cumulative as f64) >= rank {
            if i == SLOTS - 1 {
                return BUCKETS[BUCKETS.len() - 1];
            }
            let lower = if i == 0 { 0.0 } else { BUCKETS[i - 1] };
            let upper = BUCKETS[i];
            if *count == 0 {
                return upper;
            }
            return lower + (upper - lower) * (rank - before as f64) / *count as f64;
        }
    }
    BUCKETS[BUCKETS.len() - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_cdf_reference_points() {
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_cdf(1.644_853_6) - 0.95).abs() < 1e-6);
        assert!((normal_cdf(-2.326_347_9) - 0.01).abs() < 1e-6);
    }

    #[test]
    fn probabilities_sum_to_one() {
        let p = lognormal_slot_probabilities(0.08, 0.5);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    }

    #[test]
    fn quantile_interpolates_like_prometheus() {
        let mut slots = [0u64; SLOTS];
        slots[0] = 50; // (0, 5ms]
        slots[1] = 50; // (5ms, 10ms]
        assert!((quantile(0.5, &slots) - 0.005).abs() < 1e-12);
        assert!((quantile(0.75, &slots) - 0.0075).abs() < 1e-12);
        assert!(quantile(0.5, &[0; SLOTS]).is_nan());
        let mut overflow = [0u64; SLOTS];
        overflow[SLOTS - 1] = 10;
        assert_eq!(quantile(0.99, &overflow), 10.0);
    }
}
