//! Latency blocks: the buckets stretched by each factor with the baseline's shape (rebuilt as
//! the baseline grows), one block's bets for the FAIL test and for the range, and the factor that
//! fits the canary best.

use super::hypotheses::{Alternative, Block, Hypothesis};
use crate::domain::evalue::{Columns, LinearNull, apply, ln_e_categorical, stretch};

/// Rebuild the latency stretches with the baseline's shape once it has this much more data.
const RESHAPE_GROWTH: f64 = 1.25;

/// The latency stretches and the baseline data they were shaped with.
pub(super) struct Shapes {
    shaped_at: f64,
    /// The stretches to the tolerated change: `(up, down)`.
    floor_columns: (Columns, Columns),
}

impl Shapes {
    pub(super) fn new() -> Self {
        Self {
            shaped_at: -1.0,
            floor_columns: (Vec::new(), Vec::new()),
        }
    }

    /// Within-bucket shapes from the baseline so far (`seen` requests, plug-in `p_b`): predictable,
    /// so still valid. Rebuilt only once the baseline has grown enough.
    pub(super) fn reshape(
        &mut self,
        bounds: &[f64],
        seen: f64,
        p_b: &[f64],
        hypotheses: (&mut [Alternative], &mut [Hypothesis]),
        (floor_up, floor_down): (f64, f64),
    ) {
        if !(self.shaped_at < 0.0 || seen > self.shaped_at * RESHAPE_GROWTH + 100.0) {
            return;
        }
        let (fail, nulls) = hypotheses;
        self.shaped_at = seen;
        for h in fail
            .iter_mut()
            .map(|a| &mut a.shape)
            .chain(nulls.iter_mut())
        {
            h.columns = Some(stretch(bounds, h.factor, Some(p_b)));
        }
        self.floor_columns = (
            stretch(bounds, floor_up, Some(p_b)),
            stretch(bounds, floor_down, Some(p_b)),
        );
    }

    /// One block's bets: each FAIL alternative against "no change" and against the tolerated
    /// change on its side; each factor of the range (in the current step) against the factor that
    /// fits this step's canary best.
    pub(super) fn bet(
        &self,
        block: &Block,
        fail: &mut [Alternative],
        nulls: &mut [Hypothesis],
        step_canary: &[f64],
    ) {
        let (b, c, p_b, in_step) = (block.baseline, block.canary, block.plugin, block.in_step);
        for alt in fail.iter_mut() {
            let q_c = alt
                .shape
                .columns
                .as_ref()
                .map_or_else(|| p_b.to_vec(), |a| apply(a, p_b));
            alt.against_none += ln_e_categorical(b, c, p_b, &q_c, None);
            let floor = LinearNull {
                columns: if alt.up {
                    &self.floor_columns.0
                } else {
                    &self.floor_columns.1
                },
                projection: &mut alt.floor_projection,
            };
            alt.against_floor += ln_e_categorical(b, c, p_b, &q_c, Some(floor));
        }
        // The alternative for the range: the factor that fits this step's canary best.
        let guess = best_factor(nulls, p_b, step_canary);
        let q_c = nulls
            .iter()
            .find(|h| h.factor == guess)
            .and_then(|h| h.columns.as_ref())
            .map_or_else(|| p_b.to_vec(), |a| apply(a, p_b));
        for h in nulls
            .iter_mut()
            .filter(|h| in_step && h.rejected_at.is_none())
        {
            let null = h.columns.as_ref().map(|columns| LinearNull {
                columns,
                projection: &mut h.projection,
            });
            h.ln_e += ln_e_categorical(b, c, p_b, &q_c, null);
        }
    }
}

/// The latency factor that best explains the canary's counts given the baseline's, on `grid`
/// (ties and no data: 1).
pub(super) fn best_factor(grid: &[Hypothesis], baseline_p: &[f64], canary: &[f64]) -> f64 {
    let mut best: (f64, f64) = (f64::NEG_INFINITY, 1.0);
    for h in grid {
        let Some(columns) = &h.columns else { continue };
        let q = apply(columns, baseline_p);
        let ll: f64 = canary
            .iter()
            .zip(&q)
            .filter(|(c, _)| **c > 0.0)
            .map(|(c, q)| c * q.max(1e-300).ln())
            .sum();
        let closer_to_one = (ll - best.0).abs() < 1e-9 && h.factor.ln().abs() < best.1.ln().abs();
        if ll > best.0 + 1e-9 || closer_to_one {
            best = (ll, h.factor);
        }
    }
    best.1
}

#[cfg(test)]
mod tests {
    use crate::domain::sequential::fixtures::{ctx, latency_run, t};
    use crate::domain::sequential::{Decision, SequentialSettings, evaluate};

    #[test]
    fn a_twenty_percent_slowdown_fails_within_a_few_polls() {
        // 95 vs 5 rps, 10s polls, Prometheus's default buckets, σ 0.5, slower from the start.
        let mut polls: Vec<i64> = (0..15)
            .map(|seed| {
                let r = evaluate(
                    &latency_run(20 + seed, 30, 1.2, 0),
                    &SequentialSettings::default(),
                    &ctx(false),
                );
                assert_eq!(r.decision, Decision::Fail, "seed {seed}: {}", r.reason);
                let (lo, hi) = r.range.expect("range");
                assert!(lo > 1.0 && hi > 1.1, "{}", r.reason);
                assert!(
                    r.reason.starts_with("canary is slower: latency ×1."),
                    "{}",
                    r.reason
                );
                r.decided_at.map_or(99, |at| (at - t(0)).num_seconds() / 10)
            })
            .collect();
        polls.sort_unstable();
        assert!(polls[7] <= 7, "median polls to FAIL: {polls:?}");
    }

    #[test]
    fn a_slowdown_under_the_tolerated_change_is_not_failed() {
        // ×1.04 is under 1.1^0.5 ≈ 1.049: with tolerance 0.5, many requests see it, none fails
        // it, and the range rules out ×1.1. With no tolerance the same counts fail it.
        let half = SequentialSettings {
            tolerance: 0.5,
            ..SequentialSettings::default()
        };
        let r = evaluate(&latency_run(3, 200, 1.04, 0), &half, &ctx(false));
        assert_eq!(r.decision, Decision::Pass, "{}", r.reason);
        let exact = SequentialSettings {
            tolerance: 0.0,
            ..SequentialSettings::default()
        };
        let strict = evaluate(&latency_run(3, 200, 1.04, 0), &exact, &ctx(false));
        assert_eq!(strict.decision, Decision::Fail, "{}", strict.reason);
        // The default (a quarter, ×1.024) does not fail ×1.01.
        let r = evaluate(
            &latency_run(4, 200, 1.01, 0),
            &SequentialSettings::default(),
            &ctx(false),
        );
        assert_ne!(r.decision, Decision::Fail, "{}", r.reason);
    }

    #[test]
    fn a_healthy_canary_passes_by_ruling_out_the_allowed_slowdown() {
        let counts = latency_run(2, 60, 1.0, 0);
        let r = evaluate(&counts, &SequentialSettings::default(), &ctx(false));
        assert_eq!(r.decision, Decision::Pass, "{}", r.reason);
        let (lo, hi) = r.range.expect("range");
        assert!(lo < 1.0 && hi < 1.1, "{lo}..{hi}");
        assert!(!r.passed_at_hold_end);
    }

    #[test]
    fn healthy_canaries_are_rarely_failed() {
        // 40 runs of 60 polls at α = 0.005: more than one failure would be far beyond the bound.
        let failed = (0..40)
            .filter(|seed| {
                let r = evaluate(
                    &latency_run(100 + seed, 60, 1.0, 0),
                    &SequentialSettings::default(),
                    &ctx(false),
                );
                r.decision == Decision::Fail
            })
            .count();
        assert!(failed <= 1, "{failed} of 40 healthy runs failed");
    }
}
