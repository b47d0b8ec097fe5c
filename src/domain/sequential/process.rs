//! The e-process: the counts block by block (warm-up skipped, bad blocks dropped), each block's
//! bets placed with plug-ins from the blocks before it, the FAIL evidence pooled over the
//! alternatives, the range's factors rejected and a PASS found once every effect that matters is.

use chrono::{DateTime, Utc};
use std::time::Duration;

use super::errors;
use super::hypotheses::{
    Alternative, Block, Hypothesis, alternatives, floors, ln_mixture, matters, range_grid, smoothed,
};
use super::latency::Shapes;
use super::verdict::{Seen, conclude};
use super::{Context, Effect, SequentialResult, SequentialSettings};
use crate::domain::counts::{CountBlock, CountKind, Counts};

/// Baseline requests the plug-ins need before a block counts as evidence: with none, the
/// smoothed guess is a 50% error ratio and a flat latency histogram, and betting on those would
/// throw away every alternative at the first block.
const PLUGIN_MIN_REQUESTS: f64 = 20.0;

/// `values` with every count that is not a finite positive number read as 0, into `into`.
fn clean(values: &[f64], into: &mut Vec<f64>) {
    into.clear();
    into.extend(
        values
            .iter()
            .map(|v| if v.is_finite() && *v > 0.0 { *v } else { 0.0 }),
    );
}

/// The step that a moment belongs to began at the latest start at or before it.
fn in_warmup(block: &CountBlock<'_>, step_starts: &[DateTime<Utc>], warmup: Duration) -> bool {
    if warmup.is_zero() {
        return false;
    }
    let Some(start) = step_starts.iter().rev().find(|s| **s < block.end) else {
        return false;
    };
    let warm_until = *start + chrono::Duration::from_std(warmup).unwrap_or_default();
    block.start < warm_until
}

/// Judge the counts so far. Pure and stateless: the same counts give the same result, so the
/// console and `check` agree, and a FAIL found in earlier blocks is found again.
pub fn evaluate(counts: &Counts, s: &SequentialSettings, ctx: &Context) -> SequentialResult {
    let effect = match counts.kind {
        CountKind::Latency { .. } => Effect::LatencyFactor,
        CountKind::Errors => Effect::ErrorRatio,
    };
    let alpha = if ctx.alpha > 0.0 && ctx.alpha < 1.0 {
        ctx.alpha
    } else {
        0.01
    };
    let threshold = (1.0 / alpha).ln();
    let bounds = match &counts.kind {
        CountKind::Latency { bounds } => Some(bounds.as_slice()),
        CountKind::Errors => None,
    };
    let categories = counts.kind.categories();
    let mut fail: Vec<Alternative> = alternatives(s)
        .into_iter()
        .map(|(f, weight)| Alternative {
            shape: Hypothesis::new(f),
            weight,
            up: f > 1.0,
            against_none: 0.0,
            against_floor: 0.0,
            floor_projection: Vec::new(),
        })
        .collect();
    let (floor_up, floor_down) = floors(s);
    let mut nulls: Vec<Hypothesis> = range_grid(effect, s)
        .into_iter()
        .map(Hypothesis::new)
        .collect();
    let mut shapes = Shapes::new();

    let mut base_total = vec![0.0; categories];
    let mut canary_total = vec![0.0; categories];
    let mut fail_at: Option<DateTime<Utc>> = None;
    let mut pass_at: Option<DateTime<Utc>> = None;
    let mut peak = 0.0_f64;
    let mut mixture = 0.0;
    // (end, FAIL evidence, PASS evidence, canary requests) per counted block, for the speed.
    let mut history: Vec<(DateTime<Utc>, f64, f64, f64)> = Vec::new();

    // The range and a PASS are about the canary at its current weight: the current step only.
    // The FAIL evidence runs over the whole life (it holds whatever the load or weight does).
    let step_start = ctx.step_starts.last().copied();
    let mut step_base = vec![0.0; categories];
    let mut step_canary = vec![0.0; categories];
    let (mut b, mut c) = (
        Vec::with_capacity(categories),
        Vec::with_capacity(categories),
    );
    for block in counts.blocks() {
        if in_warmup(&block, &ctx.step_starts, s.warmup) {
            continue;
        }
        let in_step = step_start.is_none_or(|t| block.start >= t);
        clean(block.baseline, &mut b);
        clean(block.canary, &mut c);
        // Plug-ins from earlier blocks only: that is what keeps the product a supermartingale.
        let p_b = smoothed(&base_total);
        let seen: f64 = base_total.iter().sum();
        let betting = seen >= PLUGIN_MIN_REQUESTS;
        if let Some(bounds) = bounds {
            shapes.reshape(
                bounds,
                seen,
                &p_b,
                (&mut fail, &mut nulls),
                (floor_up, floor_down),
            );
        }
        let counted = Block {
            baseline: &b,
            canary: &c,
            plugin: &p_b,
            in_step,
        };
        match effect {
            _ if !betting => {}
            Effect::LatencyFactor => shapes.bet(&counted, &mut fail, &mut nulls, &step_canary),
            Effect::ErrorRatio => errors::bet(
                &counted,
                &mut fail,
                &mut nulls,
                &step_canary,
                (floor_up, floor_down),
            ),
        }
        for (total, v) in base_total.iter_mut().zip(&b) {
            *total += v;
        }
        for (total, v) in canary_total.iter_mut().zip(&c) {
            *total += v;
        }
        if in_step {
            for (total, v) in step_base.iter_mut().zip(&b) {
                *total += v;
            }
            for (total, v) in step_canary.iter_mut().zip(&c) {
                *total += v;
            }
        }
        // Evidence against "no change" (exact) and against the tolerated change on the side of
        // the alternatives (a floor): both must be there for a FAIL.
        let side = |up: bool| {
            let values: Vec<(f64, f64)> = fail
                .iter()
                .filter(|a| a.up == up)
                .map(|a| (a.against_floor, a.weight))
                .collect();
            ln_mixture(&values)
        };
        let none: Vec<(f64, f64)> = fail.iter().map(|a| (a.against_none, a.weight)).collect();
        mixture = ln_mixture(&none).min(side(true).max(side(false)));
        peak = peak.max(mixture);
        if fail_at.is_none() && mixture >= threshold {
            fail_at = Some(block.end);
        }
        for h in nulls.iter_mut() {
            if h.rejected_at.is_none() && h.ln_e >= threshold {
                h.rejected_at = Some(block.end);
            }
        }
        let enough = step_base.iter().sum::<f64>() >= s.min_samples as f64
            && step_canary.iter().sum::<f64>() >= s.min_samples as f64;
        // Ruled out: every effect that matters is rejected while some smaller one is not (when
        // every factor on the grid is rejected, the effect may lie beyond it).
        let ruled_out = nulls
            .iter()
            .filter(|h| matters(s, h.factor))
            .all(|h| h.rejected_at.is_some())
            && nulls.iter().any(|h| h.rejected_at.is_none());
        if pass_at.is_none() && enough && ruled_out {
            pass_at = Some(block.end);
        }
        let pass_evidence = nulls
            .iter()
            .filter(|h| matters(s, h.factor))
            .map(|h| {
                if h.rejected_at.is_some() {
                    threshold
                } else {
                    h.ln_e
                }
            })
            .fold(f64::INFINITY, f64::min);
        history.push((block.end, mixture, pass_evidence, c.iter().sum()));
    }
    conclude(
        Seen {
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
        },
        s,
        ctx,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::sequential::Decision;
    use crate::domain::sequential::fixtures::{ctx, latency_run};

    #[test]
    fn nan_and_negative_counts_are_ignored_not_fatal() {
        let mut counts = latency_run(6, 10, 1.0, 0);
        if let Some((_, canary)) = counts.values_mut(2) {
            canary[3] = f64::NAN;
        }
        if let Some((baseline, _)) = counts.values_mut(3) {
            baseline[1] = -5.0;
        }
        let r = evaluate(&counts, &SequentialSettings::default(), &ctx(false));
        assert!(r.evidence.is_finite(), "{r:?}");
        assert_ne!(r.decision, Decision::Fail);
    }

    #[test]
    fn warmup_skips_the_start_of_each_step() {
        // A slow canary only during the first 30s of the step: with a 40s warm-up it is not seen.
        let mut counts = latency_run(7, 20, 1.0, 0);
        let slow = latency_run(8, 3, 2.0, 0);
        for (i, slow) in slow.blocks().enumerate() {
            if let Some((_, canary)) = counts.values_mut(i) {
                canary.copy_from_slice(slow.canary);
            }
        }
        let s = SequentialSettings::default();
        let cold = evaluate(&counts, &s, &ctx(false));
        assert_eq!(cold.decision, Decision::Fail, "{}", cold.reason);
        let warm = evaluate(
            &counts,
            &SequentialSettings {
                warmup: Duration::from_secs(40),
                ..s
            },
            &ctx(false),
        );
        assert_ne!(warm.decision, Decision::Fail, "{}", warm.reason);
        assert!(warm.requests.1 < cold.requests.1);
    }

    #[test]
    fn the_same_counts_give_the_same_verdict_and_a_fail_is_found_again() {
        let counts = latency_run(9, 40, 1.5, 10);
        let first = evaluate(&counts, &SequentialSettings::default(), &ctx(false));
        let mut more = counts.clone();
        let later_blocks = latency_run(10, 10, 1.0, 0);
        let shift = chrono::Duration::seconds(400);
        for b in later_blocks.blocks() {
            more.push(b.start + shift, b.end + shift, b.baseline, b.canary);
        }
        let later = evaluate(&more, &SequentialSettings::default(), &ctx(false));
        assert_eq!(first.decision, Decision::Fail);
        assert_eq!(later.decision, Decision::Fail);
        assert_eq!(first.decided_at, later.decided_at);
    }
}
