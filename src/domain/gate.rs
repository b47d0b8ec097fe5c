//! Gates: the rules a canary metric must hold against its baseline, and their evaluation.
//!
//! Every check present in a gate must hold. A violation only counts as FAIL once it has held at
//! each of the last `for` evaluation points; before that it is PENDING. Missing data is NO DATA,
//! never PASS.
//!
//! Zero baseline rule: relative checks (`max_increase_pct`, `max_ratio`, `max_delta`,
//! `min_decrease_pct`, `min_ratio`) compare against `max(baseline, min_baseline)`. Without a
//! `min_baseline`, a zero baseline makes an upper relative limit 0 (plus `max_delta`), so any canary
//! value above zero fails: strict, never "everything passes". Set `min_baseline` (e.g. 0.005 for
//! an error ratio) to judge a near-zero baseline against a sensible floor instead.

use serde::{Deserialize, Serialize};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::series::{Series, Unit};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// A FAIL means: roll back.
    #[default]
    Rollback,
    /// A FAIL blocks promotion; no rollback advised.
    Hold,
    /// Shown, never blocks.
    Warn,
}

/// `for = 2` (consecutive evaluation points) or `for = "1m"` (converted with the poll interval).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ForSpec {
    Checks(u32),
    #[serde(with = "super::format::humantime_serde")]
    Duration(Duration),
}

impl Default for ForSpec {
    fn default() -> Self {
        Self::Checks(1)
    }
}

impl ForSpec {
    /// How many consecutive points a violation must hold, at least 1.
    pub fn points(self, poll_interval: Duration) -> u32 {
        match self {
            Self::Checks(n) => n.max(1),
            Self::Duration(d) => {
                let step = poll_interval.as_secs_f64().max(0.001);
                ((d.as_secs_f64() / step).ceil() as u32).max(1)
            }
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_increase_pct: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ratio: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_delta: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_decrease_pct: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_ratio: Option<f64>,
    /// Floor for the baseline in relative checks (see the module docs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_baseline: Option<f64>,
    /// A violation seen on fewer canary requests than this (in the metric's window) is
    /// COLLECTING, not FAIL: one 5xx in ten requests is not a 10% error rate. Needs the metric's
    /// `total` or `histogram` to count requests; ratio metrics default to
    /// `DEFAULT_MIN_REQUESTS`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_requests: Option<f64>,
    #[serde(default, rename = "for")]
    pub for_: ForSpec,
    #[serde(default)]
    pub severity: Severity,
}

/// Canary requests behind each canary point (by timestamp), and how many a violation needs.
pub type Counted<'a> = (&'a [(DateTime<Utc>, f64)], f64);

/// `min_requests` of a ratio metric whose requests are counted, when the gate sets none.
pub const DEFAULT_MIN_REQUESTS: f64 = 100.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Pending,
    /// Not enough requests yet to judge (a sequential judge still counting, or a violation seen
    /// on fewer than `min_requests`): never a PASS, never a FAIL.
    Collecting,
    Fail,
    /// A failing gate whose severity is `warn`: shown, never blocks.
    Warn,
    NoData,
}

impl Verdict {
    /// The name written in `check --json` and in audit receipts (serde's): `no_data`, not `nodata`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Pending => "pending",
            Self::Collecting => "collecting",
            Self::Fail => "fail",
            Self::Warn => "warn",
            Self::NoData => "no_data",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Pass => "PASS",
            Self::Pending => "PENDING",
            Self::Collecting => "COLLECTING",
            Self::Fail => "FAIL",
            Self::Warn => "WARN",
            Self::NoData => "NO DATA",
        }
    }

    /// A symbol that carries the meaning without colour.
    pub fn symbol(self) -> &'static str {
        match self {
            Self::Pass => "✓",
            Self::Pending | Self::Collecting => "…",
            Self::Fail => "✗",
            Self::Warn => "!",
            Self::NoData => "?",
        }
    }

    /// Whether a promotion on this verdict needs an explicit override.
    pub fn blocks_promotion(self) -> bool {
        matches!(self, Self::Fail | Self::NoData)
    }
}

/// The outcome of one gate on one metric, with the numbers and the words behind it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateEvaluation {
    pub verdict: Verdict,
    pub severity: Severity,
    pub baseline: Option<f64>,
    pub canary: Option<f64>,
    /// One sentence per check, the failing ones first.
    pub reasons: Vec<String>,
    /// Consecutive violating points at the end, and how many make a FAIL.
    pub violating_points: u32,
    pub required_points: u32,
    /// The limit on the canary that decides the verdict now: the violated one, else the tightest.
    pub threshold: Option<f64>,
    /// Canary requests behind the newest value (its window), when they are counted.
    pub canary_requests: Option<f64>,
}

impl GateEvaluation {
    pub fn delta(&self) -> Option<f64> {
        Some(self.canary? - self.baseline?)
    }

    /// Relative change in percent; `None` on a zero baseline.
    pub fn delta_pct(&self) -> Option<f64> {
        let (b, c) = (self.baseline?, self.canary?);
        (b != 0.0).then(|| (c - b) / b.abs() * 100.0)
    }

    pub fn summary(&self) -> &str {
        self.reasons.first().map_or("", String::as_str)
    }
}

impl Gate {
    fn has_relative_checks(&self) -> bool {
        self.max_increase_pct.is_some()
            || self.max_ratio.is_some()
            || self.max_delta.is_some()
            || self.min_decrease_pct.is_some()
            || self.min_ratio.is_some()
    }

    pub fn has_checks(&self) -> bool {
        self.has_relative_checks() || self.max.is_some() || self.min.is_some()
    }

    /// Check one (baseline, canary) pair; returns one sentence per check and whether it holds.
    /// Check one (baseline, canary) pair: per check, whether it holds, one sentence, its limit
    /// on the canary, and whether that limit is a ceiling (true) or a floor.
    fn check_pair(
        &self,
        name: &str,
        unit: Unit,
        baseline: f64,
        canary: f64,
    ) -> Vec<(bool, String, f64, bool)> {
        let f = |v: f64| unit.format(v);
        let effective = baseline.max(self.min_baseline.unwrap_or(0.0));
        let floor_note = if effective > baseline {
            format!(" (baseline floor {} used)", f(effective))
        } else if effective == 0.0 {
            " (baseline is 0: set min_baseline to judge against a floor)".to_string()
        } else {
            String::new()
        };
        let pct_change = |b: f64| {
            if b != 0.0 {
                (canary - b) / b.abs() * 100.0
            } else {
                f64::INFINITY
            }
        };
        let mut out = Vec::new();
        if let Some(pct) = self.max_increase_pct {
            let limit = effective * (1.0 + pct / 100.0);
            let ok = canary <= limit;
            let change = pct_change(baseline);
            let change = if !change.is_finite() {
                "up from 0 over".into()
            } else if change >= 0.0 {
                format!("{change:+.1}% over")
            } else {
                format!("{:.1}% under", -change)
            };
            out.push((
                ok,
                format!(
                    "canary {name} {} is {change} baseline {}; limit +{pct}%{floor_note}",
                    f(canary),
                    f(baseline)
                ),
                limit,
                true,
            ));
        }
        if let Some(ratio) = self.max_ratio {
            let limit = effective * ratio;
            let ok = canary <= limit;
            let times = if baseline != 0.0 {
                format!("{:.2}×", canary / baseline)
            } else {
                "∞×".into()
            };
            out.push((
                ok,
                format!(
                    "canary {name} {} is {times} baseline {}; limit {ratio}×{floor_note}",
                    f(canary),
                    f(baseline)
                ),
                limit,
                true,
            ));
        }
        if let Some(delta) = self.max_delta {
            let limit = effective + delta;
            let ok = canary <= limit;
            out.push((
                ok,
                format!(
                    "canary {name} {} is {} vs baseline {}; limit +{}",
                    f(canary),
                    unit.format_delta(canary - baseline),
                    f(baseline),
                    f(delta)
                ),
                limit,
                true,
            ));
        }
        if let Some(pct) = self.min_decrease_pct {
            let limit = effective * (1.0 - pct / 100.0);
            let ok = canary >= limit;
            let change = pct_change(baseline);
            let change = if change.is_finite() {
                format!("{change:+.1}%")
            } else {
                "n/a".into()
            };
            out.push((
                ok,
                format!(
                    "canary {name} {} is {change} vs baseline {}; limit -{pct}%{floor_note}",
                    f(canary),
                    f(baseline)
                ),
                limit,
                false,
            ));
        }
        if let Some(ratio) = self.min_ratio {
            let limit = effective * ratio;
            let ok = canary >= limit;
            let times = if baseline != 0.0 {
                format!("{:.2}×", canary / baseline)
            } else {
                "∞×".into()
            };
            out.push((
                ok,
                format!(
                    "canary {name} {} is {times} baseline {}; floor {ratio}×{floor_note}",
                    f(canary),
                    f(baseline)
                ),
                limit,
                false,
            ));
        }
        if let Some(max) = self.max {
            let ok = canary <= max;
            out.push((
                ok,
                format!(
                    "canary {name} {} {} max {}",
                    f(canary),
                    if ok { "≤" } else { ">" },
                    f(max)
                ),
                max,
                true,
            ));
        }
        if let Some(min) = self.min {
            let ok = canary >= min;
            out.push((
                ok,
                format!(
                    "canary {name} {} {} min {}",
                    f(canary),
                    if ok { "≥" } else { "<" },
                    f(min)
                ),
                min,
                false,
            ));
        }
        out
    }

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
            let checks = self.check_pair(name, unit, b, c);
            let violated = checks.iter().any(|(ok, ..)| !ok);
            let newest = latest_checks.is_none();
            if newest {
                latest_checks = Some(checks);
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
    let by_time: std::collections::HashMap<_, _> =
        baseline.points.iter().map(|s| (s.at, s.value)).collect();
    let paired: Vec<_> = canary
        .points
        .iter()
        .map(|c| (c.at, by_time.get(&c.at).copied(), Some(c.value)))
        .collect();
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

/// The violated check's limit if any (they sort first); else the tightest ceiling, else floor.
fn binding_limit(checks: &[(bool, String, f64, bool)]) -> Option<f64> {
    if let Some((false, _, limit, _)) = checks.first() {
        return Some(*limit);
    }
    let ceiling = checks
        .iter()
        .filter(|c| c.3)
        .map(|c| c.2)
        .fold(None, |m: Option<f64>, l| Some(m.map_or(l, |m| m.min(l))));
    ceiling.or_else(|| {
        checks
            .iter()
            .filter(|c| !c.3)
            .map(|c| c.2)
            .fold(None, |m: Option<f64>, l| Some(m.map_or(l, |m| m.max(l))))
    })
}

impl Gate {
    /// Whether every check held at each paired point (None where a track had no finite value):
    /// the basis of phase readiness, judged over the whole hold from a range query.
    pub fn holds_at_each_point(
        &self,
        name: &str,
        unit: Unit,
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
                    (Some(b), Some(c)) => {
                        Some(self.check_pair(name, unit, b, c).iter().all(|(ok, ..)| *ok))
                    }
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
    use crate::domain::series::Sample;
    use chrono::{DateTime, Utc};

    const POLL: Duration = Duration::from_secs(10);

    fn series(values: &[f64]) -> Series {
        let t0 = DateTime::<Utc>::UNIX_EPOCH;
        Series::new(
            values
                .iter()
                .enumerate()
                .map(|(i, v)| Sample {
                    at: t0 + chrono::Duration::seconds(10 * i as i64),
                    value: *v,
                })
                .collect(),
        )
    }

    fn eval(gate: &Gate, unit: Unit, b: &[f64], c: &[f64]) -> GateEvaluation {
        gate.evaluate("m", unit, &series(b), &series(c), POLL)
    }

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
    fn seed_numbers_ratio_and_increase_gates() {
        // p99 100ms → 145ms passes a 150% ratio gate; 155ms fails it (seed 002).
        let ratio = Gate {
            max_ratio: Some(1.5),
            ..Gate::default()
        };
        assert_eq!(
            eval(&ratio, Unit::Seconds, &[0.100], &[0.145]).verdict,
            Verdict::Pass
        );
        assert_eq!(
            eval(&ratio, Unit::Seconds, &[0.100], &[0.155]).verdict,
            Verdict::Fail
        );
        // error rate 0.8% → 1.2% passes max_ratio = 2; 2.4% fails.
        let err = Gate {
            max_ratio: Some(2.0),
            ..Gate::default()
        };
        assert_eq!(
            eval(&err, Unit::Ratio, &[0.008], &[0.012]).verdict,
            Verdict::Pass
        );
        assert_eq!(
            eval(&err, Unit::Ratio, &[0.008], &[0.024]).verdict,
            Verdict::Fail
        );
        // p95 1.8s → 1.9s is +5.6%, passes max_increase_pct = 10 (seed 000).
        let inc = Gate {
            max_increase_pct: Some(10.0),
            ..Gate::default()
        };
        let e = eval(&inc, Unit::Seconds, &[1.8], &[1.9]);
        assert_eq!(e.verdict, Verdict::Pass);
        assert!(
            e.summary()
                .contains("+5.6% over baseline 1.80s; limit +10%"),
            "{}",
            e.summary()
        );
        let e = eval(&inc, Unit::Seconds, &[1.71], &[1.92]);
        assert_eq!(e.verdict, Verdict::Fail);
        assert_eq!(
            e.summary(),
            "canary m 1.92s is +12.3% over baseline 1.71s; limit +10%"
        );
    }

    #[test]
    fn absolute_limits_and_delta() {
        let g = Gate {
            max: Some(0.01),
            ..Gate::default()
        };
        let e = eval(&g, Unit::Ratio, &[], &[0.041]);
        assert_eq!(e.verdict, Verdict::Fail, "absolute gates need no baseline");
        assert_eq!(e.summary(), "canary m 4.10% > max 1.00%");
        let g = Gate {
            min: Some(0.999),
            ..Gate::default()
        };
        assert_eq!(eval(&g, Unit::Ratio, &[], &[0.9992]).verdict, Verdict::Pass);
        let g = Gate {
            max_delta: Some(3.0),
            ..Gate::default()
        };
        assert_eq!(
            eval(&g, Unit::Seconds, &[1.8], &[4.7]).verdict,
            Verdict::Pass
        );
        assert_eq!(
            eval(&g, Unit::Seconds, &[1.8], &[4.9]).verdict,
            Verdict::Fail
        );
    }

    #[test]
    fn higher_is_better_gates() {
        let g = Gate {
            min_decrease_pct: Some(10.0),
            ..Gate::default()
        };
        assert_eq!(
            eval(&g, Unit::Ratio, &[0.80], &[0.75]).verdict,
            Verdict::Pass
        );
        assert_eq!(
            eval(&g, Unit::Ratio, &[0.80], &[0.70]).verdict,
            Verdict::Fail
        );
        let g = Gate {
            min_ratio: Some(0.9),
            ..Gate::default()
        };
        assert_eq!(
            eval(&g, Unit::Rps, &[100.0], &[95.0]).verdict,
            Verdict::Pass
        );
        assert_eq!(
            eval(&g, Unit::Rps, &[100.0], &[85.0]).verdict,
            Verdict::Fail
        );
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
    fn zero_baseline_is_strict_without_a_floor_and_judged_with_one() {
        let strict = Gate {
            max_ratio: Some(2.0),
            ..Gate::default()
        };
        let e = eval(&strict, Unit::Ratio, &[0.0], &[0.002]);
        assert_eq!(
            e.verdict,
            Verdict::Fail,
            "zero baseline must not pass everything"
        );
        assert!(e.summary().contains("set min_baseline"), "{}", e.summary());
        assert_eq!(
            eval(&strict, Unit::Ratio, &[0.0], &[0.0]).verdict,
            Verdict::Pass
        );
        let floored = Gate {
            max_ratio: Some(2.0),
            min_baseline: Some(0.005),
            ..Gate::default()
        };
        assert_eq!(
            eval(&floored, Unit::Ratio, &[0.0], &[0.002]).verdict,
            Verdict::Pass
        );
        assert_eq!(
            eval(&floored, Unit::Ratio, &[0.0], &[0.011]).verdict,
            Verdict::Fail
        );
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

    #[test]
    fn gate_parses_from_the_config_shape() {
        let g: Gate =
            toml::from_str("max_increase_pct = 10\nmax = 2.5\nfor = 2\nseverity = \"rollback\"")
                .expect("parses");
        assert_eq!(g.for_, ForSpec::Checks(2));
        let g: Gate = toml::from_str("max = 0.01\nfor = \"1m\"").expect("parses");
        assert_eq!(g.for_, ForSpec::Duration(Duration::from_secs(60)));
        assert!(
            toml::from_str::<Gate>("maxx = 1").is_err(),
            "typos are errors"
        );
    }

    #[test]
    fn verdict_names_are_serdes_no_data_included() {
        for v in [
            Verdict::Pass,
            Verdict::Pending,
            Verdict::Collecting,
            Verdict::Fail,
            Verdict::Warn,
            Verdict::NoData,
        ] {
            assert_eq!(serde_json::to_value(v).expect("json"), v.as_str());
        }
        assert_eq!(Verdict::NoData.as_str(), "no_data");
    }
}
