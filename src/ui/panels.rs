//! Error-budget gauges and the events pane.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, LineGauge, Paragraph};

use super::Theme;
use crate::app::Model;
use crate::app::model::{EventLevel, Freshness, SloPanel, Tone};
use crate::domain::format::short_duration;
use crate::domain::slo::{Alert, BudgetStatus, Exhaustion};

fn budget_tone(left: Option<f64>, min_pct: f64) -> Tone {
    match left {
        None => Tone::Neutral,
        Some(l) if l * 100.0 < min_pct => Tone::Bad,
        Some(l) if l < 0.25 => Tone::Warn,
        Some(_) => Tone::Good,
    }
}

fn budget_text(left: Option<f64>) -> String {
    match left {
        Some(l) if l < 0.0 => format!("OVERSPENT {:.1}%", -l * 100.0),
        Some(l) => format!("{:.1}% left", l * 100.0),
        // No data is never good news: not "∞", not a full gauge.
        None => "budget left unknown".into(),
    }
}

/// When the budget empties at the current burn, in words.
fn exhaustion_text(st: &BudgetStatus) -> String {
    match st.exhaustion() {
        Exhaustion::Unknown => "time to empty unknown".into(),
        Exhaustion::Never => "not burning".into(),
        Exhaustion::Empty => "empty now".into(),
        Exhaustion::In(d) => format!("empty in {}", short_duration(d)),
    }
}

/// What follows the budget and the alert on the compact line, most detailed first: the first
/// that fits is drawn, so burn rates and "empty in" give way before the budget or the alert.
fn budget_row_extras(st: &BudgetStatus, theme: &Theme) -> Vec<Vec<Span<'static>>> {
    let tte = Span::raw(format!("  {}", exhaustion_text(st)));
    if !st.has_burn_data() {
        let burn = Span::styled("  burn unknown", theme.dim());
        return vec![vec![burn, tte.clone()], vec![tte], vec![]];
    }
    let all = Span::styled(
        format!(
            "  burn 5m {} 1h {} 6h {}",
            burn_text(st.burn("5m")),
            burn_text(st.burn("1h")),
            burn_text(st.burn("6h"))
        ),
        theme.dim(),
    );
    let two = Span::styled(
        format!(
            "  burn 1h {} 6h {}",
            burn_text(st.burn("1h")),
            burn_text(st.burn("6h"))
        ),
        theme.dim(),
    );
    let six = Span::styled(
        format!("  burn 6h {}", burn_text(st.burn("6h"))),
        theme.dim(),
    );
    vec![
        vec![all, tte.clone()],
        vec![two, tte.clone()],
        vec![six, tte.clone()],
        vec![tte],
        vec![],
    ]
}

fn burn_text(b: Option<f64>) -> String {
    b.map_or_else(
        || "—".into(),
        |b| {
            if b >= 10.0 {
                format!("{b:.0}×")
            } else {
                format!("{b:.1}×")
            }
        },
    )
}

fn alert_span(alert: Option<Alert>, theme: &Theme) -> Span<'static> {
    match alert {
        Some(Alert::Page) => Span::styled(" PAGE", theme.tone(Tone::Bad)),
        Some(Alert::Ticket) => Span::styled(" TICKET", theme.tone(Tone::Warn)),
        None => Span::styled(" no alert", theme.dim()),
    }
}

fn status_note(slo: &SloPanel, model: &Model) -> Option<String> {
    match slo.freshness(model.now, model.slo_interval()) {
        Freshness::Stale { age, why } => Some(format!("STALE {}: {why}", short_duration(age))),
        Freshness::Error(e) => Some(format!("ERROR: {e}")),
        Freshness::Waiting => Some("waiting for data".into()),
        Freshness::Live => None,
    }
}

/// One line per SLO, for the compact layout.
pub fn draw_budget_rows(frame: &mut Frame, area: Rect, model: &Model, theme: &Theme) {
    let mut lines = vec![Line::from(Span::styled(" Error budget", theme.bold()))];
    for slo in &model.current().slos {
        let st = slo.status.as_ref();
        let left = st.and_then(|s| s.budget_remaining);
        let mut spans = vec![
            Span::raw(format!(" {} {}% ", slo.def.name, slo.def.objective_pct)),
            Span::styled(
                budget_text(left),
                theme.tone(budget_tone(left, model.settings.min_budget_to_promote_pct)),
            ),
        ];
        if let Some(note) = status_note(slo, model) {
            spans.push(Span::styled(format!("  {note}"), theme.tone(Tone::Warn)));
        } else if let Some(st) = st {
            // The alert word sits right after the budget so that it is never the part cut off.
            if st.alert.is_some() {
                spans.push(alert_span(st.alert, theme));
            }
            let used: usize = spans.iter().map(Span::width).sum();
            let room = (area.width as usize).saturating_sub(used);
            if let Some(extra) = budget_row_extras(st, theme)
                .into_iter()
                .find(|e| e.iter().map(Span::width).sum::<usize>() <= room)
            {
                spans.extend(extra);
            }
        }
        lines.push(Line::from(spans));
    }
    frame.render_widget(Paragraph::new(lines), area);
}

/// A block with a gauge and the burn rates per SLO, for the large layout.
pub fn draw_budget_gauges(frame: &mut Frame, area: Rect, model: &Model, theme: &Theme) {
    let block = Block::bordered().title(Span::styled(" Error budget ", theme.bold()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let chunks =
        Layout::vertical(vec![Constraint::Length(5); model.current().slos.len()]).split(inner);
    for (slo, chunk) in model.current().slos.iter().zip(chunks.iter()) {
        let st = slo.status.as_ref();
        let left = st.and_then(|s| s.budget_remaining);
        let [title, gauge, burns, burns2, tail] =
            Layout::vertical([Constraint::Length(1); 5]).areas(*chunk);
        let budget_minutes = slo.def.budget_time().as_secs_f64() / 60.0;
        frame.render_widget(
            Paragraph::new(Line::from(vec![
                Span::styled(format!(" {} ", slo.def.name), theme.bold()),
                Span::styled(
                    format!(
                        "{}% over {} ({budget_minutes:.1}m of budget)",
                        slo.def.objective_pct,
                        short_duration(slo.def.window)
                    ),
                    theme.dim(),
                ),
            ])),
            title,
        );
        let tone = budget_tone(left, model.settings.min_budget_to_promote_pct);
        frame.render_widget(
            LineGauge::default()
                .ratio(left.unwrap_or(0.0).clamp(0.0, 1.0))
                .label(Span::styled(
                    format!(" {:<18}", budget_text(left)),
                    theme.tone(tone),
                ))
                .filled_style(theme.tone(tone))
                .unfilled_style(theme.dim()),
            gauge,
        );
        if let Some(note) = status_note(slo, model) {
            frame.render_widget(
                Paragraph::new(Span::styled(format!(" {note}"), theme.tone(Tone::Warn))),
                burns,
            );
            continue;
        }
        if let Some(st) = st.filter(|st| !st.has_burn_data()) {
            frame.render_widget(
                Paragraph::new(Span::styled(" burn unknown (no data)", theme.dim())),
                burns,
            );
            frame.render_widget(
                Paragraph::new(Line::from(vec![
                    Span::raw(format!(" {} ·", exhaustion_text(st))),
                    Span::styled(" alert unknown", theme.dim()),
                ])),
                tail,
            );
        } else if let Some(st) = st {
            let windows: Vec<String> = st
                .burn_rates
                .iter()
                .map(|(w, b)| format!("{w} {}", burn_text(*b)))
                .collect();
            let (short, long) = windows.split_at(windows.len().min(4));
            frame.render_widget(
                Paragraph::new(Span::styled(
                    format!(" burn {}", short.join("  ")),
                    theme.dim(),
                )),
                burns,
            );
            frame.render_widget(
                Paragraph::new(Span::styled(
                    format!("      {}", long.join("  ")),
                    theme.dim(),
                )),
                burns2,
            );
            frame.render_widget(
                Paragraph::new(Line::from(vec![
                    Span::raw(format!(" {} ·", exhaustion_text(st))),
                    alert_span(st.alert, theme),
                ])),
                tail,
            );
        }
    }
}

pub(super) fn event_symbol(level: EventLevel) -> &'static str {
    match level {
        EventLevel::Info => "·",
        EventLevel::Good => "✓",
        EventLevel::Warn => "!",
        EventLevel::Bad => "✗",
        EventLevel::Action => "»",
    }
}

pub fn draw_events(frame: &mut Frame, area: Rect, model: &Model, theme: &Theme, bordered: bool) {
    let inner = if bordered {
        let block =
            Block::bordered().title(Span::styled(" Events (UTC, newest first) ", theme.bold()));
        let inner = block.inner(area);
        frame.render_widget(block, area);
        inner
    } else {
        let [title, rest] =
            Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
        frame.render_widget(
            Paragraph::new(Span::styled(" Events (UTC, newest first)", theme.bold())),
            title,
        );
        rest
    };
    let lines: Vec<Line> = model
        .current()
        .events
        .iter()
        .take(inner.height as usize)
        .map(|e| {
            let text = format!("{} {}", event_symbol(e.level), e.text);
            // Wrapped in a border; else one line each, a cut marked (`e` shows them whole).
            let text = if bordered {
                text
            } else {
                let room = usize::from(inner.width).saturating_sub(" 00:00:00 ".len());
                crate::domain::format::excerpt(&text, room, crate::domain::format::Keep::Start)
            };
            Line::from(vec![
                Span::styled(format!(" {} ", e.at.format("%H:%M:%S")), theme.dim()),
                Span::styled(text, theme.event(e.level)),
            ])
        })
        .collect();
    let paragraph = Paragraph::new(lines);
    let paragraph = if bordered {
        paragraph.wrap(ratatui::widgets::Wrap { trim: false })
    } else {
        paragraph
    };
    frame.render_widget(paragraph, inner);
}
