//! The phase timeline: every step with its weight and hold, done / current / pending, the countdown
//! of the current hold, how long finished steps took, and the ETA to 100%.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, LineGauge, Paragraph};

use super::Theme;
use crate::app::Model;
use crate::app::model::Tone;
use crate::domain::format::short_duration;
use crate::domain::{AnalysisPhase, Rollout, RolloutState};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Done,
    Current,
    Pending,
    Skipped,
}

fn phase_of(r: &Rollout, i: usize) -> Phase {
    match r.state {
        RolloutState::Completed => Phase::Done,
        RolloutState::RolledBack | RolloutState::Failed if i >= r.step => Phase::Skipped,
        _ if i < r.step => Phase::Done,
        _ if i == r.step => Phase::Current,
        _ => Phase::Pending,
    }
}

fn symbol(p: Phase) -> &'static str {
    match p {
        Phase::Done => "✓",
        Phase::Current => "▶",
        Phase::Pending => "○",
        Phase::Skipped => "✗",
    }
}

/// The second line of a step: took / left / hold, longest wording first; the compact layout
/// takes the first that fits its cell.
fn detail(model: &Model, r: &Rollout, i: usize) -> Vec<String> {
    let step = &r.steps[i];
    match phase_of(r, i) {
        Phase::Done => r.step_duration(i).map_or_else(
            || vec!["done".into()],
            |d| vec![format!("took {}", short_duration(d)), short_duration(d)],
        ),
        Phase::Current => match (r.state, r.hold_remaining(model.now)) {
            (RolloutState::Paused, Some(left)) => {
                let left = short_duration(left);
                // "paused 1m15s" would read as the time spent paused: keep "left".
                vec![
                    format!("paused, {left} left"),
                    format!("‖ {left} left"),
                    "paused".into(),
                ]
            }
            (RolloutState::Paused, None) => vec!["paused".into()],
            (_, Some(left)) if left.is_zero() => vec!["hold done".into(), "held".into()],
            (_, Some(left)) => vec![
                format!("{} left", short_duration(left)),
                short_duration(left),
            ],
            (_, None) => vec!["no hold".into()],
        },
        Phase::Skipped if i == r.step && r.state == RolloutState::Failed => {
            vec!["failed here".into(), "failed".into()]
        }
        Phase::Skipped if i == r.step => vec!["rolled back".into(), "rolled bk".into()],
        Phase::Skipped => vec!["skipped".into()],
        Phase::Pending => step.hold.map_or_else(
            || vec!["final".into()],
            |h| {
                let h = short_duration(h);
                vec![format!("hold {h}"), h]
            },
        ),
    }
}

/// The first wording that leaves at least one blank column in a cell of `width` (cells never
/// run together), else the shortest cut with an ellipsis; padded to `width`.
fn fit_cell(candidates: &[String], width: usize) -> String {
    let room = width.saturating_sub(1);
    let text = candidates
        .iter()
        .find(|c| c.chars().count() <= room)
        .cloned()
        .unwrap_or_else(|| {
            let shortest = candidates
                .iter()
                .min_by_key(|c| c.chars().count())
                .cloned()
                .unwrap_or_default();
            let cut: String = shortest.chars().take(room.saturating_sub(1)).collect();
            if room == 0 { cut } else { format!("{cut}…") }
        });
    format!("{text:<width$}")
}

fn style_for(theme: &Theme, p: Phase) -> ratatui::style::Style {
    match p {
        Phase::Done => theme.tone(Tone::Good),
        Phase::Current => theme.bold(),
        Phase::Pending => theme.dim(),
        Phase::Skipped => theme.tone(Tone::Bad),
    }
}

fn eta_text(model: &Model, r: &Rollout) -> String {
    r.eta(model.now).to_string()
}

fn hold_ratio(model: &Model, r: &Rollout) -> Option<(f64, String)> {
    let hold = r.current_step()?.hold?;
    if r.state.is_terminal() {
        return None;
    }
    let left = r.hold_remaining(model.now)?;
    let done = hold.saturating_sub(left);
    let ratio = if hold.is_zero() {
        1.0
    } else {
        done.as_secs_f64() / hold.as_secs_f64()
    };
    Some((
        ratio.clamp(0.0, 1.0),
        format!("hold {}/{}", short_duration(done), short_duration(hold)),
    ))
}

/// The current hold as a gauge: elapsed / total.
fn hold_gauge(model: &Model, r: &Rollout, theme: &Theme) -> Option<LineGauge<'static>> {
    let (ratio, label) = hold_ratio(model, r)?;
    Some(
        LineGauge::default()
            .ratio(ratio)
            .label(Span::raw(format!(" {label} ")))
            .filled_style(theme.tone(Tone::Good))
            .unfilled_style(theme.dim()),
    )
}

pub fn draw_compact(frame: &mut Frame, area: Rect, model: &Model, theme: &Theme) {
    let Some(r) = &model.current().rollout else {
        frame.render_widget(
            Paragraph::new(Span::styled(
                " phases: waiting for the backend",
                theme.dim(),
            )),
            area,
        );
        return;
    };
    let label_w = 8u16;
    let n = r.steps.len().max(1) as u16;
    let cell_w = ((area.width.saturating_sub(label_w)) / n).max(8);
    let mut top = vec![Span::styled(" Phases ", theme.bold())];
    let mut bottom = vec![Span::raw(" ".repeat(label_w as usize))];
    for (i, step) in r.steps.iter().enumerate() {
        let p = phase_of(r, i);
        let head = format!("{} {}%", symbol(p), step.weight);
        top.push(Span::styled(
            fit_cell(&[head], cell_w as usize),
            style_for(theme, p),
        ));
        bottom.push(Span::styled(
            fit_cell(&detail(model, r, i), cell_w as usize),
            style_for(theme, p),
        ));
    }
    let [l1, l2, l3] = Layout::vertical([Constraint::Length(1); 3]).areas(area);
    frame.render_widget(Paragraph::new(Line::from(top)), l1);
    frame.render_widget(Paragraph::new(Line::from(bottom)), l2);
    let eta = eta_text(model, r);
    let [gauge_area, eta_area] = Layout::horizontal([
        Constraint::Min(10),
        Constraint::Length(eta.chars().count() as u16 + 2),
    ])
    .areas(l3);
    let hold_running = r.hold_remaining(model.now).is_some_and(|d| !d.is_zero());
    match hold_gauge(model, r, theme) {
        Some(gauge) if hold_running => frame.render_widget(gauge, gauge_area),
        _ => {
            if let Some(span) = readiness_span(model, theme) {
                frame.render_widget(
                    Paragraph::new(Line::from(vec![Span::raw(" "), span])),
                    gauge_area,
                );
            }
        }
    }
    frame.render_widget(
        Paragraph::new(Span::styled(eta, theme.bold())).right_aligned(),
        eta_area,
    );
}

/// How many analysis lines the large layout shows at most.
pub const MAX_ANALYSIS_LINES: usize = 3;

/// The backend's own analysis (Argo AnalysisRuns): one line per metric, newest run first.
fn analysis_lines(r: &Rollout, theme: &Theme) -> Vec<Line<'static>> {
    r.analysis
        .iter()
        .take(MAX_ANALYSIS_LINES)
        .map(|a| {
            let (mark, tone) = match a.phase {
                AnalysisPhase::Successful => ("✓", Tone::Good),
                AnalysisPhase::Pending | AnalysisPhase::Running => ("…", Tone::Neutral),
                AnalysisPhase::Inconclusive => ("?", Tone::Warn),
                AnalysisPhase::Failed | AnalysisPhase::Error => ("✗", Tone::Bad),
            };
            let value = a.value.as_deref().unwrap_or("—");
            Line::from(vec![
                Span::styled(format!(" {mark} {} ", a.metric), theme.tone(tone)),
                Span::styled(a.phase.label().to_string(), theme.tone(tone)),
                Span::styled(format!(" {value}"), theme.dim()),
            ])
        })
        .collect()
}

/// READY TO PROMOTE, or why not, for a live rollout.
fn readiness_span(model: &Model, theme: &Theme) -> Option<Span<'static>> {
    let r = model.current().rollout.as_ref()?;
    if r.state.is_terminal() {
        return None;
    }
    let ready = model.derived.readiness.as_ref()?;
    Some(if ready.ready {
        Span::styled(
            "✓ READY TO PROMOTE",
            theme.tone(Tone::Good).add_modifier(Modifier::BOLD),
        )
    } else {
        let why = ready.reasons.first().cloned().unwrap_or_default();
        Span::styled(format!("✗ not ready: {why}"), theme.tone(Tone::Warn))
    })
}

pub fn draw_large(frame: &mut Frame, area: Rect, model: &Model, theme: &Theme) {
    let block = Block::bordered().title(Span::styled(" Phases ", theme.bold()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(r) = &model.current().rollout else {
        frame.render_widget(
            Paragraph::new(Span::styled("waiting for the backend", theme.dim())),
            inner,
        );
        return;
    };
    let mut lines = Vec::new();
    for (i, step) in r.steps.iter().enumerate() {
        let p = phase_of(r, i);
        let hold = step.hold.map_or_else(|| "—".into(), short_duration);
        let mut style = style_for(theme, p);
        if p == Phase::Current {
            style = style.add_modifier(Modifier::REVERSED);
        }
        lines.push(Line::from(vec![
            Span::styled(format!(" {} {:>3}% ", symbol(p), step.weight), style),
            Span::styled(format!(" hold {hold:<7}"), theme.dim()),
            Span::styled(
                detail(model, r, i).into_iter().next().unwrap_or_default(),
                style_for(theme, p),
            ),
        ]));
    }
    lines.push(Line::from(Span::styled(
        format!(" {}", eta_text(model, r)),
        theme.bold(),
    )));
    if let Some(span) = readiness_span(model, theme) {
        lines.push(Line::from(vec![Span::raw(" "), span]));
    }
    lines.extend(analysis_lines(r, theme));
    let [text, gauge_area] =
        Layout::vertical([Constraint::Min(0), Constraint::Length(1)]).areas(inner);
    frame.render_widget(Paragraph::new(lines), text);
    if let Some(gauge) = hold_gauge(model, r, theme) {
        frame.render_widget(gauge, gauge_area);
    }
}

#[cfg(test)]
mod tests {
    use super::fit_cell;

    #[test]
    fn cells_keep_a_gap_and_take_the_first_wording_that_fits() {
        let paused = ["paused, 1m25s left".to_string(), "‖ 1m25s left".into()];
        // 18 chars in an 18-wide cell would touch the next cell ("…leftfinal").
        assert_eq!(fit_cell(&paused, 18), "‖ 1m25s left      ");
        assert_eq!(fit_cell(&paused, 19), "paused, 1m25s left ");
        assert_eq!(fit_cell(&["rolled back".into()], 8), "rolled… ");
    }
}
