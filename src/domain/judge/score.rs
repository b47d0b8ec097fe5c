//! The score: the per-metric classifications weighed into one PASS, INCONCLUSIVE or FAIL for the run.

use serde::{Deserialize, Serialize};

use super::Classification;

/// One judged metric as the score sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreInput {
    pub name: String,
    pub classification: Classification,
    /// Relative weight; negative or non-finite weights count as 0.
    pub weight: f64,
    /// A HIGH or LOW on a critical metric fails the whole run.
    pub critical: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScoreThresholds {
    /// At or above: INCONCLUSIVE (below: FAIL).
    pub marginal: f64,
    /// At or above: PASS.
    pub pass: f64,
}

impl Default for ScoreThresholds {
    fn default() -> Self {
        Self {
            marginal: 75.0,
            pass: 95.0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Overall {
    Pass,
    Inconclusive,
    Fail,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Score {
    /// 0..=100.
    pub score: f64,
    pub overall: Overall,
    /// The deciding facts first: forced zeros, then the metrics that did not pass.
    pub reasons: Vec<String>,
}

/// Score = 100 × (weight of PASS metrics) / (weight of metrics with data), forced to 0 by a HIGH or
/// LOW critical metric or when half or more of the metrics have NO DATA (too little evidence must not
/// look like a pass). PASS at `t.pass`, INCONCLUSIVE at `t.marginal`, FAIL below. With no metric
/// judged at all (none given, all NO DATA, or no weight on any judged one) the run is INCONCLUSIVE
/// with score 0: there is nothing to fail on, nor to pass on.
pub fn score(inputs: &[ScoreInput], t: &ScoreThresholds) -> Score {
    let weight = |i: &ScoreInput| {
        if i.weight.is_finite() && i.weight > 0.0 {
            i.weight
        } else {
            0.0
        }
    };
    let judged: Vec<&ScoreInput> = inputs
        .iter()
        .filter(|i| i.classification != Classification::NoData)
        .collect();
    let no_data: Vec<&str> = inputs
        .iter()
        .filter(|i| i.classification == Classification::NoData)
        .map(|i| i.name.as_str())
        .collect();
    let total: f64 = judged.iter().map(|i| weight(i)).sum();
    let passed: f64 = judged
        .iter()
        .filter(|i| i.classification == Classification::Pass)
        .map(|i| weight(i))
        .sum();
    let mut reasons = Vec::new();
    if judged.is_empty() || total <= 0.0 {
        reasons.push(if inputs.is_empty() {
            "no metrics to judge".to_string()
        } else if judged.is_empty() {
            format!(
                "no metric could be judged: all {} have no data ({})",
                inputs.len(),
                no_data.join(", ")
            )
        } else {
            "no judged metric carries any weight".to_string()
        });
        return Score {
            score: 0.0,
            overall: Overall::Inconclusive,
            reasons,
        };
    }
    let mut score = 100.0 * passed / total;
    for i in &judged {
        if i.critical && matches!(i.classification, Classification::High | Classification::Low) {
            reasons.push(format!(
                "critical metric {} is {}: score forced to 0",
                i.name,
                i.classification.label()
            ));
            score = 0.0;
        }
    }
    if !no_data.is_empty() {
        let forced = no_data.len() * 2 >= inputs.len();
        if forced {
            score = 0.0;
        }
        reasons.push(format!(
            "{} of {} metrics have no data ({}){}",
            no_data.len(),
            inputs.len(),
            no_data.join(", "),
            if forced {
                ": half or more, score forced to 0"
            } else {
                ""
            }
        ));
    }
    for i in &judged {
        if matches!(i.classification, Classification::High | Classification::Low) && !i.critical {
            reasons.push(format!("{} is {}", i.name, i.classification.label()));
        }
    }
    let overall = if score >= t.pass {
        Overall::Pass
    } else if score >= t.marginal {
        Overall::Inconclusive
    } else {
        Overall::Fail
    };
    reasons.push(format!(
        "score {score:.1} ({}): pass at {}, marginal at {}",
        match overall {
            Overall::Pass => "PASS",
            Overall::Inconclusive => "INCONCLUSIVE",
            Overall::Fail => "FAIL",
        },
        t.pass,
        t.marginal
    ));
    Score {
        score,
        overall,
        reasons,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(
        name: &str,
        classification: Classification,
        weight: f64,
        critical: bool,
    ) -> ScoreInput {
        ScoreInput {
            name: name.into(),
            classification,
            weight,
            critical,
        }
    }

    #[test]
    fn score_weighs_passing_metrics() {
        use Classification::*;
        let t = ScoreThresholds::default();
        let s = score(
            &[
                input("p95", Pass, 3.0, false),
                input("errors", Pass, 1.0, false),
            ],
            &t,
        );
        assert_eq!((s.score, s.overall), (100.0, Overall::Pass));
        // 3 of 4 weight passes: 75 → INCONCLUSIVE (at the marginal threshold).
        let s = score(
            &[
                input("p95", Pass, 3.0, false),
                input("p99", High, 1.0, false),
            ],
            &t,
        );
        assert_eq!((s.score, s.overall), (75.0, Overall::Inconclusive));
        assert!(
            s.reasons.iter().any(|r| r == "p99 is HIGH"),
            "{:?}",
            s.reasons
        );
        // The high one weighs more: 25 → FAIL.
        let s = score(
            &[
                input("p95", Pass, 1.0, false),
                input("p99", High, 3.0, false),
            ],
            &t,
        );
        assert_eq!((s.score, s.overall), (25.0, Overall::Fail));
        // Thresholds move the boundaries: 95 of 100 passes at pass = 95.
        let s = score(
            &[input("a", Pass, 95.0, false), input("b", Low, 5.0, false)],
            &t,
        );
        assert_eq!((s.score, s.overall), (95.0, Overall::Pass));
        let strict = ScoreThresholds {
            marginal: 96.0,
            pass: 99.0,
        };
        assert_eq!(
            score(
                &[input("a", Pass, 95.0, false), input("b", Low, 5.0, false)],
                &strict
            )
            .overall,
            Overall::Fail
        );
    }

    #[test]
    fn a_critical_failure_forces_zero() {
        use Classification::*;
        let s = score(
            &[
                input("p95", Pass, 10.0, false),
                input("errors", High, 1.0, true),
            ],
            &ScoreThresholds::default(),
        );
        assert_eq!((s.score, s.overall), (0.0, Overall::Fail));
        assert_eq!(
            s.reasons.first().map(String::as_str),
            Some("critical metric errors is HIGH: score forced to 0")
        );
    }

    #[test]
    fn no_data_is_excluded_until_it_is_half() {
        use Classification::*;
        let t = ScoreThresholds::default();
        // 1 of 3 without data: excluded from the weights.
        let s = score(
            &[
                input("a", Pass, 1.0, false),
                input("b", Pass, 1.0, false),
                input("c", NoData, 1.0, false),
            ],
            &t,
        );
        assert_eq!((s.score, s.overall), (100.0, Overall::Pass));
        assert!(
            s.reasons[0].starts_with("1 of 3 metrics have no data (c)"),
            "{:?}",
            s.reasons
        );
        // 2 of 4: half → 0.
        let s = score(
            &[
                input("a", Pass, 1.0, false),
                input("b", Pass, 1.0, false),
                input("c", NoData, 1.0, false),
                input("d", NoData, 1.0, true),
            ],
            &t,
        );
        assert_eq!((s.score, s.overall), (0.0, Overall::Fail));
        assert!(
            s.reasons[0].ends_with("half or more, score forced to 0"),
            "{:?}",
            s.reasons
        );
        // Nothing judged at all: INCONCLUSIVE, not FAIL.
        let s = score(&[input("a", NoData, 1.0, true)], &t);
        assert_eq!((s.score, s.overall), (0.0, Overall::Inconclusive));
        assert_eq!(score(&[], &t).overall, Overall::Inconclusive);
        let s = score(&[input("a", Pass, 0.0, false)], &t);
        assert_eq!(s.overall, Overall::Inconclusive, "{:?}", s.reasons);
    }
}
