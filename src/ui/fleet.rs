//! The fleet list: one row per rollout, most urgent first (the rows come sorted and filtered in
//! `model.derived.fleet_rows`). A header counts the rows per rank, the filter shows while it is
//! set, the footer lists the keys. Columns are chosen to fit: each cell is whole or its column
//! is left out, the least important first (at 160 columns all of them, plus a sparkline of the
//! worst metric's canary series).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::Theme;
use crate::app::Model;
use crate::app::model::{BudgetCell, FleetRow, Tone};
use crate::domain::attention::Attention;
use crate::domain::format::short_duration;
use crate::domain::slo::Alert;
use crate::domain::{RolloutState, Verdict};

/// Points in a row's sparkline.
const SPARK: usize = 12;
const GAP: usize = 2;

pub fn draw(frame: &mut Frame, area: Rect, model: &Model, theme: &Theme) {
    let filter_lines = u16::from(model.fleet.typing || !model.fleet.filter.is_empty());
    // The newest event always; the one before too when the rows leave room for it (an action's
    // outcome and the rank change it caused arrive together).
    let rows_need = 3 + filter_lines + model.derived.fleet_rows.len() as u16;
    let room = area.height.saturating_sub(rows_need).clamp(1, 2);
    let event_lines = (model.fleet_events.len() as u16).min(room);
    let [head, filter, columns, body, news, foot] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(filter_lines),
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(event_lines),
        Constraint::Length(1),
    ])
    .areas(area);
    if event_lines > 0 {
        draw_news(frame, news, model, theme);
    }
    draw_header(frame, head, model, theme);
    if filter_lines > 0 {
        draw_filter(frame, filter, model, theme);
    }
    let rows = &model.derived.fleet_rows;
    if rows.is_empty() {
        let text = if model.fleet.filter.is_empty() {
            " no rollouts yet".to_string()
        } else {
            format!(
                " no rollout matches \"{}\" (Esc clears the filter)",
                model.fleet.filter
            )
        };
        frame.render_widget(Paragraph::new(Span::styled(text, theme.dim())), body);
    } else {
        let cols = choose_columns(model, rows, usize::from(area.width));
        frame.render_widget(Paragraph::new(title_line(&cols, theme)), columns);
        draw_rows(frame, body, model, &cols, theme);
    }
    draw_footer(frame, foot, model, theme);
}

/// The rank's word in the ATTENTION column: marks a finished row without colour.
fn rank_word(rank: Attention) -> &'static str {
    match rank {
        Attention::RollbackAdvised => "ROLL BACK",
        Attention::Unreadable => "UNKNOWN",
        Attention::WaitingForHuman => "WAITING",
        Attention::ReadyToPromote => "READY",
        Attention::Progressing => "running",
        Attention::Finished => "done",
    }
}

fn rank_tone(rank: Attention) -> Tone {
    match rank {
        Attention::RollbackAdvised => Tone::Bad,
        Attention::Unreadable | Attention::WaitingForHuman => Tone::Warn,
        Attention::ReadyToPromote => Tone::Good,
        Attention::Progressing | Attention::Finished => Tone::Neutral,
    }
}

/// The header's counts, longest words first: "1 rollback advised · 2 progressing".
fn count_forms(model: &Model) -> Vec<String> {
    let counts = &model.derived.fleet_counts;
    let total: usize = counts.iter().map(|(_, n)| n).sum();
    let long: Vec<String> = counts
        .iter()
        .map(|(rank, n)| format!("{n} {}", rank.label()))
        .collect();
    let short: Vec<String> = counts
        .iter()
        .map(|(rank, n)| format!("{n} {}", rank_word(*rank).to_lowercase()))
        .collect();
    vec![
        format!(" Fleet: {total} rollouts   {}", long.join(" · ")),
        format!(" {total} rollouts: {}", long.join(" · ")),
        format!(" {total} rollouts: {}", short.join(" · ")),
        format!(" {total}: {}", short.join(" · ")),
    ]
}

fn draw_header(frame: &mut Frame, area: Rect, model: &Model, theme: &Theme) {
    let width = usize::from(area.width);
    let forms = count_forms(model);
    let text = forms
        .iter()
        .find(|f| f.chars().count() <= width)
        .unwrap_or(&forms[forms.len() - 1])
        .clone();
    let mut spans = vec![Span::styled(text, theme.bold())];
    if model.settings.read_only {
        spans.push(Span::raw("  "));
        spans.push(Span::styled(" READ-ONLY ", theme.badge()));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn draw_filter(frame: &mut Frame, area: Rect, model: &Model, theme: &Theme) {
    let shown = model.derived.fleet_rows.len();
    let total: usize = model.derived.fleet_counts.iter().map(|(_, n)| n).sum();
    let cursor = if model.fleet.typing { "▏" } else { "" };
    let hint = if model.fleet.typing {
        "Enter keeps it, Esc clears"
    } else {
        "Esc clears"
    };
    let line = Line::from(vec![
        Span::styled(" filter /", theme.bold()),
        Span::styled(
            format!("{}{cursor}", model.fleet.filter),
            theme.focus_border(),
        ),
        Span::styled(format!("  {shown} of {total} shown · {hint}"), theme.dim()),
    ]);
    frame.render_widget(Paragraph::new(line), area);
}

/// The fleet's newest event (a rollout changed rank, appeared, an action's outcome), with its
/// age; `e` is not needed to see that something moved.
fn draw_news(frame: &mut Frame, area: Rect, model: &Model, theme: &Theme) {
    let lines: Vec<Line> = model
        .fleet_events
        .iter()
        .take(usize::from(area.height))
        .map(|event| {
            let when = format!(
                " {} ago ",
                short_duration(crate::domain::format::age(event.at, model.now))
            );
            let room = usize::from(area.width).saturating_sub(when.chars().count() + 1);
            let text = crate::domain::format::excerpt(
                &event.text,
                room,
                crate::domain::format::Keep::Start,
            );
            Line::from(vec![
                Span::styled(when, theme.dim()),
                Span::styled(text, theme.event(event.level)),
            ])
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), area);
}

/// The keys the footer leaves out first when it is too narrow for all (each is in the help).
const FOOTER_DROP_ORDER: [&str; 4] = ["P", "j/k", "/", "t"];

fn draw_footer(frame: &mut Frame, area: Rect, model: &Model, theme: &Theme) {
    let mut lead = Vec::new();
    if model.settings.read_only {
        lead.push(Span::styled(" READ-ONLY ", theme.badge()));
    }
    let line = super::footer::keys_line(
        lead,
        &model.derived.footer_keys,
        area.width,
        &FOOTER_DROP_ORDER,
        theme,
    );
    frame.render_widget(Paragraph::new(line), area);
}

/// One column: its title, how it fills a cell, and how important it is (0 = always kept).
type Cell = fn(&FleetRow, &Model) -> (String, Tone);

struct Column {
    title: &'static str,
    priority: u8,
    width: usize,
    cell: Cell,
    /// Shorter words for the same facts, tried for room when the columns of a higher priority
    /// are gone (at this priority, not the column's own: a state's symbol can stand in for its
    /// word well before the state is worth dropping).
    compact: Option<(u8, Cell)>,
    /// In its shorter words now.
    shortened: bool,
}

fn dash() -> (String, Tone) {
    ("—".into(), Tone::Neutral)
}

fn attention_cell(r: &FleetRow, _: &Model) -> (String, Tone) {
    (rank_word(r.rank).into(), rank_tone(r.rank))
}

fn name_cell(r: &FleetRow, _: &Model) -> (String, Tone) {
    (r.name.clone(), Tone::Neutral)
}

fn namespace_cell(r: &FleetRow, _: &Model) -> (String, Tone) {
    r.namespace
        .clone()
        .map_or_else(dash, |ns| (ns, Tone::Neutral))
}

fn state_cell(r: &FleetRow, _: &Model) -> (String, Tone) {
    match (r.state, &r.read_error) {
        (_, Some(_)) => ("? UNREADABLE".into(), Tone::Bad),
        (None, None) => ("… NOT READ YET".into(), Tone::Warn),
        (Some(s), None) => {
            let (symbol, tone) = match s {
                RolloutState::Progressing => ("▶", Tone::Neutral),
                RolloutState::Paused => ("‖", Tone::Warn),
                RolloutState::Completed => ("✓", Tone::Good),
                RolloutState::RolledBack => ("↩", Tone::Bad),
                RolloutState::Failed => ("✗", Tone::Bad),
            };
            (format!("{symbol} {}", s.label()), tone)
        }
    }
}

/// The state's symbol alone (▶ ‖ ✓ ↩ ✗); a row that could not be read keeps its words.
fn state_compact_cell(r: &FleetRow, model: &Model) -> (String, Tone) {
    let (words, tone) = state_cell(r, model);
    match r.state {
        Some(_) if r.read_error.is_none() => (
            words.split_whitespace().next().unwrap_or_default().into(),
            tone,
        ),
        _ => (words, tone),
    }
}

fn step_cell(r: &FleetRow, _: &Model) -> (String, Tone) {
    r.step
        .map_or_else(dash, |(i, n, w)| (format!("{i}/{n} {w}%"), Tone::Neutral))
}

fn verdict_tone(v: Verdict) -> Tone {
    match v {
        Verdict::Fail => Tone::Bad,
        Verdict::Pass => Tone::Good,
        Verdict::Collecting => Tone::Neutral,
        Verdict::Warn | Verdict::NoData | Verdict::Pending => Tone::Warn,
    }
}

/// Before the metrics' first answer: neither a verdict nor NO DATA is known yet.
const READING: &str = "… reading";

fn worst_cell(r: &FleetRow, _: &Model) -> (String, Tone) {
    if !r.metrics_read && r.worst.is_some() {
        return (READING.into(), Tone::Neutral);
    }
    // A completed or rolled-back rollout has no canary left to judge: its metrics' NO DATA
    // is no news. A FAIL or WARN stays: it says why it ended.
    let no_news = r
        .worst
        .as_ref()
        .is_some_and(|(v, _, _)| !v.is_news_after_the_end());
    if finished(r) && no_news {
        return ("— nothing to judge".into(), Tone::Neutral);
    }
    match &r.worst {
        None => ("no metrics".into(), Tone::Warn),
        Some((Verdict::Pass, _, _)) => ("✓ all PASS".into(), Tone::Good),
        // Its query failed: the panel says why (Enter), the row that it is not an empty series.
        Some((Verdict::NoData, metric, _)) if r.worst_failed => {
            (format!("? ERR {metric}"), Tone::Warn)
        }
        Some((v, metric, _)) => (
            format!("{} {} {metric}", v.symbol(), v.label()),
            verdict_tone(*v),
        ),
    }
}

/// Completed or rolled back: no canary left to judge.
fn finished(r: &FleetRow) -> bool {
    r.state.is_some_and(RolloutState::is_finished)
}

fn judge_cell(r: &FleetRow, _: &Model) -> (String, Tone) {
    let Some((tone, text)) = r.judge.clone() else {
        return dash();
    };
    if !r.metrics_read {
        return ("…".into(), Tone::Neutral);
    }
    if finished(r) && text == "collecting" {
        return dash();
    }
    // The judge blaming the metric the WORST column names: its verdict alone says it.
    match &r.worst {
        Some((_, metric, _)) if text.ends_with(&format!(" {metric}")) => {
            let short = text[..text.len() - metric.len() - 1].to_string();
            (short, tone)
        }
        _ => (text, tone),
    }
}

fn budget_cell(r: &FleetRow, _: &Model) -> (String, Tone) {
    let Some(BudgetCell {
        left,
        alert,
        burn_measured,
        failed,
        ..
    }) = &r.budget
    else {
        return dash();
    };
    if !r.metrics_read {
        return (READING.into(), Tone::Neutral);
    }
    let left_words = match left {
        Some(l) if *l < 0.0 => format!("OVERSPENT {:.0}%", -l * 100.0),
        Some(l) => format!("{:.0}% left", l * 100.0),
        None if *failed => "? ERR".into(),
        None => "? NO DATA".into(),
    };
    match alert {
        Some(Alert::Page) => (format!("{left_words} PAGE"), Tone::Bad),
        Some(Alert::Ticket) => (format!("{left_words} TICKET"), Tone::Warn),
        None if left.is_none() => (left_words, Tone::Warn),
        None if !burn_measured => (format!("{left_words}, burn ?"), Tone::Warn),
        None => (left_words, Tone::Neutral),
    }
}

/// The budget in a few letters, for 80 columns: the alert when there is one (what needs a
/// human), else what is left.
fn budget_compact_cell(r: &FleetRow, model: &Model) -> (String, Tone) {
    let Some(BudgetCell {
        left,
        alert,
        failed,
        ..
    }) = &r.budget
    else {
        return dash();
    };
    if !r.metrics_read {
        return ("…".into(), Tone::Neutral);
    }
    let (_, tone) = budget_cell(r, model);
    let words = match (alert, left) {
        (Some(Alert::Page), _) => "PAGE".into(),
        (Some(Alert::Ticket), _) => "TICKET".into(),
        (None, Some(l)) if *l < 0.0 => "OVERSPENT".into(),
        (None, Some(l)) => format!("{:.0}%", l * 100.0),
        (None, None) if *failed => "ERR".into(),
        (None, None) => "no data".into(),
    };
    (words, tone)
}

fn hold_cell(r: &FleetRow, _: &Model) -> (String, Tone) {
    (r.hold.clone(), Tone::Neutral)
}

fn paused_cell(r: &FleetRow, _: &Model) -> (String, Tone) {
    match &r.paused {
        None => dash(),
        Some((who, Some(ago))) => (format!("{who} {} ago", short_duration(*ago)), Tone::Warn),
        Some((who, None)) => (who.clone(), Tone::Warn),
    }
}

fn action_cell(r: &FleetRow, _: &Model) -> (String, Tone) {
    match &r.last_action {
        None => dash(),
        Some((Some(ago), text)) => (
            format!("{} ago {text}", short_duration(*ago)),
            Tone::Neutral,
        ),
        Some((None, text)) => (text.clone(), Tone::Neutral),
    }
}

/// The worst metric's canary series over its last points, as block characters (empty when
/// there is nothing to draw: the column then reads "—", never a flat line made up).
fn spark_cell(r: &FleetRow, model: &Model) -> (String, Tone) {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let Some(panel) = r
        .worst
        .as_ref()
        .and_then(|(_, _, i)| model.rollouts.get(r.index)?.panels.get(*i))
    else {
        return dash();
    };
    let points = &panel.series.canary.points;
    let values: Vec<f64> = points[points.len().saturating_sub(SPARK)..]
        .iter()
        .map(|s| s.value)
        .filter(|v| v.is_finite())
        .collect();
    if values.is_empty() {
        return dash();
    }
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let text = values
        .iter()
        .map(|v| {
            let share = if hi > lo { (v - lo) / (hi - lo) } else { 0.0 };
            BARS[((share * 7.0).round() as usize).min(7)]
        })
        .collect();
    (text, Tone::Neutral)
}

fn all_columns(rows: &[FleetRow]) -> Vec<Column> {
    let namespaced = rows.iter().any(|r| r.namespace.is_some());
    let mut cols = vec![
        Column {
            title: "ATTENTION",
            priority: 0,
            width: 0,
            cell: attention_cell,
            compact: None,
            shortened: false,
        },
        Column {
            title: "ROLLOUT",
            priority: 0,
            width: 0,
            cell: name_cell,
            compact: None,
            shortened: false,
        },
    ];
    if namespaced {
        cols.push(Column {
            title: "NAMESPACE",
            priority: 2,
            width: 0,
            cell: namespace_cell,
            compact: None,
            shortened: false,
        });
    }
    cols.extend([
        Column {
            title: "STATE",
            priority: 1,
            width: 0,
            cell: state_cell,
            // Its symbol before the budget is cut: ATTENTION says most of the word.
            compact: Some((5, state_compact_cell)),
            shortened: false,
        },
        Column {
            title: "STEP",
            priority: 3,
            width: 0,
            cell: step_cell,
            compact: None,
            shortened: false,
        },
        Column {
            title: "WORST METRIC",
            priority: 2,
            width: 0,
            cell: worst_cell,
            compact: None,
            shortened: false,
        },
        Column {
            title: "JUDGE",
            priority: 5,
            width: 0,
            cell: judge_cell,
            compact: None,
            shortened: false,
        },
        Column {
            title: "BUDGET",
            priority: 4,
            width: 0,
            cell: budget_cell,
            compact: Some((4, budget_compact_cell)),
            shortened: false,
        },
        Column {
            title: "HOLD",
            priority: 6,
            width: 0,
            cell: hold_cell,
            compact: None,
            shortened: false,
        },
        Column {
            title: "PAUSED BY",
            priority: 7,
            width: 0,
            cell: paused_cell,
            compact: None,
            shortened: false,
        },
        Column {
            title: "LAST ACTION",
            priority: 9,
            width: 0,
            cell: action_cell,
            compact: None,
            shortened: false,
        },
    ]);
    // The sparkline goes first when room is short.
    cols.push(Column {
        title: "CANARY TREND",
        priority: 10,
        width: 0,
        cell: spark_cell,
        compact: None,
        shortened: false,
    });
    cols
}

/// The columns that fit in `width`, in display order: each as wide as its widest cell (words
/// stay whole) plus the gap after it; the least important go first until the rest fit. Two
/// spaces between columns, or one when that keeps a column the two would drop or shorten.
fn choose_columns(model: &Model, rows: &[FleetRow], width: usize) -> Vec<Column> {
    let wide = fit_columns(model, rows, width, GAP);
    let narrow = fit_columns(model, rows, width, 1);
    // More columns first, then more of them in their full words.
    let kept = |cols: &[Column]| {
        let shortened = cols.iter().filter(|c| c.shortened).count();
        (cols.len(), usize::MAX - shortened)
    };
    if kept(&narrow) > kept(&wide) {
        narrow
    } else {
        wide
    }
}

fn fit_columns(model: &Model, rows: &[FleetRow], width: usize, gap: usize) -> Vec<Column> {
    let mut cols = all_columns(rows);
    let measure = |c: &Column| {
        gap + rows
            .iter()
            .map(|r| (c.cell)(r, model).0.chars().count())
            .chain([c.title.chars().count()])
            .max()
            .unwrap_or(0)
    };
    for c in &mut cols {
        c.width = measure(c);
    }
    // Two for the cursor.
    let total = |cols: &[Column]| 2 + cols.iter().map(|c| c.width).sum::<usize>();
    while total(&cols) > width {
        // A column's shorter words at their own priority, if it has them; dropped at its
        // priority when even those do not fit.
        let turn = |c: &Column| c.compact.map_or(c.priority, |(priority, _)| priority);
        let Some(drop) = cols
            .iter()
            .enumerate()
            .filter(|(_, c)| c.priority > 0)
            .max_by_key(|(i, c)| (turn(c), *i))
            .map(|(i, _)| i)
        else {
            break;
        };
        match cols[drop].compact.take() {
            Some((_, compact)) => {
                cols[drop].cell = compact;
                cols[drop].shortened = true;
                cols[drop].width = measure(&cols[drop]);
            }
            None => {
                cols.remove(drop);
            }
        }
    }
    cols
}

fn title_line(cols: &[Column], theme: &Theme) -> Line<'static> {
    let mut spans = vec![Span::raw("  ")];
    for c in cols {
        spans.push(Span::styled(
            format!("{:<w$}", c.title, w = c.width),
            theme.bold(),
        ));
    }
    Line::from(spans)
}

fn draw_rows(frame: &mut Frame, area: Rect, model: &Model, cols: &[Column], theme: &Theme) {
    let rows = &model.derived.fleet_rows;
    let visible = usize::from(area.height);
    if visible == 0 {
        return;
    }
    let at = rows
        .iter()
        .position(|r| r.index == model.fleet.selected)
        .unwrap_or(0);
    // Keep the selected row on screen.
    let first = at.saturating_sub(visible - 1);
    let mut lines = Vec::new();
    for r in rows.iter().skip(first).take(visible) {
        let selected = r.index == model.fleet.selected;
        let finished = r.rank == Attention::Finished;
        let base = if selected {
            Style::new().add_modifier(Modifier::REVERSED)
        } else {
            Style::new()
        };
        let mut spans = vec![Span::styled(if selected { "› " } else { "  " }, base)];
        for c in cols {
            let (text, tone) = (c.cell)(r, model);
            let style = if finished {
                theme.dim()
            } else {
                theme.tone(tone)
            };
            spans.push(Span::styled(
                format!("{text:<w$}", w = c.width),
                base.patch(style),
            ));
        }
        lines.push(Line::from(spans));
    }
    // Each row straight into the buffer, cut at the list's width: a Paragraph cut them again
    // grapheme by grapheme, a twentieth of a fleet console's CPU at one frame a second.
    let buffer = frame.buffer_mut();
    for (y, line) in (area.y..area.bottom()).zip(&lines) {
        buffer.set_line(area.x, y, line, area.width);
    }
}
