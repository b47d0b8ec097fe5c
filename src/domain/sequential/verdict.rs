//! The verdict: from what the e-processes have seen to the result: FAIL, PASS or COLLECTING, the
//! effect's estimate and its anytime-valid range over the current step, the canary's pace and
//! how long a decision is likely to take.

use chrono::{DateTime, Utc};
use std::time::Duration;

use super::hypotheses::{Hypothesis, smoothed};
use super::latency::best_factor;
use super::words::reason;
use super::{Context, Decision, Effect, SequentialResult, SequentialSettings};

/// Blocks the speed of the evidence is measured over, for "≈ 40s more".
const RECENT_BLOCKS: usize = 12;

/// What the e-process has seen over the blocks, as the verdict needs it.
pub(super) struct Seen {
    pub(super) effect: Effect,
    pub(super) alpha: f64,
    /// ln(1/α).
    pub(super) threshold: f64,
    /// The range's factors, with their evidence and rejections.
    pub(super) nulls: Vec<Hypothesis>,
    /// Requests per category over the canary's life and in the current step.
    pub(super) base_total: Vec<f64>,
    pub(super) canary_total: Vec<f64>,
    pub(super) step_base: Vec<f64>,
    pub(super) step_canary: Vec<f64>,
    /// (end, FAIL evidence, PASS evidence, canary requests) per counted block, for the speed.
    pub(super) history: Vec<(DateTime<Utc>, f64, f64, f64)>,
    pub(super) fail_at: Option<DateTime<Utc>>,
    pub(super) pass_at: Option<DateTime<Utc>>,
    /// The FAIL evidence now and at its highest.
    pub(super) mixture: f64,
    pub(super) peak: f64,
}

/// The result from what was seen: the decision, the estimate and its range, the pace, the words.
pub(super) fn conclude(seen: Seen, s: &SequentialSettings, ctx: &Context) -> SequentialResult {
    let Seen {
        effect,
        alpha,
        threshold,
        nulls,
        base_total,
        canary_total,
        step_base,
        step_canary,
        history,
        fail_at,
        pass_at,
        mixture,
        peak,
    } = seen;
    let requests = (
        base_total.iter().sum::<f64>(),
        canary_total.iter().sum::<f64>(),
    );
    let step_requests = (
        step_base.iter().sum::<f64>(),
        step_canary.iter().sum::<f64>(),
    );
    let enough = step_requests.0 >= s.min_samples as f64 && step_requests.1 >= s.min_samples as f64;
    let estimate = (step_requests.1 > 0.0)
        .then(|| match effect {
            Effect::LatencyFactor => best_factor(&nulls, &smoothed(&step_base), &step_canary),
            // The plain ratio of the error ratios: unknown while the baseline has no error.
            Effect::ErrorRatio => {
                let baseline = step_base[0] / step_requests.0.max(1.0);
                let canary = step_canary[0] / step_requests.1.max(1.0);
                if baseline > 0.0 {
                    canary / baseline
                } else {
                    f64::NAN
                }
            }
        })
        .filter(|e| e.is_finite());
    let alive = |h: &&Hypothesis| h.rejected_at.is_none();
    let (first_alive, last_alive) = (
        nulls.iter().position(|h| alive(&h)),
        nulls.iter().rposition(|h| alive(&h)),
    );
    let (grid_min, grid_max) = (
        nulls.first().map_or(0.0, |h| h.factor),
        nulls.last().map_or(f64::INFINITY, |h| h.factor),
    );
    let range = match (first_alive, last_alive, estimate) {
        // Bounded by the rejected factors either side of those still alive: the factors between
        // two grid points are not tested, so the range is the one every untested factor could
        // be in ("1.18–1.22", never a point such as "1.20–1.20"). An end of the grid is no
        // bound: the range goes on past it ("below", "above").
        (Some(lo), Some(hi), _) if step_requests.1 > 0.0 => Some((
            lo.checked_sub(1)
                .and_then(|i| nulls.get(i))
                .map_or(0.0, |h| h.factor),
            nulls.get(hi + 1).map_or(f64::INFINITY, |h| h.factor),
        )),
        // Every factor on the grid is rejected and the estimate is beyond one of its ends.
        (None, None, Some(e)) if e >= grid_max => Some((grid_max, f64::INFINITY)),
        (None, None, Some(e)) if e <= grid_min => Some((0.0, grid_min)),
        _ => None,
    };
    let error_ratios = (effect == Effect::ErrorRatio
        && step_requests.0 > 0.0
        && step_requests.1 > 0.0)
        .then(|| {
            (
                step_base[0] / step_requests.0,
                step_canary[0] / step_requests.1,
            )
        });
    let recent = &history[history.len().saturating_sub(RECENT_BLOCKS + 1)..];
    let span_secs = match (recent.first(), recent.last()) {
        (Some(first), Some(last)) if recent.len() > 1 => {
            (last.0 - first.0).num_milliseconds() as f64 / 1000.0
        }
        _ => 0.0,
    };
    let canary_rate =
        (span_secs > 0.0).then(|| recent.iter().skip(1).map(|h| h.3).sum::<f64>() / span_secs);
    let (decision, decided_at, passed_at_hold_end) = match (fail_at, pass_at) {
        (Some(at), _) => (Decision::Fail, Some(at), false),
        (None, Some(at)) => (Decision::Pass, Some(at), false),
        (None, None) if ctx.hold_left == Some(Duration::ZERO) && enough => {
            (Decision::Pass, None, true)
        }
        _ => (Decision::Collecting, None, false),
    };
    let eta = (decision == Decision::Collecting && span_secs > 0.0)
        .then(|| {
            let (first, last) = (recent.first()?, recent.last()?);
            let to_go = |now: f64, then: f64| {
                let speed = (now - then) / span_secs;
                (speed > 0.0 && now < threshold).then(|| (threshold - now) / speed)
            };
            let secs = [to_go(last.1, first.1), to_go(last.2, first.2)]
                .into_iter()
                .flatten()
                .fold(f64::INFINITY, f64::min);
            (secs.is_finite()).then(|| Duration::from_secs_f64(secs.min(86_400.0 * 30.0)))
        })
        .flatten();
    let mut result = SequentialResult {
        decision,
        effect,
        evidence: mixture,
        peak_evidence: peak,
        threshold,
        estimate,
        range,
        confidence: 1.0 - alpha,
        requests,
        step_requests,
        error_ratios,
        canary_rate,
        decided_at,
        passed_at_hold_end,
        eta,
        hold_left: ctx.hold_left.filter(|_| decision == Decision::Collecting),
        counted_until: history.last().map(|h| h.0),
        reason: String::new(),
    };
    result.reason = reason(&result, s);
    result
}

#[cfg(test)]
mod tests {
    use crate::domain::counts::{CountKind, Counts};
    use crate::domain::sequential::fixtures::{ctx, errors_run, latency_run};
    use crate::domain::sequential::{Decision, SequentialSettings, evaluate};

    #[test]
    fn an_end_of_the_grid_is_no_bound_so_the_estimate_stays_inside_its_range() {
        // No canary errors yet: the estimate is ×0, below the grid's lowest factor.
        let counts = errors_run(5, 4, 0.001, 0.0);
        let r = evaluate(&counts, &SequentialSettings::default(), &ctx(false));
        let (lo, hi) = r.range.expect("range");
        assert_eq!(lo, 0.0, "{}", r.estimate_text());
        assert!(
            r.estimate.is_none_or(|e| e >= lo && e <= hi),
            "{}",
            r.estimate_text()
        );
        assert!(
            r.estimate_text().contains("range below"),
            "{}",
            r.estimate_text()
        );
    }

    #[test]
    fn no_canary_traffic_is_collecting_never_pass_even_when_the_hold_is_over() {
        let mut counts = errors_run(4, 20, 0.01, 1.0);
        for i in 0..counts.len() {
            if let Some((_, canary)) = counts.values_mut(i) {
                canary.fill(0.0);
            }
        }
        let r = evaluate(&counts, &SequentialSettings::default(), &ctx(true));
        assert_eq!(r.decision, Decision::Collecting);
        assert_eq!(r.reason, "collecting: no canary requests counted yet");
        assert_eq!(r.range, None);
        let none = evaluate(
            &Counts::new(CountKind::Errors),
            &SequentialSettings::default(),
            &ctx(true),
        );
        assert_eq!(none.decision, Decision::Collecting);
    }

    #[test]
    fn the_hold_ending_passes_with_enough_requests_and_says_so() {
        let counts = latency_run(5, 4, 1.0, 0);
        let collecting = evaluate(&counts, &SequentialSettings::default(), &ctx(false));
        assert_eq!(
            collecting.decision,
            Decision::Collecting,
            "{}",
            collecting.reason
        );
        assert!(
            collecting.reason.starts_with("collecting: latency ×"),
            "{}",
            collecting.reason
        );
        let r = evaluate(&counts, &SequentialSettings::default(), &ctx(true));
        assert_eq!(r.decision, Decision::Pass, "{}", r.reason);
        assert!(r.passed_at_hold_end);
        assert!(
            r.reason.starts_with("hold ended without evidence"),
            "{}",
            r.reason
        );
    }
}
