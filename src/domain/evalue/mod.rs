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
//!
//! This file: the e-values and the projections; `stretch.rs` builds the stretch nulls' matrices.

mod stretch;

use stretch::apply_transposed;
pub use stretch::{Columns, apply, stretch};

/// EM iterations towards the projection per block (warm-started from the previous block's);
/// the `max f` correction keeps the e-value valid however far from converged.
const EM_ITERATIONS: usize = 12;

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
    use super::stretch::tests::close;
    use super::*;

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
