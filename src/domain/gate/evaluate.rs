//! Judging a gate over the series: points paired by timestamp, the violation walked back from the
//! newest point for `for` (a violation on too few requests breaks it), the verdict and its words;
//! and whether the gate held at each point, for phase readiness.

use chrono::{DateTime, Utc};
use std::time::Duration;

use super::checks::binding_limit;
use super::{Counted, Gate, GateEvaluation, Severity, Verdict};
use crate::domain::series::{Sample, Series, Unit};

impl Gate {
    /// Judge the canary series against the baseline series. Points are paired by timestamp.
    pub fn evaluate(
        &self,
        name: &str,
        unit: Unit,
        baseline: &Series,
        canary: &Series,
        poll_interval: Duration,
    ) -> GateEvaluation {
        self.evaluate_counted(name, unit, baseline, canary, poll_interval, None)
    }

    /// `evaluate`, knowing how many canary requests are behind each canary point (by its
    /// timestamp) and how many a violation needs (`min_requests`): a violation on fewer is
    /// COLLECTING at the newest point, and breaks a `for` streak further back.
    pub fn evaluate_counted(
        &self,
        name: &str,
        unit: Unit,
        baseline: &Series,
        canary: &Series,
        poll_interval: Duration,
        requests: Option<Counted>,
    ) -> GateEvaluation {
        let behind = |at: DateTime<Utc>| -> Option<f64> {
            let (counted, _) = requests?;
            counted.iter().find(|(t, _)| *t == at).map(|(_, n)| *n)
        };
        let required = self.for_.points(poll_interval);
        let needs_baseline = self.has_relative_checks();
        let latest_baseline = baseline.last().map(|s| s.value).filter(|v| v.is_finite());
        let latest_canary = canary.last().map(|s| s.value).filter(|v| v.is_finite());
        let mut eval = GateEvaluation {
            verdict: Verdict::NoData,
            severity: self.severity,
            baseline: latest_baseline,
            canary: latest_canary,
            reasons: Vec::new(),
            violating_points: 0,
            required_points: required,
            threshold: None,
            canary_requests: canary.last().and_then(|s| behind(s.at)),
        };
        let missing = match (latest_canary, latest_baseline) {
            (None, _) if canary.is_empty() => Some("no canary data (the query returned no series)"),
            (None, _) => Some("no canary data now (the newest canary point is missing or NaN)"),
            (_, None) if needs_baseline && baseline.is_empty() => {
                Some("no baseline data (the query returned no series)")
            }
            (_, None) if needs_baseline => {
                Some("no baseline data now (the newest baseline point is missing or NaN)")
            }
            _ => None,
        };
        if let Some(why) = missing {
            eval.reasons.push(why.to_string());
            return eval;
        }
        if !self.has_checks() {
            eval.verdict = Verdict::Pass;
            eval.reasons
                .push("no gate configured: shown for information".into());
            return eval;
        }
        let pairs = pair_points(baseline, canary, needs_baseline);
        // Walk back from the newest pair while the violation holds.
        let mut latest_checks = None;
        let mut too_few: Option<f64> = None;
        for (at, b, c) in pairs.iter().rev() {
            let (Some(c), Some(b)) = (
                c.filter(|v| v.is_finite()),
                b.filter(|v| v.is_finite())
                    .or((!needs_baseline).then_some(0.0)),
            ) else {
                break;
            };
            let violated = !self.holds(b, c);
            let newest = latest_checks.is_none();
            if newest {
                // Only the newest pair's checks are told; the older ones are only counted.
                latest_checks = Some(self.check_pair(name, unit, b, c));
            }
            if !violated || eval.violating_points >= required {
                break;
            }
            // A violation on too few requests is no evidence yet.
            if let (Some(n), Some((_, min))) = (behind(*at), requests)
                && n < min
            {
                if newest {
                    too_few = Some(n);
                }
                break;
            }
            eval.violating_points += 1;
        }
        let mut checks = latest_checks.unwrap_or_default();
        checks.sort_by_key(|(ok, ..)| *ok);
        eval.threshold = binding_limit(&checks);
        eval.reasons = checks.into_iter().map(|(_, text, ..)| text).collect();
        // The requests behind the value, where they are counted: 1 of 10 is not 10%.
        if let (Some(n), Some(first)) = (eval.canary_requests, eval.reasons.first_mut()) {
            first.push_str(&format!(" (on {n:.0} canary requests)"));
        }
        eval.verdict = match eval.violating_points {
            0 => Verdict::Pass,
            n if n >= required => match self.severity {
                Severity::Warn => Verdict::Warn,
                _ => Verdict::Fail,
            },
            _ => Verdict::Pending,
        };
        if let (Some(n), Some((_, min))) = (too_few, requests) {
            eval.verdict = Verdict::Collecting;
            eval.reasons.push(format!(
                "seen on only {n:.0} canary requests; min_requests {min:.0} before it counts"
            ));
        }
        if eval.verdict == Verdict::Pending {
            eval.reasons.push(format!(
                "violating for {} of {} checks",
                eval.violating_points, required
            ));
        } else if eval.verdict == Verdict::Fail && required > 1 {
            eval.reasons.push(format!("for {required} checks"));
        }
        eval
    }
}

/// Pair points by timestamp (the canary's). Without a baseline need, canary points stand alone.
type Pair = (DateTime<Utc>, Option<f64>, Option<f64>);

fn pair_points(baseline: &Series, canary: &Series, needs_baseline: bool) -> Vec<Pair> {
    if !needs_baseline {
        return canary
            .points
            .iter()
            .map(|c| (c.at, None, Some(c.value)))
            .collect();
    }
    let paired = pair_by_time(&baseline.points, &canary.points);
    if paired.iter().any(|(_, b, _)| b.is_some()) {
        return paired;
    }
    // Timestamps that never line up (two engines, two steps): pair from the newest end.
    let n = baseline.points.len().min(canary.points.len());
    let b = &baseline.points[baseline.points.len() - n..];
    let c = &canary.points[canary.points.len() - n..];
    b.iter()
        .zip(c)
        .map(|(b, c)| (c.at, Some(b.value), Some(c.value)))
        .collect()
}

/// Each canary point with the baseline's value at the same instant (the last one there, should
/// a timestamp repeat). Series come sorted by time: a merge then, which runs once a second per
/// fleet row over the whole hold; a hash map only for series that are not.
fn pair_by_time(baseline: &[Sample], canary: &[Sample]) -> Vec<Pair> {
    let sorted = |s: &[Sample]| s.windows(2).all(|w| w[0].at <= w[1].at);
    if !(sorted(baseline) && sorted(canary)) {
        let by_time: std::collections::HashMap<_, _> =
            baseline.iter().map(|s| (s.at, s.value)).collect();
        return canary
            .iter()
            .map(|c| (c.at, by_time.get(&c.at).copied(), Some(c.value)))
            .collect();
    }
    let mut next = 0;
    canary
        .iter()
        .map(|c| {
            while baseline.get(next).is_some_and(|b| b.at < c.at) {
                next += 1;
            }
            let mut same = None;
            let mut i = next;
            while let Some(b) = baseline.get(i).filter(|b| b.at == c.at) {
                same = Some(b.value);
                i += 1;
            }
            (c.at, same, Some(c.value))
        })
        .collect()
}

impl Gate {
    /// Whether every check held at each paired point (None where a track had no finite value):
    /// the basis of phase readiness, judged over the whole hold from a range query.
    pub fn holds_at_each_point(
        &self,
        baseline: &Series,
        canary: &Series,
    ) -> Vec<(DateTime<Utc>, Option<bool>)> {
        let needs_baseline = self.has_relative_checks();
        pair_points(baseline, canary, needs_baseline)
            .into_iter()
            .map(|(at, b, c)| {
                let c = c.filter(|v| v.is_finite());
                let b = b
                    .filter(|v| v.is_finite())
                    .or((!needs_baseline).then_some(0.0));
                let held = match (b, c) {
                    (Some(b), Some(c)) => Some(self.holds(b, c)),
                    _ => None,
                };
                (at, held)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::gate::ForSpec;
    use crate::domain::gate::fixtures::{POLL, eval, series};

    #[test]
    fn a_violation_on_too_few_requests_is_collecting_not_fail() {
        // One 5xx in ten requests is a 10% error rate: over max 1%, but on 10 requests.
        let gate = Gate {
            max: Some(0.01),
            for_: ForSpec::Checks(2),
            ..Gate::default()
        };
        let (b, c) = (series(&[0.002, 0.002, 0.002]), series(&[0.0, 0.1, 0.1]));
        let at = |i: i64| DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::seconds(10 * i);
        let thin = [(at(0), 500.0), (at(1), 10.0), (at(2), 10.0)];
        let e = gate.evaluate_counted(
            "error rate",
            Unit::Ratio,
            &b,
            &c,
            POLL,
            Some((&thin, 100.0)),
        );
        assert_eq!(e.verdict, Verdict::Collecting, "{:?}", e.reasons);
        assert_eq!(e.canary_requests, Some(10.0));
        assert!(
            e.reasons
                .iter()
                .any(|r| r.contains("only 10 canary requests; min_requests 100")),
            "{:?}",
            e.reasons
        );
        // Enough requests at both points: a FAIL, as without counts.
        let thick = [(at(0), 500.0), (at(1), 400.0), (at(2), 400.0)];
        let e = gate.evaluate_counted(
            "error rate",
            Unit::Ratio,
            &b,
            &c,
            POLL,
            Some((&thick, 100.0)),
        );
        assert_eq!(e.verdict, Verdict::Fail);
        assert_eq!(
            gate.evaluate("error rate", Unit::Ratio, &b, &c, POLL)
                .verdict,
            Verdict::Fail
        );
        // A thin point further back breaks the streak: PENDING, not FAIL.
        let mixed = [(at(0), 500.0), (at(1), 10.0), (at(2), 400.0)];
        let e = gate.evaluate_counted(
            "error rate",
            Unit::Ratio,
            &b,
            &c,
            POLL,
            Some((&mixed, 100.0)),
        );
        assert_eq!(e.verdict, Verdict::Pending, "{:?}", e.reasons);
    }

    #[test]
    fn for_needs_consecutive_violations_and_pends_before() {
        let g = Gate {
            max: Some(0.01),
            for_: ForSpec::Checks(2),
            ..Gate::default()
        };
        let e = eval(&g, Unit::Ratio, &[], &[0.001, 0.001, 0.041]);
        assert_eq!(e.verdict, Verdict::Pending);
        assert!(
            e.reasons.iter().any(|r| r == "violating for 1 of 2 checks"),
            "{:?}",
            e.reasons
        );
        assert_eq!(
            eval(&g, Unit::Ratio, &[], &[0.041, 0.001, 0.041]).verdict,
            Verdict::Pending,
            "not consecutive"
        );
        assert_eq!(
            eval(&g, Unit::Ratio, &[], &[0.001, 0.041, 0.041]).verdict,
            Verdict::Fail
        );
        // "for 1 minute" at a 10s poll interval is 6 points.
        assert_eq!(ForSpec::Duration(Duration::from_secs(60)).points(POLL), 6);
    }

    #[test]
    fn missing_data_is_never_a_pass() {
        let g = Gate {
            max_increase_pct: Some(10.0),
            ..Gate::default()
        };
        assert_eq!(
            eval(&g, Unit::Seconds, &[0.1], &[]).verdict,
            Verdict::NoData
        );
        assert_eq!(
            eval(&g, Unit::Seconds, &[], &[0.1]).verdict,
            Verdict::NoData
        );
        assert_eq!(
            eval(&g, Unit::Seconds, &[0.1, 0.1], &[0.1, f64::NAN]).verdict,
            Verdict::NoData
        );
        assert_eq!(
            eval(&g, Unit::Seconds, &[0.1, f64::NAN], &[0.1, 0.1]).verdict,
            Verdict::NoData
        );
        let none = Gate::default();
        assert_eq!(eval(&none, Unit::Rps, &[1.0], &[]).verdict, Verdict::NoData);
    }

    #[test]
    fn warn_severity_never_fails() {
        let g = Gate {
            max: Some(1.0),
            severity: Severity::Warn,
            ..Gate::default()
        };
        let e = eval(&g, Unit::None, &[], &[2.0]);
        assert_eq!(e.verdict, Verdict::Warn);
        assert!(!e.verdict.blocks_promotion());
    }

    proptest::proptest! {
        /// The merge pairs exactly as a lookup by timestamp does, repeats and gaps included.
        #[test]
        fn the_merge_pairs_as_a_lookup_by_time_does(
            b in proptest::collection::vec((0i64..20, 0u8..5), 0..25),
            c in proptest::collection::vec(0i64..20, 0..25),
        ) {
            let at = |i: i64| DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::seconds(5 * i);
            let mut baseline: Vec<Sample> =
                b.iter().map(|&(i, v)| Sample { at: at(i), value: f64::from(v) }).collect();
            baseline.sort_by_key(|s| s.at);
            let mut canary: Vec<Sample> =
                c.iter().map(|&i| Sample { at: at(i), value: 1.0 }).collect();
            canary.sort_by_key(|s| s.at);
            let by_time: std::collections::HashMap<_, _> =
                baseline.iter().map(|s| (s.at, s.value)).collect();
            let looked_up: Vec<Pair> = canary
                .iter()
                .map(|c| (c.at, by_time.get(&c.at).copied(), Some(c.value)))
                .collect();
            proptest::prop_assert_eq!(pair_by_time(&baseline, &canary), looked_up);
        }
    }
}
