//! The statistics under the Mann–Whitney judge, with nothing about judging: the Mann–Whitney U
//! test, the Hodges–Lehmann shift and its Moses interval, and the standard normal distribution
//! (erfc, CDF, quantile) their normal approximations need.

use serde::Serialize;

/// The Mann–Whitney U test of x (canary) against y (baseline).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MannWhitney {
    /// U of x: the number of pairs with x > y, ties counting a half (SciPy's `statistic`).
    pub u: f64,
    /// Continuity-corrected, tie-corrected z; positive when x tends to be larger.
    pub z: f64,
    /// Two-sided p-value from `z`.
    pub p_value: f64,
}

pub(super) fn finite(values: &[f64]) -> Vec<f64> {
    values.iter().copied().filter(|v| v.is_finite()).collect()
}

pub(super) fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// Mann–Whitney U of x against y, two-sided p by the normal approximation with tie and continuity
/// corrections: SciPy's `mannwhitneyu(x, y, method="asymptotic", use_continuity=True)`, R's
/// `wilcox.test(x, y, exact=FALSE, correct=TRUE)`. Non-finite values are dropped; `None` when a
/// side is left empty. When every value is tied there is no evidence either way: z = 0, p = 1.
pub fn mann_whitney(x: &[f64], y: &[f64]) -> Option<MannWhitney> {
    let (x, y) = (finite(x), finite(y));
    if x.is_empty() || y.is_empty() {
        return None;
    }
    let (n1, n2) = (x.len() as f64, y.len() as f64);
    let mut pooled: Vec<(f64, bool)> = x
        .iter()
        .map(|&v| (v, true))
        .chain(y.iter().map(|&v| (v, false)))
        .collect();
    pooled.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (mut rank_sum_x, mut tie_term) = (0.0, 0.0);
    let mut i = 0;
    while i < pooled.len() {
        // `==` (not total_cmp) so that -0.0 and 0.0 tie, as they do in SciPy and R.
        let j = i + pooled[i..]
            .iter()
            .take_while(|p| p.0 == pooled[i].0)
            .count();
        let t = (j - i) as f64;
        let midrank = (i + 1 + j) as f64 / 2.0;
        let from_x = pooled[i..j].iter().filter(|p| p.1).count() as f64;
        rank_sum_x += midrank * from_x;
        tie_term += t * t * t - t;
        i = j;
    }
    let u = rank_sum_x - n1 * (n1 + 1.0) / 2.0;
    let n = n1 + n2;
    let variance = n1 * n2 / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)));
    let d = u - n1 * n2 / 2.0;
    if variance <= 0.0 || d == 0.0 {
        return Some(MannWhitney {
            u,
            z: 0.0,
            p_value: 1.0,
        });
    }
    // Continuity correction towards the mean, as R does (sign(d) · 0.5); |d| ≥ 0.5 here, so z never
    // flips sign.
    let z = (d - 0.5 * d.signum()) / variance.sqrt();
    let p_value = erfc(z.abs() / std::f64::consts::SQRT_2).min(1.0);
    Some(MannWhitney { u, z, p_value })
}

/// The Hodges–Lehmann shift of x against y (the median of all x_i − y_j) and its confidence
/// interval, as `(low, estimate, high)`.
///
/// The interval is Moses' order-statistic interval with the normal approximation: with the
/// differences sorted, k = floor(n·m/2 − z·sqrt(n·m(n+m+1)/12)), z = Φ⁻¹((1+confidence)/2), the
/// interval is [D₍ₖ₎, D₍ₙₘ₊₁₋ₖ₎] (1-based). It is what R's exact interval does with the exact
/// quantile in place of the normal one. R's `exact=FALSE` interval instead root-finds the tie- and
/// continuity-corrected z over the shift, which lands near, not always on, the same differences;
/// the order-statistic form was chosen because it is reproducible exactly (tested against numpy).
/// When k < 1 the samples are too small to bound the shift at this confidence and the bounds are
/// infinite.
///
/// `None` when a side has no finite value or the confidence is not in (0, 1). Memory is O(n+m):
/// order statistics are selected without materialising the n·m differences.
pub fn hodges_lehmann(x: &[f64], y: &[f64], confidence: f64) -> Option<(f64, f64, f64)> {
    if !(confidence > 0.0 && confidence < 1.0) {
        return None;
    }
    let (mut x, mut y) = (finite(x), finite(y));
    if x.is_empty() || y.is_empty() {
        return None;
    }
    x.sort_by(f64::total_cmp);
    y.sort_by(f64::total_cmp);
    let nm = x.len() * y.len();
    let kth = |k: usize| kth_difference(&x, &y, k);
    let estimate = if nm % 2 == 1 {
        kth(nm / 2 + 1)
    } else {
        (kth(nm / 2) + kth(nm / 2 + 1)) / 2.0
    };
    let (n, m) = (x.len() as f64, y.len() as f64);
    let z = normal_quantile((1.0 + confidence) / 2.0);
    let k = (n * m / 2.0 - z * (n * m * (n + m + 1.0) / 12.0).sqrt()).floor();
    if k < 1.0 {
        return Some((f64::NEG_INFINITY, estimate, f64::INFINITY));
    }
    let k = k as usize;
    Some((kth(k), estimate, kth(nm + 1 - k)))
}

/// A key whose unsigned order is `f64::total_cmp`'s order.
fn order_key(v: f64) -> u64 {
    let bits = v.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    }
}

fn from_order_key(key: u64) -> f64 {
    f64::from_bits(if key >> 63 == 1 {
        key & !(1 << 63)
    } else {
        !key
    })
}

/// The k-th smallest (1-based) of the rounded differences x_i − y_j, both sides sorted ascending.
/// Rounding is monotone, so for a threshold t the pairs with x_i − y_j ≤ t are counted in O(n+m)
/// with two pointers; bisecting t over the 2⁶⁴ ordered doubles takes at most 64 counts and lands
/// exactly on a difference.
fn kth_difference(x: &[f64], y: &[f64], k: usize) -> f64 {
    let count_le = |t: f64| -> usize {
        let mut j = 0;
        let mut count = 0;
        for &xi in x {
            // For a larger x_i the differences only grow, so j never moves back.
            while j < y.len() && xi - y[j] > t {
                j += 1;
            }
            count += y.len() - j;
        }
        count
    };
    let (Some(&x_lo), Some(&x_hi), Some(&y_lo), Some(&y_hi)) =
        (x.first(), x.last(), y.first(), y.last())
    else {
        return f64::NAN;
    };
    let (mut lo, mut hi) = (order_key(x_lo - y_hi), order_key(x_hi - y_lo));
    // Invariant: count_le(hi) ≥ k; find the smallest such key.
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if count_le(from_order_key(mid)) >= k {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    // The bisection may stop on -0.0 where the difference is +0.0; `+ 0.0` normalises it.
    from_order_key(hi) + 0.0
}

/// The complementary error function, to about 1e-15 relative over the range p-values need: a
/// positive-term series for erf below 2.5 (no cancellation), Lentz's continued fraction above.
pub fn erfc(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x < 0.0 {
        return 2.0 - erfc(-x);
    }
    if x < 2.5 {
        // erf(x) = 2/√π · e^(−x²) · Σ 2ⁿ x^(2n+1) / (1·3·…·(2n+1))
        let x2 = x * x;
        let (mut term, mut sum) = (x, x);
        let mut k = 0.0;
        while term > sum * 1e-17 {
            k += 1.0;
            term *= 2.0 * x2 / (2.0 * k + 1.0);
            sum += term;
        }
        return 1.0 - 2.0 / std::f64::consts::PI.sqrt() * (-x2).exp() * sum;
    }
    // erfc(x) = e^(−x²)/√π · 1/(x + (1/2)/(x + (2/2)/(x + (3/2)/(x + …))))
    let tiny = 1e-300;
    let (mut f, mut c, mut d) = (x, x, 0.0);
    for j in 1..500 {
        let a = f64::from(j) / 2.0;
        d = x + a * d;
        if d == 0.0 {
            d = tiny;
        }
        c = x + a / c;
        if c == 0.0 {
            c = tiny;
        }
        d = 1.0 / d;
        let delta = c * d;
        f *= delta;
        if (delta - 1.0).abs() < 1e-16 {
            break;
        }
    }
    (-x * x).exp() / std::f64::consts::PI.sqrt() / f
}

/// The standard normal CDF, accurate in both tails (via `erfc`).
pub fn normal_cdf(z: f64) -> f64 {
    0.5 * erfc(-z / std::f64::consts::SQRT_2)
}

/// The standard normal quantile: Wichura's AS 241 (PPND16), about 1e-16 relative.
pub fn normal_quantile(p: f64) -> f64 {
    if p.is_nan() {
        return f64::NAN;
    }
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    fn poly(c: &[f64; 8], x: f64) -> f64 {
        c.iter().rev().fold(0.0, |acc, &k| acc * x + k)
    }
    const A: [f64; 8] = [
        3.3871328727963665,
        133.14166789178438,
        1971.5909503065513,
        13731.69376550946,
        45921.95393154987,
        67265.7709270087,
        33430.57558358813,
        2509.0809287301227,
    ];
    const B: [f64; 8] = [
        1.0,
        42.31333070160091,
        687.1870074920579,
        5394.196021424751,
        21213.794301586597,
        39307.89580009271,
        28729.085735721943,
        5226.495278852854,
    ];
    const C: [f64; 8] = [
        1.4234371107496835,
        4.630337846156546,
        5.769497221460691,
        3.6478483247632045,
        1.2704582524523684,
        0.2417807251774506,
        0.022723844989269184,
        0.0007745450142783414,
    ];
    const D: [f64; 8] = [
        1.0,
        2.053191626637759,
        1.6763848301838038,
        0.6897673349851,
        0.14810397642748008,
        0.015198666563616457,
        0.0005475938084995345,
        1.0507500716444169e-9,
    ];
    const E: [f64; 8] = [
        6.657904643501103,
        5.463784911164114,
        1.7848265399172913,
        0.29656057182850487,
        0.026532189526576124,
        0.0012426609473880784,
        2.7115555687434876e-5,
        2.0103343992922881e-7,
    ];
    const F: [f64; 8] = [
        1.0,
        0.599832206555888,
        0.1369298809227358,
        0.014875361290850615,
        0.0007868691311456133,
        1.8463183175100548e-5,
        1.421511758316446e-7,
        2.0442631033899397e-15,
    ];
    let q = p - 0.5;
    if q.abs() <= 0.425 {
        let r = 0.180_625 - q * q;
        return q * poly(&A, r) / poly(&B, r);
    }
    let r = (-(if q < 0.0 { p } else { 1.0 - p }).ln()).sqrt();
    let value = if r <= 5.0 {
        poly(&C, r - 1.6) / poly(&D, r - 1.6)
    } else {
        poly(&E, r - 5.0) / poly(&F, r - 5.0)
    };
    if q < 0.0 { -value } else { value }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::judge::{Classification, JudgeSettings, classify};
    use crate::domain::series::Unit;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use rand_distr::{Distribution, Normal};

    fn close(actual: f64, expected: f64, rel: f64) -> bool {
        (actual - expected).abs() <= rel * expected.abs().max(1e-300)
    }

    macro_rules! assert_close {
        ($actual:expr, $expected:expr, $rel:expr) => {{
            let (a, e) = ($actual, $expected);
            assert!(close(a, e, $rel), "{a:e} vs expected {e:e}");
        }};
    }

    const TIES_X: [f64; 8] = [1.2, 3.4, 3.4, 5.0, 2.2, 7.1, 3.4, 9.9];
    const TIES_Y: [f64; 11] = [0.5, 2.2, 3.4, 1.1, 2.2, 4.0, 0.9, 1.5, 3.0, 2.5, 1.8];

    /// Latency-like values: numpy default_rng(7), lognormal(log(0.18), 0.1, 20) and
    /// lognormal(log(0.19), 0.1, 25), rounded to 3 decimals (so with ties).
    const LAT_A: [f64; 20] = [
        0.18, 0.185, 0.175, 0.165, 0.172, 0.163, 0.181, 0.206, 0.171, 0.169, 0.189, 0.187, 0.182,
        0.164, 0.179, 0.193, 0.157, 0.172, 0.149, 0.158,
    ];
    const LAT_B: [f64; 25] = [
        0.158, 0.186, 0.167, 0.195, 0.193, 0.186, 0.148, 0.18, 0.189, 0.192, 0.163, 0.181, 0.172,
        0.175, 0.211, 0.175, 0.189, 0.208, 0.179, 0.188, 0.192, 0.191, 0.168, 0.191, 0.218,
    ];

    /// Python: x = [((i*37 + 11) % 53) * 0.5 for i in range(120)],
    /// y = [((j*29 + 5) % 47) * 0.5 + 1.0 for j in range(90)]: many ties, unequal sizes.
    fn big() -> (Vec<f64>, Vec<f64>) {
        (
            (0..120)
                .map(|i| ((i * 37 + 11) % 53) as f64 * 0.5)
                .collect(),
            (0..90)
                .map(|j| ((j * 29 + 5) % 47) as f64 * 0.5 + 1.0)
                .collect(),
        )
    }

    // References: scipy 1.17.1, numpy 2.4.6.
    // U, p: r = scipy.stats.mannwhitneyu(x, y, method="asymptotic", use_continuity=True);
    //       r.statistic, r.pvalue
    // |z|:  scipy.stats.norm.isf(r.pvalue / 2)
    #[test]
    fn mann_whitney_matches_scipy_with_ties_and_unequal_sizes() {
        let r = mann_whitney(&TIES_X, &TIES_Y).expect("data");
        assert_eq!(r.u, 70.5);
        assert_close!(r.p_value, 0.030_758_381_137_159_33, 1e-12);
        assert_close!(r.z, 2.160_184_609_151_732, 1e-12);

        let r = mann_whitney(&LAT_B, &LAT_A).expect("data");
        assert_eq!(r.u, 339.0);
        assert_close!(r.p_value, 0.043_085_297_940_655_715, 1e-12);

        let (x, y) = big();
        let r = mann_whitney(&x, &y).expect("data");
        assert_eq!(r.u, 5597.5);
        assert_close!(r.p_value, 0.651_158_702_742_309_8, 1e-12);
        assert_close!(r.z, 0.452_153_085_686_083_2, 1e-11);

        // Swapping the sides mirrors U and z, keeps p.
        let s = mann_whitney(&TIES_Y, &TIES_X).expect("data");
        assert_eq!(s.u, 8.0 * 11.0 - 70.5);
        assert_close!(s.z, -2.160_184_609_151_732, 1e-12);
        assert_close!(s.p_value, 0.030_758_381_137_159_33, 1e-12);
    }

    #[test]
    fn mann_whitney_edge_cases() {
        // mannwhitneyu([1,2,3], [1,2,3], ...) → U=4.5, p=1.0
        let r = mann_whitney(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0]).expect("data");
        assert_eq!((r.u, r.z, r.p_value), (4.5, 0.0, 1.0));
        let r = mann_whitney(&[2.0; 4], &[2.0; 3]).expect("data");
        assert_eq!((r.z, r.p_value), (0.0, 1.0), "all tied: no evidence");
        assert!(mann_whitney(&[], &[1.0]).is_none());
        assert!(mann_whitney(&[f64::NAN, f64::INFINITY], &[1.0]).is_none());
        let with_nan = mann_whitney(&[1.2, f64::NAN, 3.4, 3.4, 5.0, 2.2, 7.1, 3.4, 9.9], &TIES_Y);
        assert_eq!(with_nan, mann_whitney(&TIES_X, &TIES_Y), "NaN is dropped");
    }

    // statrs 0.19.1's exact Mann–Whitney gives p = 1.0 here; the exact p is 0.0079
    // (mannwhitneyu(x, y, method="exact").pvalue = 0.007936507936507936). We use
    // mannwhitneyu(x, y, method="asymptotic", use_continuity=True).pvalue = 0.012185780355344813,
    // and refuse to judge 5-point samples at all under the default min_samples.
    #[test]
    fn regression_small_samples_are_not_p_equals_one() {
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        let y = [10.0, 20.0, 30.0, 40.0, 50.0];
        let r = mann_whitney(&x, &y).expect("data");
        assert_eq!(r.u, 0.0);
        assert_close!(r.p_value, 0.012_185_780_355_344_813, 1e-12);
        assert_close!(r.z, -2.506_718_245_762_048_7, 1e-12);
        assert!(r.p_value < 0.05);
        let judged = classify(&y, &x, &JudgeSettings::default(), Unit::None);
        assert_eq!(judged.classification, Classification::NoData);
        assert!(
            judged.reason.contains("baseline has 5 and canary 5")
                && judged.reason.contains("10 needed"),
            "{}",
            judged.reason
        );
    }

    // Moses interval, numpy:
    //   d = np.sort(np.subtract.outer(x, y).ravel()); n, m = len(x), len(y)
    //   z = scipy.stats.norm.ppf((1 + conf) / 2)
    //   k = math.floor(n*m/2 - z*math.sqrt(n*m*(n+m+1)/12))
    //   (d[k-1], np.median(d), d[n*m-k])
    #[test]
    fn hodges_lehmann_matches_numpy_moses_interval() {
        // conf 0.95: k = 20 → (0.0, 1.6500000000000001, 4.5)
        let (lo, est, hi) = hodges_lehmann(&TIES_X, &TIES_Y, 0.95).expect("data");
        assert_eq!((lo, est, hi), (0.0, 1.650_000_000_000_000_1, 4.5));
        // conf 0.98: k = 15 → (-0.2999999999999998, 1.6500000000000001, 5.6)
        let r = hodges_lehmann(&TIES_X, &TIES_Y, 0.98).expect("data");
        assert_eq!(r, (-0.299_999_999_999_999_8, 1.650_000_000_000_000_1, 5.6));
        // x = LAT_B, y = LAT_A, conf 0.98: k = 148
        let r = hodges_lehmann(&LAT_B, &LAT_A, 0.98).expect("data");
        assert_eq!(
            r,
            (
                -0.001_000_000_000_000_000_9,
                0.009_000_000_000_000_008,
                0.020_000_000_000_000_018
            )
        );
        // conf 0.90: k = 177
        let r = hodges_lehmann(&LAT_B, &LAT_A, 0.90).expect("data");
        assert_eq!(
            r,
            (
                0.002_000_000_000_000_001_8,
                0.009_000_000_000_000_008,
                0.016_999_999_999_999_987
            )
        );
        // big(), conf 0.98: k = 4386 → (-2.0, 0.5, 3.0)
        let (x, y) = big();
        assert_eq!(hodges_lehmann(&x, &y, 0.98), Some((-2.0, 0.5, 3.0)));
        // 1..5 vs 10..50, conf 0.98: k = 1 → (-49.0, -27.0, -5.0)
        let r = hodges_lehmann(
            &[1.0, 2.0, 3.0, 4.0, 5.0],
            &[10.0, 20.0, 30.0, 40.0, 50.0],
            0.98,
        );
        assert_eq!(r, Some((-49.0, -27.0, -5.0)));
    }

    #[test]
    fn hodges_lehmann_edges() {
        // k < 1: too few points to bound the shift.
        let (lo, est, hi) = hodges_lehmann(&[1.0, 2.0], &[3.0], 0.98).expect("data");
        assert_eq!((lo, est, hi), (f64::NEG_INFINITY, -1.5, f64::INFINITY));
        assert!(hodges_lehmann(&[1.0], &[], 0.98).is_none());
        assert!(hodges_lehmann(&[1.0], &[1.0], 1.0).is_none());
        assert!(hodges_lehmann(&[1.0], &[1.0], f64::NAN).is_none());
        let (_, est, _) = hodges_lehmann(&[1.0, 2.0], &[1.0, 2.0], 0.5).expect("data");
        assert!(est == 0.0 && est.is_sign_positive(), "{est}");
    }

    #[test]
    fn order_statistics_match_sorting_every_difference() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let noise = Normal::new(0.0, 3.0).expect("valid");
        for round in 0..20 {
            let n = 1 + round % 7;
            let m = 1 + (round * 3) % 11;
            // Rounded to halves for ties; include negatives and zeros.
            let mut x: Vec<f64> = (0..n)
                .map(|_| (noise.sample(&mut rng) * 2.0_f64).round() / 2.0)
                .collect();
            let mut y: Vec<f64> = (0..m)
                .map(|_| (noise.sample(&mut rng) * 2.0_f64).round() / 2.0 + 0.1)
                .collect();
            x.sort_by(f64::total_cmp);
            y.sort_by(f64::total_cmp);
            let mut all: Vec<f64> = x
                .iter()
                .flat_map(|a| y.iter().map(move |b| a - b))
                .collect();
            all.sort_by(f64::total_cmp);
            for (k, expected) in all.iter().enumerate() {
                assert_eq!(kth_difference(&x, &y, k + 1), *expected, "k={}", k + 1);
            }
        }
    }

    // scipy.special.erfc(v) for v in [0.1, 0.5, 1.0, 2.0, 2.49, 2.51, 3.0, 5.0, 10.0, 26.0]
    #[test]
    fn erfc_matches_scipy() {
        let cases = [
            (0.1, 0.887_537_083_981_715_2),
            (0.5, 0.479_500_122_186_953_5),
            (1.0, 0.157_299_207_050_285_16),
            (2.0, 0.004_677_734_981_047_266),
            (2.49, 0.000_429_287_867_733_913_03),
            (2.51, 0.000_385_705_481_724_279_9),
            (3.0, 2.209_049_699_858_544_5e-5),
            (5.0, 1.537_459_794_428_034_7e-12),
            (10.0, 2.088_487_583_762_544_6e-45),
            (26.0, 5.663_192_408_856_145e-296),
        ];
        for (x, expected) in cases {
            let rel = if x < 2.5 { 1e-12 } else { 1e-14 };
            assert_close!(erfc(x), expected, rel);
            assert_close!(erfc(-x), 2.0 - expected, 1e-15);
        }
        assert_eq!(erfc(0.0), 1.0);
        assert_close!(normal_cdf(-1.959_963_984_540_054), 0.025, 1e-13);
    }

    // scipy.stats.norm.ppf(p) for p in [1e-300, 1e-20, 0.001, 0.01, 0.025, 0.3, 0.5, 0.9,
    //                                   0.975, 0.99, 0.995, 1-1e-12]
    #[test]
    fn normal_quantile_matches_scipy() {
        let cases = [
            (1e-300, -37.047_096_299_361_2),
            (1e-20, -9.262_340_089_798_409),
            (0.001, -3.090_232_306_167_813),
            (0.01, -2.326_347_874_040_840_8),
            (0.025, -1.959_963_984_540_054_5),
            (0.3, -0.524_400_512_708_040_9),
            (0.9, 1.281_551_565_544_600_4),
            (0.975, 1.959_963_984_540_054),
            (0.99, 2.326_347_874_040_840_8),
            (0.995, 2.575_829_303_548_900_4),
            (1.0 - 1e-12, 7.034_486_910_047_835_6),
        ];
        for (p, expected) in cases {
            assert_close!(normal_quantile(p), expected, 1e-14);
        }
        assert_eq!(normal_quantile(0.5), 0.0);
        assert_eq!(normal_quantile(0.0), f64::NEG_INFINITY);
        assert_eq!(normal_quantile(1.0), f64::INFINITY);
    }
}
