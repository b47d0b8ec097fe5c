//! The stretch nulls' matrices: latency buckets stretched by a factor (requests spread evenly
//! on a log scale within a bucket, or shaped by a reference distribution), as sparse columns of a
//! stochastic matrix, and applying them.

/// Sparse columns of a stochastic matrix: for each baseline category `j`, the canary categories
/// `k` its mass moves to, with their shares (summing to 1).
pub type Columns = Vec<Vec<(usize, f64)>>;

/// Share of the null kept unstretched, so no category has zero probability under a stretch
/// null (a request there would otherwise reject it on the model's edge effects alone).
const STRETCH_FLOOR: f64 = 0.002;

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
pub(super) fn apply_transposed(columns: &Columns, v: &[f64]) -> Vec<f64> {
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

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    const BOUNDS: [f64; 5] = [0.05, 0.1, 0.25, 0.5, f64::INFINITY];

    pub(in crate::domain::evalue) fn close(a: f64, b: f64, tol: f64) -> bool {
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
}
