//! Baseline vs canary: a dense table for small terminals, one panel per metric for large ones.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, Wrap};

use super::Theme;
use super::{chart, evidence};
use crate::app::Model;
use crate::app::model::{Freshness, MetricPanel};
use crate::domain::format::short_duration;

fn value(panel: &MetricPanel, v: Option<f64>) -> String {
    v.map_or_else(|| "—".into(), |v| panel.def.unit.format(v))
}

fn delta_text(panel: &MetricPanel) -> String {
    let Some(e) = &panel.eval else {
        return "—".into();
    };
    match (e.delta(), e.delta_pct()) {
        (Some(d), Some(p)) => format!("{} {p:+.1}%", panel.def.unit.format_delta(d)),
        (Some(d), None) => panel.def.unit.format_delta(d),
        _ => "—".into(),
    }
}

/// The verdict word with its symbol, plus STALE/ERR when the numbers are not current.
fn verdict_span(panel: &MetricPanel, model: &Model, theme: &Theme) -> Span<'static> {
    let v = panel.verdict();
    let mut text = format!("{} {}", v.symbol(), v.label());
    match panel.freshness(model.now, model.settings.poll_interval) {
        Freshness::Stale { .. } => text.push_str(" STALE"),
        Freshness::Error(_) => text.push_str(" ERR"),
        _ => {}
    }
    Span::styled(text, theme.verdict(v))
}

pub fn draw_table(frame: &mut Frame, area: Rect, model: &Model, theme: &Theme) {
    let spark_w = (area.width as usize).saturating_sub(68).clamp(6, 40);
    let header = Row::new(vec![
        Cell::from(" Metric"),
        Cell::from("Baseline"),
        Cell::from("Canary"),
        Cell::from("Δ"),
        Cell::from(format!("Canary {}", model.chart_window.label())),
        Cell::from("Verdict"),
    ])
    .style(theme.bold());
    let rows = model.panels.iter().enumerate().map(|(i, p)| {
        // The column covers the chosen window (header "Canary 15m"), not whatever was fetched.
        let window = model.chart_window.duration();
        let (lo, hi) =
            chart::window_bounds([&p.series.baseline, &p.series.canary], model.now, window);
        let spark = chart::sparkline_window(&p.series.canary, lo, hi, spark_w, model.now, window);
        let marker = if i == model.focus { "›" } else { " " };
        let e = p.eval.as_ref();
        let row = Row::new(vec![
            Cell::from(format!("{marker}{}", p.def.name)),
            Cell::from(Span::styled(
                value(p, e.and_then(|e| e.baseline)),
                theme.baseline(),
            )),
            Cell::from(Span::styled(
                value(p, e.and_then(|e| e.canary)),
                theme.canary(),
            )),
            Cell::from(delta_text(p)),
            Cell::from(Span::styled(spark, theme.canary())),
            Cell::from(verdict_span(p, model, theme)),
        ]);
        if i == model.focus {
            row.style(Style::new().add_modifier(Modifier::BOLD))
        } else {
            row
        }
    });
    let widths = [
        Constraint::Length(14),
        Constraint::Length(9),
        Constraint::Length(9),
        Constraint::Length(15),
        Constraint::Length(spark_w as u16),
        Constraint::Min(9),
    ];
    frame.render_widget(
        Table::new(rows, widths).header(header).column_spacing(1),
        area,
    );
}

/// Under the table: the focused metric's reason, or its error / staleness; for a sequential
/// judge, its headline and a second line with the evidence.
pub fn draw_focused_reason(frame: &mut Frame, area: Rect, model: &Model, theme: &Theme) {
    let Some(p) = model.panels.get(model.focus) else {
        return;
    };
    let line = Line::from(vec![
        Span::styled(format!(" {}: ", p.def.name), theme.bold()),
        Span::styled(focused_text(p, model), theme.verdict(p.verdict())),
    ]);
    let mut lines = vec![line];
    if area.height > 1 {
        lines.extend(evidence::evidence_line(
            p,
            model,
            theme,
            10,
            area.width < 120,
        ));
    }
    frame.render_widget(Paragraph::new(lines), area);
}

/// What the focused line says: the judge's headline where the judge decides (or the gate has
/// nothing to say), else the reason.
fn focused_text(p: &MetricPanel, model: &Model) -> String {
    let live = matches!(
        p.freshness(model.now, model.settings.poll_interval),
        Freshness::Live
    );
    let gate_quiet = p
        .eval
        .as_ref()
        .is_none_or(|e| !p.def.gate.has_checks() || e.verdict == crate::domain::Verdict::Pass);
    let judge_decides = p.sequential_verdict() == Some(p.verdict());
    match evidence::headline_text(p) {
        Some(text) if live && (judge_decides || gate_quiet) => text,
        _ => reason_text(p, model),
    }
}

fn reason_text(p: &MetricPanel, model: &Model) -> String {
    match p.freshness(model.now, model.settings.poll_interval) {
        Freshness::Stale { age, why } => format!("STALE for {}: {why}", short_duration(age)),
        Freshness::Error(e) => format!("ERROR: {e}"),
        Freshness::Waiting => "waiting for the first answer".into(),
        Freshness::Live => p.reason(),
    }
}

pub fn draw_panels(frame: &mut Frame, area: Rect, model: &Model, theme: &Theme) {
    let n = model.panels.len();
    if n == 0 {
        frame.render_widget(Paragraph::new("no metrics configured"), area);
        return;
    }
    let cols = if area.width >= 100 && n > 1 { 2 } else { 1 };
    let rows = n.div_ceil(cols);
    let row_areas = Layout::vertical(vec![Constraint::Ratio(1, rows as u32); rows]).split(area);
    for (r, row_area) in row_areas.iter().enumerate() {
        let col_areas =
            Layout::horizontal(vec![Constraint::Ratio(1, cols as u32); cols]).split(*row_area);
        for (c, cell) in col_areas.iter().enumerate() {
            let i = r * cols + c;
            if let Some(panel) = model.panels.get(i) {
                draw_panel(frame, *cell, panel, i == model.focus, model, theme);
            }
        }
    }
}

fn draw_panel(
    frame: &mut Frame,
    area: Rect,
    panel: &MetricPanel,
    focused: bool,
    model: &Model,
    theme: &Theme,
) {
    let severity = format!("{:?}", panel.def.gate.severity).to_lowercase();
    let mut block = Block::bordered()
        .title(Line::from(vec![
            Span::styled(format!(" {} ", panel.def.name), theme.bold()),
            Span::styled(format!("({severity}) "), theme.dim()),
        ]))
        .title(
            Line::from(vec![
                Span::raw(" "),
                verdict_span(panel, model, theme),
                Span::raw(" "),
            ])
            .right_aligned(),
        );
    let legend = Line::from(vec![
        Span::styled(" • baseline", theme.baseline()),
        Span::styled(" ⣿ canary", theme.canary()),
        Span::styled(
            format!(" · last {} ", model.chart_window.label()),
            theme.dim(),
        ),
    ]);
    block = block.title_bottom(legend.right_aligned());
    if focused {
        block = block
            .border_style(theme.focus_border())
            .title_bottom(Line::from(Span::styled(" ▶ focused ", theme.bold())));
    }
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let e = panel.eval.as_ref();
    let numbers = Line::from(vec![
        Span::styled("baseline ", theme.dim()),
        Span::styled(
            value(panel, e.and_then(|e| e.baseline)),
            theme.baseline().add_modifier(Modifier::BOLD),
        ),
        Span::styled("  canary ", theme.dim()),
        Span::styled(
            value(panel, e.and_then(|e| e.canary)),
            theme.canary().add_modifier(Modifier::BOLD),
        ),
        Span::styled("  Δ ", theme.dim()),
        Span::raw(delta_text(panel)),
    ]);
    let evidence = evidence::evidence_line(
        panel,
        model,
        theme,
        if area.width < 70 { 8 } else { 16 },
        area.width < 100,
    );
    let [numbers_area, evidence_area, reason_area, chart_area] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(u16::from(evidence.is_some())),
        Constraint::Length(2),
        Constraint::Min(0),
    ])
    .areas(inner);
    frame.render_widget(Paragraph::new(numbers), numbers_area);
    if let Some(line) = evidence {
        frame.render_widget(Paragraph::new(line), evidence_area);
    }
    let reason = Paragraph::new(Span::styled(
        reason_text(panel, model),
        theme.verdict(panel.verdict()),
    ))
    .wrap(Wrap { trim: true });
    frame.render_widget(reason, reason_area);
    if chart_area.height >= 3 {
        chart::draw(frame, chart_area, panel, model, theme);
    }
}
