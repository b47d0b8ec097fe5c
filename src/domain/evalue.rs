//! E-values for one block of request counts: the building block of the sequential judge.
//!
//! A block holds, per track, how many requests fell in each category (latency bucket, or
//! failed / ok) between two evaluation points. Given the block's totals `n_b` and `n_c`, and
//! requests independent of each other, the counts are multinomial. An e-value is a
//! non-negative statistic whose expectation under the null is at most 1; a running product of
//! e-values computed with *predictable* plug-ins (from earlier blocks only) is a test
//! supermartingale, so by Ville's inequality it ever reaches 1/α with probability at most α.
//!
//! Every null here is a *linear* family: the baseline draws from some distribution `p` (any
//! one, and a different one in every block, so shared load swings are fine) and the canary from
//! `A p` for a fixed matrix `A` (the identity for "the canary behaves like the baseline"; a
//! stretch of the latencies for "the canary is s times slower"). Against an alternative
//! `(q_b, q_c)` the e-value is the likelihood ratio to the null member `p*` closest to it (the
//! reverse information projection): `p*` maximises `w_b Σ q_b ln p + w_c Σ q_c ln (A p)` with
//! `w = n / (n_b + n_c)`. Then `f(p) = Σ_t w_t E_p[q_t / (A_t p*)]` is linear in `p` and
//! weighted AM–GM gives `E_p[block e-value] ≤ f(p)^n`; dividing by `max f` over the family
//! (1 at the exact optimum) keeps the e-value valid even where `p*` is only approximate.
//!
//! With `A = I` the projection is the pooled mixture `p0 = (n_c q_c + n_b q_b) / n` and
//! `ln E = Σ_k c_k ln(q_c,k / p0,k) + b_k ln(q_b,k / p0,k)`: Lindon & Malek's multinomial
//! construction, and `safestats`' 2×2 test with plug-ins, written for our blocks.

/// Sparse columns of a stochastic matrix: for each baseline category `j`, the canary categories
/// `k` its mass moves to, with their shares (summing to 1).
pub type Columns = Vec<Vec<(usize, f64)>>;

/// Share of the null kept unstretched, so no category has zero probability under a stretch
/// null (a request there would otherwise reject it on the model's edge effects alone).
const STRETCH_FLOOR: f64 = 0.002;
/// EM iterations towards the projection per block (warm-started from the previous block's);
/// the `max f` correction keeps the e-value valid however far from converged.
const EM_ITERATIONS: usize = 12;

/// The interval `[lo, hi]` in log-seconds each bucket's requests are spread over, for buckets
/// with a positive upper bound. The first bucket reaches down, and the `+Inf` bucket up, by the
/// width of their neighbour (a factor 2 when there is none). Buckets with a bound ≤ 0 get `None`
/// (their requests are not stretched).
fn log_spans(bounds: &[f64]) -> Vec<Option<(f64, f64)>> {
    let positive: Vec<f64> = bounds
        .iter()
        .copied()
        .filter(|b| b.is_finite() && *b > 0.0)
        .collect();
    let width = |a: Option<&f64>, b: Option<&f64>| match (a, b) {
        (Some(a), Some(b)) if *a > 0.0 && b > a => (b / a).ln(),
        _ => std::f64::consts::LN_2,
    };
    let first_width = width(positive.first(), positive.get(1));
    let last_width = width(
        positive.len().checked_sub(2).and_then(|i| positive.get(i)),
        positive.last(),
    );
    let mut previous: Option<f64> = None;
    bounds
        .iter()
        .map(|&b| {
            let span = if b.is_finite() {
                if b <= 0.0 {
                    None
                } else {
                    let hi = b.ln();
                    Some((previous.map_or(hi - first_width, f64::ln), hi))
                }
            } else {
                previous.map(|p| (p.ln(), p.ln() + last_width))
            };
            if b.is_finite() && b > 0.0 {
                previous = Some(b);
            }
            span
        })
        .collect()
}

/// A monotone (Fritsch–Carlson) interpolation of a cumulative distribution through points
/// `(x, y)`, flat outside them.
struct MonotoneCdf {
    x: Vec<f64>,
    y: Vec<f64>,
    slope: Vec<f64>,
}

impl MonotoneCdf {
    fn new(x: Vec<f64>, y: Vec<f64>) -> Self {
        let n = x.len();
        let secant: Vec<f64> = (1..n)
            .map(|i| {
                let dx = x[i] - x[i - 1];
                if dx > 0.0 {
                    (y[i] - y[i - 1]) / dx
                } else {
                    0.0
                }
            })
            .collect();
        let slope = (0..n)
            .map(
                |i| match (i.checked_sub(1).and_then(|j| secant.get(j)), secant.get(i)) {
                    (Some(a), Some(b)) if a * b > 0.0 => {
                        // Weighted harmonic mean (Fritsch–Butland): keeps the curve monotone.
                        let (h0, h1) = (x[i] - x[i - 1], x[i + 1] - x[i]);
                        let (w0, w1) = (2.0 * h1 + h0, h1 + 2.0 * h0);
                        (w0 + w1) / (w0 / a + w1 / b)
                    }
                    (Some(_), Some(_)) => 0.0,
                    (Some(a), None) | (None, Some(a)) => *a,
                    (None, None) => 0.0,
                },
            )
            .collect();
        Self { x, y, slope }
    }

    fn at(&self, v: f64) -> f64 {
        let (Some(&first), Some(&last)) = (self.x.first(), self.x.last()) else {
            return 0.0;
        };
        if v <= first {
            return self.y[0];
        }
        if v >= last {
            return self.y[self.y.len() - 1];
        }
        let i = self
            .x
            .partition_point(|x| *x <= v)
            .clamp(1, self.x.len() - 1);
        let (x0, x1, y0, y1) = (self.x[i - 1], self.x[i], self.y[i - 1], self.y[i]);
        let h = x1 - x0;
        if h <= 0.0 {
            return y1;
        }
        let t = (v - x0) / h;
        let (t2, t3) = (t * t, t * t * t);
        let value = (2.0 * t3 - 3.0 * t2 + 1.0) * y0
            + (t3 - 2.0 * t2 + t) * h * self.slope[i - 1]
            + (-2.0 * t3 + 3.0 * t2) * y1
            + (t3 - t2) * h * self.slope[i];
        value.clamp(y0.min(y1), y0.max(y1))
    }
}

/// What stretching every latency by `factor` does to bucket counts: column `j` says where bucket
/// `j`'s requests land. Within a bucket, latencies are taken as shaped like `reference`'s
/// cumulative distribution interpolated smoothly (and monotonically) on log-seconds through the
/// bucket bounds; without a reference, as spread evenly on a log scale. The matrix is linear in
/// the distribution it is applied to, which the e-values need. The canary's first positive
/// bucket takes everything below its bound, the `+Inf` bucket everything above the last finite
/// bound. `factor = 1` is the identity.
pub fn stretch(bounds: &[f64], factor: f64, reference: Option<&[f64]>) -> Columns {
    let spans = log_spans(bounds);
    if (factor - 1.0).abs() < 1e-12 || factor.is_nan() || factor <= 0.0 {
        return (0..bounds.len()).map(|j| vec![(j, 1.0)]).collect();
    }
    let shift = factor.ln();
    // The shape: a cumulative curve over the positive buckets' log spans.
    let shape = reference.filter(|r| r.len() == bounds.len()).map(|r| {
        let mut x = Vec::new();
        let mut y = Vec::new();
        let mut cumulative = 0.0;
        let total: f64 = spans
            .iter()
            .zip(r)
            .filter(|(s, _)| s.is_some())
            .map(|(_, p)| p.max(0.0))
            .sum();
        for (span, p) in spans.iter().zip(r) {
            if let Some((lo, hi)) = span {
                if x.is_empty() {
                    x.push(*lo);
                    y.push(0.0);
                }
                cumulative += p.max(0.0) / total.max(1e-300);
                x.push(*hi);
                y.push(cumulative.min(1.0));
            }
        }
        MonotoneCdf::new(x, y)
    });
    // Share of bucket j (span lo..hi) at or below log-latency v.
    let below = |lo: f64, hi: f64, v: f64| -> f64 {
        if v <= lo {
            return 0.0;
        }
        if v >= hi {
            return 1.0;
        }
        if let Some(shape) = &shape {
            let (a, b) = (shape.at(lo), shape.at(hi));
            if b - a > 1e-12 {
                return ((shape.at(v) - a) / (b - a)).clamp(0.0, 1.0);
            }
        }
        (v - lo) / (hi - lo)
    };
    // Canary bucket k's upper edge in log-seconds (the last is open).
    let first_positive = spans.iter().position(Option::is_some);
    let upper: Vec<f64> = spans
        .iter()
        .enumerate()
        .map(|(k, span)| match span {
            Some(_) if k + 1 == bounds.len() => f64::INFINITY,
            Some((_, hi)) => *hi,
            None => f64::NAN,
        })
        .collect();
    spans
        .iter()
        .enumerate()
        .map(|(j, span)| {
            let Some((lo, hi)) = span else {
                return vec![(j, 1.0)];
            };
            let mut column = Vec::new();
            let mut taken = 0.0;
            for (k, edge) in upper.iter().enumerate() {
                if edge.is_nan() || Some(k) < first_positive {
                    continue;
                }
                let share = (below(*lo, *hi, edge - shift) - taken).max(0.0);
                taken += share;
                if share > 0.0 {
                    column.push((k, share));
                }
            }
            // Mix a little identity in (see STRETCH_FLOOR), then renormalise against rounding.
            for (_, share) in &mut column {
                *share *= 1.0 - STRETCH_FLOOR;
            }
            match column.iter_mut().find(|(k, _)| *k == j) {
                Some((_, share)) => *share += STRETCH_FLOOR,
                None => column.push((j, STRETCH_FLOOR)),
            }
            let total: f64 = column.iter().map(|(_, s)| s).sum();
            column.iter_mut().for_each(|(_, s)| *s /= total);
            column
        })
        .collect()
}

/// `A p` for sparse columns `A`.
pub fn apply(columns: &Columns, p: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; p.len()];
    for (column, &pj) in columns.iter().zip(p) {
        for &(k, share) in column {
            if let Some(o) = out.get_mut(k) {
                *o += share * pj;
            }
        }
    }
    out
}

/// `Aᵀ v`.
fn apply_transposed(columns: &Columns, v: &[f64]) -> Vec<f64> {
    columns
        .iter()
        .map(|column| {
            column
                .iter()
                .map(|&(k, share)| share * v.get(k).copied().unwrap_or(0.0))
                .sum()
        })
        .collect()
}

/// `Σ count · ln(q / p)`, where a zero count contributes nothing (0 · ln x = 0).
fn log_ratio_sum(counts: &[f64], q: &[f64], p: &[f64]) -> f64 {
    counts
        .iter()
        .zip(q.iter().zip(p))
        .filter(|(n, _)| **n > 0.0)
        .map(|(n, (q, p))| n * (q / p).ln())
        .sum()
}

/// A null for `ln_e_categorical`: "canary = `columns` applied to the baseline's distribution",
/// with the last projection found, to start the next one from.
pub struct LinearNull<'a> {
    pub columns: &'a Columns,
    pub projection: &'a mut Vec<f64>,
}

/// ln of the block e-value against the null (`None`: "the same distribution"), for the
/// alternative baseline `q_b`, canary `q_c`. Counts are per category; `q_b` must be positive
/// wherever counts can fall.
pub fn ln_e_categorical(
    baseline: &[f64],
    canary: &[f64],
    q_b: &[f64],
    q_c: &[f64],
    null: Option<LinearNull>,
) -> f64 {
    let (n_b, n_c): (f64, f64) = (baseline.iter().sum(), canary.iter().sum());
    let n = n_b + n_c;
    if n <= 0.0 || n_c <= 0.0 {
        // Without canary requests the projection is q_b itself: no evidence either way.
        return 0.0;
    }
    let (w_b, w_c) = (n_b / n, n_c / n);
    let Some(LinearNull {
        columns: a,
        projection,
    }) = null
    else {
        let p0: Vec<f64> = q_b
            .iter()
            .zip(q_c)
            .map(|(b, c)| w_b * b + w_c * c)
            .collect();
        return log_ratio_sum(canary, q_c, &p0) + log_ratio_sum(baseline, q_b, &p0);
    };
    // EM for the projection: p_j ← w_b q_b,j + w_c p_j Σ_k q_c,k A_kj / (A p)_k.
    let ratio = |ap: &[f64]| -> Vec<f64> {
        q_c.iter()
            .zip(ap)
            .map(|(q, m)| if *m > 0.0 { q / m } else { 0.0 })
            .collect()
    };
    let mut p = if projection.len() == q_b.len() && projection.iter().all(|x| *x > 0.0) {
        // A start with no zero (EM never revives a zero): a pinch of q_b.
        projection
            .iter()
            .zip(q_b)
            .map(|(p, q)| 0.99 * p + 0.01 * q)
            .collect()
    } else {
        q_b.to_vec()
    };
    for _ in 0..EM_ITERATIONS {
        let pull = apply_transposed(a, &ratio(&apply(a, &p)));
        p = p
            .iter()
            .zip(q_b.iter().zip(&pull))
            .map(|(pj, (qb, t))| w_b * qb + w_c * pj * t)
            .collect();
    }
    let ap = apply(a, &p);
    let pull = apply_transposed(a, &ratio(&ap));
    projection.clone_from(&p);
    // max over the simplex of the linear f(p) = Σ_j p_j g_j.
    let worst = p
        .iter()
        .zip(q_b.iter().zip(&pull))
        .map(|(pj, (qb, t))| {
            let from_baseline = if *pj > 0.0 { w_b * qb / pj } else { 0.0 };
            from_baseline + w_c * t
        })
        .fold(1.0_f64, f64::max);
    log_ratio_sum(baseline, q_b, &p) + log_ratio_sum(canary, q_c, &ap) - n * worst.ln()
}

/// ln of the block e-value for error counts (`[failed, ok]` per track) against the null "the
/// canary's error ratio is `ratio` times the baseline's", for the alternative error ratios `pi_b`
/// (baseline) and `pi_c` (canary), both in (0, 1). `ratio = 1` is "the same error ratio".
pub fn ln_e_errors(baseline: [f64; 2], canary: [f64; 2], pi_b: f64, pi_c: f64, ratio: f64) -> f64 {
    let (n_b, n_c) = (baseline[0] + baseline[1], canary[0] + canary[1]);
    let n = n_b + n_c;
    if n <= 0.0 || n_c <= 0.0 || ratio.is_nan() || ratio <= 0.0 {
        return 0.0;
    }
    let (w_b, w_c) = (n_b / n, n_c / n);
    let q_b = [pi_b, 1.0 - pi_b];
    let q_c = [pi_c, 1.0 - pi_c];
    // The null member: baseline π, canary rπ, π in (0, min(1, 1/r)). Its log-likelihood against
    // the alternative is concave in π: bisect its derivative.
    let top = (1.0 / ratio).min(1.0);
    let failed = w_b * q_b[0] + w_c * q_c[0];
    let slope = |pi: f64| {
        failed / pi - w_b * q_b[1] / (1.0 - pi) - w_c * q_c[1] * ratio / (1.0 - ratio * pi)
    };
    let (mut lo, mut hi) = (0.0, top);
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if slope(mid) > 0.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let pi = 0.5 * (lo + hi);
    let null_b = [pi, 1.0 - pi];
    let null_c = [ratio * pi, 1.0 - ratio * pi];
    // f(π') = Σ_t w_t Σ_x P_π'(x) q_t(x) / P*_t(x) is linear in π': its max is at an end.
    let f = |at: f64| {
        w_b * (at * q_b[0] / null_b[0] + (1.0 - at) * q_b[1] / null_b[1])
            + w_c * (ratio * at * q_c[0] / null_c[0] + (1.0 - ratio * at) * q_c[1] / null_c[1])
    };
    let worst = f(0.0).max(f(top)).max(1.0);
    log_ratio_sum(&baseline, &q_b, &null_b) + log_ratio_sum(&canary, &q_c, &null_c) - n * worst.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUNDS: [f64; 5] = [0.05, 0.1, 0.25, 0.5, f64::INFINITY];

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn the_identity_stretch_changes_nothing_and_columns_sum_to_one() {
        let id = stretch(&BOUNDS, 1.0, None);
        for (j, column) in id.iter().enumerate() {
            assert_eq!(column, &vec![(j, 1.0)]);
        }
        for factor in [0.5, 0.9, 1.1, 1.5, 3.0] {
            for column in stretch(&BOUNDS, factor, None) {
                let total: f64 = column.iter().map(|(_, s)| s).sum();
                assert!(close(total, 1.0, 1e-12), "{factor}: {column:?}");
            }
        }
    }

    #[test]
    fn a_stretch_moves_mass_up_by_the_log_share_of_each_bucket() {
        // Bucket (0.1, 0.25] spans ln 2.5 ≈ 0.916 in log-seconds; ×1.1 moves ln 1.1 ≈ 0.0953 of
        // it past 0.25, a share of 0.104 (less the identity floor).
        let a = stretch(&BOUNDS, 1.1, None);
        let column = &a[2];
        let up = column
            .iter()
            .find(|(k, _)| *k == 3)
            .map_or(0.0, |(_, s)| *s);
        let expected = 1.1_f64.ln() / 2.5_f64.ln() * (1.0 - STRETCH_FLOOR);
        assert!(close(up, expected, 1e-12), "{column:?}");
        // The +Inf bucket keeps everything above the last finite bound.
        assert_eq!(a[4], vec![(4, 1.0)]);
        // A stretched distribution has a larger mean bucket index.
        let p = [0.2, 0.3, 0.3, 0.15, 0.05];
        let q = apply(&a, &p);
        let mean = |v: &[f64]| v.iter().enumerate().map(|(i, x)| i as f64 * x).sum::<f64>();
        assert!(mean(&q) > mean(&p));
    }

    #[test]
    fn a_shaped_stretch_predicts_a_slower_log_normal_on_coarse_buckets() {
        // Prometheus's default buckets, log-normal latency (median 80ms, σ 0.5) made 20% slower:
        // the smooth within-bucket shape predicts every bucket to within 3 points, and its
        // divergence from the truth is under a tenth of the change's.
        let bounds = [
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
        let probabilities = |median: f64| {
            let cdf = |x: f64| crate::domain::judge::normal_cdf((x / median).ln() / 0.5);
            let mut previous = 0.0;
            bounds
                .iter()
                .map(|b| {
                    let c = if b.is_finite() { cdf(*b) } else { 1.0 };
                    let p = c - previous;
                    previous = c;
                    p
                })
                .collect::<Vec<f64>>()
        };
        let (p, truth) = (probabilities(0.08), probabilities(0.096));
        let shaped = apply(&stretch(&bounds, 1.2, Some(&p)), &p);
        for (k, (got, want)) in shaped.iter().zip(&truth).enumerate() {
            assert!((got - want).abs() < 0.03, "bucket {k}: {got} vs {want}");
        }
        let kl = |q: &[f64], p: &[f64]| -> f64 {
            q.iter()
                .zip(p)
                .filter(|(q, _)| **q > 0.0)
                .map(|(q, p)| q * (q / p).ln())
                .sum()
        };
        assert!(kl(&truth, &shaped) < 0.1 * kl(&truth, &p));
        // Evenly spread on a log scale, the same stretch misses the tail bucket by 4 points.
        let even = apply(&stretch(&bounds, 1.2, None), &p);
        assert!(
            (even[6] - truth[6]).abs() > 0.03,
            "{} vs {}",
            even[6],
            truth[6]
        );
    }

    #[test]
    fn a_hand_computed_two_by_two_e_value() {
        // q_b = (0.5, 0.5), q_c = (0.8, 0.2); block b = (1, 1), c = (2, 0): w = 1/2 each, so
        // p0 = (0.65, 0.35) and ln E = 2 ln(0.8/0.65) + ln(0.5/0.65) + ln(0.5/0.35).
        let ln_e = ln_e_categorical(&[1.0, 1.0], &[2.0, 0.0], &[0.5, 0.5], &[0.8, 0.2], None);
        let expected = 2.0 * (0.8_f64 / 0.65).ln() + (0.5_f64 / 0.65).ln() + (0.5_f64 / 0.35).ln();
        assert!(close(ln_e, expected, 1e-12), "{ln_e} vs {expected}");
        // The errors form with ratio 1 is the same e-value.
        let errors = ln_e_errors([1.0, 1.0], [2.0, 0.0], 0.5, 0.8, 1.0);
        assert!(close(errors, expected, 1e-9), "{errors} vs {expected}");
        // No canary requests: no evidence.
        assert_eq!(
            ln_e_categorical(&[3.0, 1.0], &[0.0, 0.0], &[0.5, 0.5], &[0.8, 0.2], None),
            0.0
        );
    }

    /// P(multinomial(n, p) = x) for every x, by recursion over the categories.
    fn multinomial_outcomes(n: usize, p: &[f64]) -> Vec<(Vec<f64>, f64)> {
        fn go(
            n: usize,
            p: &[f64],
            prefix: &mut Vec<f64>,
            prob: f64,
            out: &mut Vec<(Vec<f64>, f64)>,
        ) {
            if p.len() == 1 {
                prefix.push(n as f64);
                out.push((prefix.clone(), prob * p[0].powi(n as i32)));
                prefix.pop();
                return;
            }
            let rest: f64 = p[1..].iter().sum();
            for k in 0..=n {
                // Binomial split of n between the first category and the rest.
                let mut choose = 1.0;
                for i in 0..k {
                    choose *= (n - i) as f64 / (i + 1) as f64;
                }
                let share = if rest > 0.0 {
                    choose * p[0].powi(k as i32) * rest.powi((n - k) as i32)
                } else if k == n {
                    p[0].powi(n as i32)
                } else {
                    0.0
                };
                if share == 0.0 {
                    continue;
                }
                let inner: Vec<f64> = if rest > 0.0 {
                    p[1..].iter().map(|x| x / rest).collect()
                } else {
                    p[1..].to_vec()
                };
                prefix.push(k as f64);
                go(n - k, &inner, prefix, prob * share, out);
                prefix.pop();
            }
        }
        let mut out = Vec::new();
        go(n, p, &mut Vec::new(), 1.0, &mut out);
        out
    }

    /// E[e-value] under a null member, by exact enumeration of both tracks' multinomials.
    fn expectation(
        n_b: usize,
        n_c: usize,
        p_b: &[f64],
        p_c: &[f64],
        e: impl Fn(&[f64], &[f64]) -> f64,
    ) -> f64 {
        let mut total = 0.0;
        for (b, pb) in multinomial_outcomes(n_b, p_b) {
            for (c, pc) in multinomial_outcomes(n_c, p_c) {
                total += pb * pc * e(&b, &c).exp();
            }
        }
        total
    }

    #[test]
    fn the_same_distribution_null_is_valid_by_exact_enumeration() {
        let q_b = [0.5, 0.3, 0.2];
        let q_c = [0.2, 0.3, 0.5];
        for p in [
            [0.5, 0.3, 0.2],
            [0.1, 0.1, 0.8],
            [0.34, 0.33, 0.33],
            [0.9, 0.05, 0.05],
        ] {
            for (n_b, n_c) in [(6, 2), (3, 3), (1, 5), (8, 1)] {
                let mean = expectation(n_b, n_c, &p, &p, |b, c| {
                    ln_e_categorical(b, c, &q_b, &q_c, None)
                });
                assert!(mean <= 1.0 + 1e-9, "p {p:?} n {n_b}/{n_c}: E[E] = {mean}");
            }
        }
    }

    #[test]
    fn a_stretch_null_is_valid_by_exact_enumeration() {
        // Null: canary = A p for the ×1.3 stretch (evenly spread, or shaped by a reference);
        // alternative: no slowdown. Any p must do.
        let bounds = [0.1, 0.2, 0.4, f64::INFINITY];
        let q_b = [0.4, 0.3, 0.2, 0.1];
        for reference in [None, Some(&[0.1, 0.5, 0.3, 0.1][..])] {
            let a = stretch(&bounds, 1.3, reference);
            for p in [
                [0.4, 0.3, 0.2, 0.1],
                [0.05, 0.05, 0.1, 0.8],
                [0.7, 0.1, 0.1, 0.1],
            ] {
                let p_c = apply(&a, &p);
                for (n_b, n_c) in [(4, 2), (2, 3), (5, 1)] {
                    let mean = expectation(n_b, n_c, &p, &p_c, |b, c| {
                        let mut projection = Vec::new();
                        let null = LinearNull {
                            columns: &a,
                            projection: &mut projection,
                        };
                        ln_e_categorical(b, c, &q_b, &q_b, Some(null))
                    });
                    assert!(mean <= 1.0 + 1e-9, "p {p:?} n {n_b}/{n_c}: E[E] = {mean}");
                }
            }
        }
    }

    #[test]
    fn an_error_ratio_null_is_valid_by_exact_enumeration() {
        for ratio in [0.5, 1.0, 1.5, 3.0] {
            for (pi_b, pi_c) in [(0.1, 0.3), (0.2, 0.05), (0.05, 0.05)] {
                for pi in [0.01, 0.1, 0.3] {
                    if ratio * pi >= 1.0 {
                        continue;
                    }
                    for (n_b, n_c) in [(10, 3), (4, 6), (1, 9)] {
                        let mean = expectation(
                            n_b,
                            n_c,
                            &[pi, 1.0 - pi],
                            &[ratio * pi, 1.0 - ratio * pi],
                            |b, c| ln_e_errors([b[0], b[1]], [c[0], c[1]], pi_b, pi_c, ratio),
                        );
                        assert!(
                            mean <= 1.0 + 1e-9,
                            "r {ratio} π {pi} alt {pi_b}/{pi_c} n {n_b}/{n_c}: {mean}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn evidence_grows_when_the_alternative_is_true() {
        // Canary errors at 2× the baseline's: evidence against "the same ratio".
        let b = [50.0, 950.0];
        let doubled = [10.0, 90.0];
        assert!(ln_e_errors(b, doubled, 0.05, 0.10, 1.0) > 1.0);
        // The same ratio: evidence against "2×", and none for it against "the same".
        let same = [5.0, 95.0];
        assert!(ln_e_errors(b, same, 0.05, 0.05, 2.0) > 1.0);
        assert!(ln_e_errors(b, same, 0.05, 0.10, 1.0) < 0.0);
    }
}
