//! The checks of one (baseline, canary) pair: whether each holds, in a sentence with the numbers,
//! and its limit on the canary; the zero baseline rule (`min_baseline`) applies here.

use super::Gate;
use crate::domain::series::Unit;

impl Gate {
    pub(super) fn has_relative_checks(&self) -> bool {
        self.max_increase_pct.is_some()
            || self.max_ratio.is_some()
            || self.max_delta.is_some()
            || self.min_decrease_pct.is_some()
            || self.min_ratio.is_some()
    }

    pub fn has_checks(&self) -> bool {
        self.has_relative_checks() || self.max.is_some() || self.min.is_some()
    }

    /// Whether every check holds for one (baseline, canary) pair: `check_pair`'s verdicts
    /// without its sentences (the same comparisons), for the points only counted.
    pub(super) fn holds(&self, baseline: f64, canary: f64) -> bool {
        let effective = baseline.max(self.min_baseline.unwrap_or(0.0));
        self.max_increase_pct
            .is_none_or(|pct| canary <= effective * (1.0 + pct / 100.0))
            && self
                .max_ratio
                .is_none_or(|ratio| canary <= effective * ratio)
            && self
                .max_delta
                .is_none_or(|delta| canary <= effective + delta)
            && self
                .min_decrease_pct
                .is_none_or(|pct| canary >= effective * (1.0 - pct / 100.0))
            && self
                .min_ratio
                .is_none_or(|ratio| canary >= effective * ratio)
            && self.max.is_none_or(|max| canary <= max)
            && self.min.is_none_or(|min| canary >= min)
    }

    /// Check one (baseline, canary) pair: per check, whether it holds, one sentence, its limit
    /// on the canary, and whether that limit is a ceiling (true) or a floor.
    pub(super) fn check_pair(
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
}

/// The violated check's limit if any (they sort first); else the tightest ceiling, else floor.
pub(super) fn binding_limit(checks: &[(bool, String, f64, bool)]) -> Option<f64> {
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

#[cfg(test)]
mod tests {
    use crate::domain::gate::fixtures::eval;
    use crate::domain::gate::{Gate, Verdict};
    use crate::domain::series::Unit;

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

    proptest::proptest! {
        /// `holds` is `check_pair` with every check held, whatever checks are set and values.
        #[test]
        fn holds_is_every_check_of_check_pair(
            limits in proptest::collection::vec(proptest::option::of(-5.0..300.0f64), 8),
            baseline in proptest::prop_oneof![proptest::strategy::Just(0.0), -10.0..10.0f64, 0.0..1e6f64],
            canary in proptest::prop_oneof![proptest::strategy::Just(0.0), -10.0..10.0f64, 0.0..1e6f64],
        ) {
            let gate = Gate {
                max: limits[0],
                min: limits[1],
                max_increase_pct: limits[2],
                max_ratio: limits[3],
                max_delta: limits[4],
                min_decrease_pct: limits[5],
                min_ratio: limits[6],
                min_baseline: limits[7],
                ..Gate::default()
            };
            let checks = gate.check_pair("m", Unit::Ratio, baseline, canary);
            proptest::prop_assert_eq!(
                gate.holds(baseline, canary),
                checks.iter().all(|(ok, ..)| *ok)
            );
        }
    }
}
