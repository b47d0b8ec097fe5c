//! Error blocks: the 2×2 test of one block's errors and successes, for each FAIL alternative
//! (against "no change" and against the tolerated change) and for each factor of the range.

use super::hypotheses::{Alternative, Block, Hypothesis};
use crate::domain::evalue::ln_e_errors;

/// One block's bets on the ratio of the error ratios; `floors` is the tolerated change `(up, down)`.
pub(super) fn bet(
    block: &Block,
    fail: &mut [Alternative],
    nulls: &mut [Hypothesis],
    step_canary: &[f64],
    (floor_up, floor_down): (f64, f64),
) {
    let (b, c, p_b, in_step) = (block.baseline, block.canary, block.plugin, block.in_step);
    // This step's canary error ratio, pulled towards the baseline's while it is thin.
    let pi_b = p_b[0];
    let step_n: f64 = step_canary.iter().sum();
    let pi_c_seen = ((step_canary[0] + pi_b) / (step_n + 1.0)).clamp(1e-9, 1.0 - 1e-9);
    for alt in fail.iter_mut() {
        let pi_c = (pi_b * alt.shape.factor).clamp(1e-9, 1.0 - 1e-9);
        let floor = if alt.up { floor_up } else { floor_down };
        let (b, c) = ([b[0], b[1]], [c[0], c[1]]);
        alt.against_none += ln_e_errors(b, c, pi_b, pi_c, 1.0);
        alt.against_floor += ln_e_errors(b, c, pi_b, pi_c, floor);
    }
    for h in nulls
        .iter_mut()
        .filter(|h| in_step && h.rejected_at.is_none())
    {
        h.ln_e += ln_e_errors([b[0], b[1]], [c[0], c[1]], pi_b, pi_c_seen, h.factor);
    }
}

#[cfg(test)]
mod tests {
    use crate::domain::sequential::fixtures::{ctx, errors_run, t};
    use crate::domain::sequential::{Decision, SequentialSettings, evaluate};

    #[test]
    fn doubled_errors_fail_and_the_range_covers_two() {
        let counts = errors_run(3, 40, 0.05, 2.0);
        let s = SequentialSettings {
            allowed_increase: 1.5,
            ..SequentialSettings::default()
        };
        let r = evaluate(&counts, &s, &ctx(false));
        assert_eq!(r.decision, Decision::Fail, "{}", r.reason);
        assert!(r.decided_at.is_some_and(|at| at <= t(150)), "{}", r.reason);
        let (lo, hi) = r.range.expect("range");
        assert!(lo <= 2.0 && hi >= 2.0, "{lo}..{hi}");
        assert!(
            r.reason.starts_with("canary is failing more: errors ") && r.reason.contains("% vs "),
            "{}",
            r.reason
        );
    }
}
