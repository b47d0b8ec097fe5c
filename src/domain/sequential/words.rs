//! The verdict in figures and words: the figures `check --json` and the receipts carry, the
//! estimate with its range ("×1.18 (99.5% range 1.09–1.29)"), the headline, the evidence and the
//! counts with the pace of the evidence.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Decision, Effect, SequentialResult, SequentialSettings};
use crate::domain::format::short_duration;
use crate::domain::judge::Direction;

/// The figures behind a sequential verdict, as `check --json` and the receipts carry them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    pub decision: Decision,
    /// `latency_factor` (canary latencies = baseline × estimate) or `error_ratio` (canary error
    /// ratio = baseline's × estimate).
    pub effect: Effect,
    /// ln of the evidence that the canary is worse; FAIL at `threshold` = ln(1/α).
    pub evidence: f64,
    pub threshold: f64,
    pub estimate: Option<f64>,
    /// The anytime-valid range of the effect at `confidence`.
    pub range: Option<[f64; 2]>,
    pub confidence: f64,
    pub requests: Requests,
    /// While collecting: how long a decision is likely to take at the current traffic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eta_seconds: Option<u64>,
    /// The end of the block at which the test decided (FAIL, or PASS by ruling the effect out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<DateTime<Utc>>,
    /// The end of the last block counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counted_until: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Requests {
    pub baseline: f64,
    pub canary: f64,
}

impl SequentialResult {
    pub fn figures(&self) -> Figures {
        Figures {
            decision: self.decision,
            effect: self.effect,
            evidence: self.evidence.max(-1e6),
            threshold: self.threshold,
            estimate: self.estimate,
            range: self.range.map(|(lo, hi)| [lo, hi]),
            confidence: self.confidence,
            requests: Requests {
                baseline: self.requests.0,
                canary: self.requests.1,
            },
            eta_seconds: self.eta.map(|d| d.as_secs()),
            decided_at: self.decided_at,
            counted_until: self.counted_until,
        }
    }

    /// Evidence as a share of the threshold, for a meter (0..=1).
    pub fn evidence_fraction(&self) -> f64 {
        if self.threshold > 0.0 {
            (self.evidence / self.threshold).clamp(0.0, 1.0)
        } else {
            0.0
        }
    }

    /// "×1.18 (99.5% range 1.09–1.29)".
    pub fn estimate_text(&self) -> String {
        let Some(est) = self.estimate else {
            return match self.range {
                Some(_) => self.range_text().trim_start().to_string(),
                None => "no estimate yet".into(),
            };
        };
        format!("×{}{}", factor(est), self.range_text())
    }

    /// " (99.5% range 1.09–1.29)".
    fn range_text(&self) -> String {
        let level = percent_label(self.confidence);
        match self.range {
            Some((lo, hi)) if lo <= 0.0 && hi.is_infinite() => {
                format!(" ({level} range still open)")
            }
            Some((lo, hi)) if hi.is_infinite() => format!(" ({level} range above {})", factor(lo)),
            Some((lo, hi)) if lo <= 0.0 => format!(" ({level} range below {})", factor(hi)),
            Some((lo, hi)) => format!(" ({level} range {}–{})", factor(lo), factor(hi)),
            None => " (no single factor fits the data)".into(),
        }
    }
}

fn factor(v: f64) -> String {
    if v >= 9.995 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// `99.5%` for 0.995.
pub fn percent_label(confidence: f64) -> String {
    let pct = confidence * 100.0;
    let text = format!("{pct:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text}%")
}

fn requests_text(n: f64) -> String {
    if n >= 100_000.0 {
        format!("{:.0}k", n / 1000.0)
    } else if n >= 1_000.0 {
        format!("{:.1}k", n / 1000.0)
    } else {
        format!("{n:.0}")
    }
}

/// The verdict in words: a headline (decision and effect), then the evidence and the counts.
impl SequentialResult {
    /// The result for a rollout that has ended: it takes no more decisions, so no pace or hold
    /// is promised in its words.
    pub fn ended(mut self, s: &SequentialSettings) -> Self {
        self.eta = None;
        self.canary_rate = None;
        self.hold_left = None;
        self.reason = reason(&self, s);
        self
    }
}

pub(super) fn reason(r: &SequentialResult, s: &SequentialSettings) -> String {
    let (headline, detail) = (headline(r, s), detail(r, s));
    match r.decision {
        Decision::Collecting if r.requests.1 <= 0.0 => headline,
        Decision::Pass if !r.passed_at_hold_end => format!("{headline}; {detail}"),
        _ => format!(
            "{headline}; evidence {} of {:.1}; {detail}",
            evidence_text(r.evidence),
            r.threshold
        ),
    }
}

/// "canary is slower: latency ×1.18 (99.5% range 1.09–1.29)".
pub fn headline(r: &SequentialResult, s: &SequentialSettings) -> String {
    let effect = match (r.effect, r.error_ratios) {
        (Effect::ErrorRatio, Some((b, c))) => {
            let estimate = r.estimate_text();
            let sep = if r.estimate.is_some() { ": " } else { " " };
            format!(
                "errors {:.2}% vs {:.2}%{sep}{estimate}",
                c * 100.0,
                b * 100.0
            )
        }
        (Effect::ErrorRatio, None) => format!("error ratio {}", r.estimate_text()),
        (Effect::LatencyFactor, _) => format!("latency {}", r.estimate_text()),
    };
    let worse = match (r.effect, s.direction) {
        (Effect::LatencyFactor, Direction::Increase) => "slower",
        (Effect::LatencyFactor, Direction::Decrease) => "faster",
        (Effect::ErrorRatio, Direction::Increase) => "failing more",
        (Effect::ErrorRatio, Direction::Decrease) => "failing less",
        (_, Direction::Either) => "different",
    };
    let limit = match s.direction {
        Direction::Increase => format!("×{}", factor(s.allowed_increase)),
        Direction::Decrease => format!("×{}", factor(1.0 / s.allowed_decrease)),
        Direction::Either => format!(
            "×{} or ×{}",
            factor(s.allowed_increase),
            factor(1.0 / s.allowed_decrease)
        ),
    };
    match r.decision {
        Decision::Fail => format!("canary is {worse}: {effect}"),
        Decision::Pass if r.passed_at_hold_end => {
            format!("hold ended without evidence of a change of {limit} or more: {effect}")
        }
        Decision::Pass => format!("a change of {limit} or more is ruled out: {effect}"),
        Decision::Collecting if r.requests.1 <= 0.0 => {
            "collecting: no canary requests counted yet".into()
        }
        Decision::Collecting => format!("collecting: {effect}"),
    }
}

/// The headline for a narrow line, the estimate first: "×1.00 (99.5% range 0.95–1.05); ×1.10
/// or more ruled out", "slower: ×1.38 (99.5% range 1.20–1.55)".
pub fn compact_headline(r: &SequentialResult, s: &SequentialSettings) -> String {
    let full = headline(r, s);
    let limit_end = |prefix: &str, tail: &str| {
        full.strip_prefix(prefix)
            .and_then(|rest| rest.split_once(" or more"))
            .and_then(|(limit, rest)| {
                let effect = rest.strip_prefix(tail)?;
                // "p95 latency: ×1.00 (…)", not "p95 latency: latency ×1.00 (…)".
                let effect = effect.strip_prefix("latency ").unwrap_or(effect);
                Some(format!("{effect}; {limit} or more"))
            })
    };
    match r.decision {
        Decision::Fail => short_headline(r, s),
        Decision::Pass if r.passed_at_hold_end => {
            limit_end("hold ended without evidence of a change of ", ": ")
                .map_or(full.clone(), |t| format!("{t} not seen by the hold's end"))
        }
        Decision::Pass => limit_end("a change of ", " is ruled out: ")
            .map_or(full.clone(), |t| format!("{t} ruled out")),
        Decision::Collecting => full,
    }
}

/// A FAIL in few words, for the one-line "why": "slower: ×1.38 (99.5% range 1.32–1.46)".
pub fn short_headline(r: &SequentialResult, s: &SequentialSettings) -> String {
    let full = headline(r, s);
    match full.strip_prefix("canary is ") {
        Some(rest) => rest.replacen(": latency ", ": ", 1),
        None => full,
    }
}

/// Evidence for reading: `1.6`, `37`, `951`.
pub fn evidence_text(ln_e: f64) -> String {
    let v = ln_e.max(0.0);
    if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// "412 canary / 8.1k baseline requests; a decision in ≈ 40s at 5.0 rps".
pub fn detail(r: &SequentialResult, s: &SequentialSettings) -> String {
    let counted = format!(
        "{} canary / {} baseline requests",
        requests_text(r.requests.1),
        requests_text(r.requests.0)
    );
    if r.decision != Decision::Collecting {
        return counted;
    }
    let enough = (r.step_requests.1 as u64) >= s.min_samples;
    let short = if enough {
        String::new()
    } else {
        format!(" ({} in this step needed for a PASS)", s.min_samples)
    };
    let pace = match (r.eta, r.canary_rate, r.hold_left) {
        // The hold ends first: that is when a PASS comes.
        (eta, _, Some(left)) if enough && !left.is_zero() && eta.is_none_or(|e| left < e) => {
            format!(
                "; PASS when the hold ends in {} unless evidence comes first",
                short_duration(left)
            )
        }
        (Some(eta), Some(rate), _) => {
            format!("; a decision in ≈ {} at {rate:.1} rps", short_duration(eta))
        }
        (None, Some(rate), _) => format!("; no decision in sight at {rate:.1} rps"),
        _ => String::new(),
    };
    format!("{counted}{short}{pace}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(decision: Decision, effect: Effect, at_hold_end: bool) -> SequentialResult {
        SequentialResult {
            decision,
            effect,
            evidence: 0.0,
            peak_evidence: 0.0,
            threshold: 5.3,
            estimate: Some(1.0),
            range: Some((0.95, 1.05)),
            confidence: 0.995,
            requests: (10_000.0, 2_000.0),
            step_requests: (10_000.0, 2_000.0),
            error_ratios: (effect == Effect::ErrorRatio).then_some((0.0004, 0.0004)),
            canary_rate: Some(40.0),
            decided_at: None,
            passed_at_hold_end: at_hold_end,
            eta: None,
            hold_left: None,
            counted_until: None,
            reason: String::new(),
        }
    }

    /// The narrow form puts the estimate first and keeps every figure of the full one.
    #[test]
    fn compact_headlines_keep_the_figures() {
        let s = SequentialSettings::default();
        let pass = result(Decision::Pass, Effect::LatencyFactor, false);
        assert_eq!(
            headline(&pass, &s),
            "a change of ×1.10 or more is ruled out: latency ×1.00 (99.5% range 0.95–1.05)"
        );
        assert_eq!(
            compact_headline(&pass, &s),
            "×1.00 (99.5% range 0.95–1.05); ×1.10 or more ruled out"
        );
        let late = result(Decision::Pass, Effect::ErrorRatio, true);
        assert_eq!(
            compact_headline(&late, &s),
            "errors 0.04% vs 0.04%: ×1.00 (99.5% range 0.95–1.05); ×1.10 or more not seen by the \
             hold's end"
        );
        let fail = SequentialResult {
            estimate: Some(1.38),
            range: Some((1.2, 1.55)),
            ..result(Decision::Fail, Effect::LatencyFactor, false)
        };
        assert_eq!(
            compact_headline(&fail, &s),
            "slower: ×1.38 (99.5% range 1.20–1.55)"
        );
        let collecting = result(Decision::Collecting, Effect::LatencyFactor, false);
        assert_eq!(compact_headline(&collecting, &s), headline(&collecting, &s));
    }
}
