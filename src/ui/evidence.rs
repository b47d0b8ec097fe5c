//! The sequential judge on screen: an evidence meter against the FAIL line, the estimate with
//! its range, the requests counted, and how long a decision is likely to take.

use ratatui::text::{Line, Span};

use super::Theme;
use crate::app::Model;
use crate::app::model::MetricPanel;
use crate::domain::format::short_duration;
use crate::domain::sequential::{
    Decision, SequentialResult, SequentialSettings, compact_headline, detail, evidence_text,
    headline,
};

/// `█████░░░░░` for a share in 0..=1.
pub fn meter(fraction: f64, cells: usize) -> String {
    let filled = ((fraction.clamp(0.0, 1.0) * cells as f64).round() as usize).min(cells);
    format!("{}{}", "█".repeat(filled), "░".repeat(cells - filled))
}

/// The judge's headline for the focused-reason line, when this panel has one.
/// In `room` characters if it can be: the full headline, else its compact form.
pub fn headline_text(panel: &MetricPanel, room: usize) -> Option<String> {
    let settings = panel.sequential.as_ref()?;
    match (&panel.counts_error, panel.sequential_shown()) {
        (Some(e), _) => Some(format!("counting requests failed: {e}")),
        (None, Some(r)) => {
            let full = headline(r, settings);
            Some(if full.chars().count() <= room {
                full
            } else {
                compact_headline(r, settings)
            })
        }
        (None, None) => Some("waiting for the first request counts".into()),
    }
}

/// `evidence ███░░░░░░░ 1.6/5.3 · 212 canary / 4.1k baseline requests; a decision in ≈ 40s`.
pub fn evidence_line(
    panel: &MetricPanel,
    model: &Model,
    theme: &Theme,
    cells: usize,
    compact: bool,
) -> Option<Line<'static>> {
    let settings = panel.sequential.as_ref()?;
    let r = panel.sequential_shown()?;
    let tone = match r.decision {
        Decision::Fail => theme.verdict(crate::domain::Verdict::Fail),
        _ => theme.dim(),
    };
    // The hold as it stands now, not as it stood at the last count.
    let mut r = r.clone();
    if r.hold_left.is_some() {
        r.hold_left = model
            .current()
            .rollout
            .as_ref()
            .and_then(|x| x.hold_remaining(model.now));
    }
    // A rollout that has ended takes no more decisions: no pace to promise.
    if model
        .current()
        .rollout
        .as_ref()
        .is_some_and(|x| x.state.is_terminal())
    {
        r.eta = None;
        r.canary_rate = None;
        r.hold_left = None;
    }
    let counted = if compact {
        compact_detail(&r, settings)
    } else {
        detail(&r, settings)
    };
    let mut spans = vec![
        Span::styled(" evidence ", theme.dim()),
        Span::styled(meter(r.evidence_fraction(), cells), tone),
        Span::styled(
            format!(" {}/{:.1}", evidence_text(r.evidence), r.threshold),
            theme.dim(),
        ),
        Span::raw(format!(" · {counted}")),
    ];
    if matches!(panel.counted_since, Some((_, false))) {
        spans.push(Span::styled(" · this step only", theme.dim()));
    }
    Some(Line::from(spans))
}

/// `367 canary req (100 for a PASS) · decision ≈ 40s at 6.8 rps`: what fits beside the meter
/// on an 80-column line.
fn compact_detail(r: &SequentialResult, s: &SequentialSettings) -> String {
    let counted = r.requests.1;
    let mut text = format!("{counted:.0} canary req");
    if r.decision == Decision::Collecting {
        if (r.step_requests.1 as u64) < s.min_samples {
            text.push_str(&format!(" ({} for a PASS)", s.min_samples));
        }
        let enough = (r.step_requests.1 as u64) >= s.min_samples;
        match (r.eta, r.canary_rate, r.hold_left) {
            (eta, _, Some(left)) if enough && !left.is_zero() && eta.is_none_or(|e| left < e) => {
                text.push_str(&format!(" · PASS at hold end in {}", short_duration(left)));
            }
            (Some(eta), Some(rate), _) => text.push_str(&format!(
                " · decision ≈ {} at {rate:.1} rps",
                short_duration(eta)
            )),
            (None, Some(rate), _) => {
                text.push_str(&format!(" · no decision in sight at {rate:.1} rps"))
            }
            _ => {}
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_meter_fills_by_share_and_never_overflows() {
        assert_eq!(meter(0.0, 4), "░░░░");
        assert_eq!(meter(0.5, 4), "██░░");
        assert_eq!(meter(3.0, 4), "████");
        assert_eq!(meter(f64::NAN, 3).chars().count(), 3);
    }
}
