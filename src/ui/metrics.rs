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
use crate::domain::format::{Keep, change_pct, compact_number, excerpt, short_duration};
use crate::domain::metric::{EmptyAnswer, EmptyTrack};

fn value(panel: &MetricPanel, v: Option<f64>) -> String {
    v.map_or_else(|| "—".into(), |v| panel.def.unit.format(v))
}

/// Δ as the canary's change over the baseline, in at most `width` columns: fewer decimals and
/// shorter numbers first, then only one of the two figures; never longer than the column.
fn delta_text(panel: &MetricPanel, width: usize) -> String {
    let Some(e) = &panel.eval else {
        return "—".into();
    };
    let unit = panel.def.unit;
    let (d, p) = (e.delta(), e.delta_pct());
    // Rates in k/M ("+15.4k rps"); other units are short already.
    let short_d = d.map(|d| match unit {
        crate::domain::Unit::Rps => {
            let sign = if d >= 0.0 { "+" } else { "-" };
            format!("{sign}{} rps", compact_number(d.abs()))
        }
        _ => unit.format_delta(d),
    });
    let d = d.map(|d| unit.format_delta(d));
    let forms: Vec<String> = match (d, short_d, p) {
        (Some(d), Some(sd), Some(p)) => vec![
            format!("{d} {}", change_pct(p, false)),
            format!("{d} {}", change_pct(p, true)),
            format!("{sd} {}", change_pct(p, true)),
            sd,
            change_pct(p, false),
        ],
        (Some(d), Some(sd), None) => vec![d, sd],
        _ => vec!["—".into()],
    };
    let fits = |f: &&String| f.chars().count() <= width;
    match forms.iter().find(fits).or(forms.last()) {
        Some(f) => f.chars().take(width).collect(),
        None => "—".into(),
    }
}

/// The verdict word with its symbol, plus STALE/ERR when the numbers are not current.
fn verdict_span(panel: &MetricPanel, model: &Model, theme: &Theme) -> Span<'static> {
    let v = panel.verdict();
    if model.current().is_finished() && !v.is_news_after_the_end() {
        // Its canary is gone: "NO DATA" or "COLLECTING" would read as something to wait for.
        return Span::styled("— ended", theme.dim());
    }
    let mut text = format!("{} {}", v.symbol(), v.label());
    match panel.freshness(model.now, model.settings.poll_interval) {
        Freshness::Stale { .. } => text.push_str(" STALE"),
        Freshness::Error(_) => text.push_str(" ERR"),
        _ => {}
    }
    Span::styled(text, theme.verdict(v))
}

/// The table's Δ column, in characters.
const DELTA_WIDTH: usize = 15;

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
    let rows = model.current().panels.iter().enumerate().map(|(i, p)| {
        // The column covers the chosen window (header "Canary 15m"), not whatever was fetched.
        let window = model.chart_window.duration();
        let (lo, hi) =
            chart::window_bounds([&p.series.baseline, &p.series.canary], model.now, window);
        let spark = chart::sparkline_window(&p.series.canary, lo, hi, spark_w, model.now, window);
        let marker = if i == model.current().focus {
            "›"
        } else {
            " "
        };
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
            Cell::from(delta_text(p, DELTA_WIDTH)),
            Cell::from(Span::styled(spark, theme.canary())),
            Cell::from(verdict_span(p, model, theme)),
        ]);
        if i == model.current().focus {
            row.style(Style::new().add_modifier(Modifier::BOLD))
        } else {
            row
        }
    });
    let widths = [
        Constraint::Length(14),
        Constraint::Length(9),
        Constraint::Length(9),
        Constraint::Length(DELTA_WIDTH as u16),
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
    let Some(p) = model.current().panels.get(model.current().focus) else {
        return;
    };
    let name = format!(" {}: ", p.def.name);
    // Whole, or cut with a mark: a reason cut mid-word reads as the whole reason.
    let room = usize::from(area.width).saturating_sub(name.chars().count());
    let text = excerpt(&focused_text(p, model, room), room, Keep::Start);
    let line = Line::from(vec![
        Span::styled(name, theme.bold()),
        Span::styled(text, theme.verdict(p.verdict())),
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
/// nothing to say), else the reason; the judge's in its compact form when the full one is
/// longer than `room`.
fn focused_text(p: &MetricPanel, model: &Model, room: usize) -> String {
    let live = matches!(
        p.freshness(model.now, model.settings.poll_interval),
        Freshness::Live
    );
    let gate_quiet = p
        .eval
        .as_ref()
        .is_none_or(|e| !p.def.gate.has_checks() || e.verdict == crate::domain::Verdict::Pass);
    let judge_decides = p.sequential_verdict() == Some(p.verdict());
    match evidence::headline_text(p, room) {
        Some(text) if live && (judge_decides || gate_quiet) => text,
        _ => reason_text(p, model),
    }
}

fn reason_text(p: &MetricPanel, model: &Model) -> String {
    let empty = p.empty.as_ref().map(empty_words);
    match (p.freshness(model.now, model.settings.poll_interval), empty) {
        (Freshness::Stale { age, .. }, Some(words)) => {
            format!("STALE for {}: {words}", short_duration(age))
        }
        (Freshness::Stale { age, why }, None) => {
            format!("STALE for {}: {why}", short_duration(age))
        }
        (Freshness::Error(e), _) => format!("ERROR: {e}"),
        (Freshness::Waiting | Freshness::Live, Some(words)) => words,
        // An answer came, with no series in it.
        (Freshness::Waiting, None) if p.eval.is_some() => {
            "no series: the query returned no series for either track".into()
        }
        (Freshness::Waiting, None) => "waiting for the first answer".into(),
        (Freshness::Live, None) => p.reason(),
    }
}

/// Which track had no series, as in "no series for the canary".
fn track_words(track: EmptyTrack) -> &'static str {
    match track {
        EmptyTrack::Both => "either track",
        EmptyTrack::Baseline => "the baseline",
        EmptyTrack::Canary => "the canary",
    }
}

/// Why an answer had no series, whole, for the detail view: a headline, and `explain`'s
/// findings one by one (none for the coarse answers, whose headline says it all).
pub(super) fn empty_detail(e: &EmptyAnswer) -> (String, Vec<String>) {
    match e {
        EmptyAnswer::Diagnosed { track, words } => (
            format!("no series for {}, because:", track_words(*track)),
            words.clone(),
        ),
        coarse => (empty_words(coarse), Vec::new()),
    }
}

/// Why an answer had no series, in words that say what to fix (one line: the first finding).
fn empty_words(e: &EmptyAnswer) -> String {
    match e {
        EmptyAnswer::Diagnosed { track, words } => match words.first() {
            Some(first) => format!("no series for {}: {first}", track_words(*track)),
            None => format!("no series for {}", track_words(*track)),
        },
        EmptyAnswer::MetricMissing { name } => format!(
            "no series: Prometheus has no metric named {name} (a typo, or nothing scrapes it)"
        ),
        EmptyAnswer::SelectorEmpty { track } => {
            let which = track_words(*track);
            let selector = match track {
                EmptyTrack::Both => "neither track's selector matches",
                EmptyTrack::Baseline => "the baseline selector matches none of",
                EmptyTrack::Canary => "the canary selector matches none of",
            };
            let tail = if *track == EmptyTrack::Both {
                "any of its series"
            } else {
                "its series"
            };
            format!("no series for {which}: the metric exists, but {selector} {tail}")
        }
    }
}

pub fn draw_panels(frame: &mut Frame, area: Rect, model: &Model, theme: &Theme) {
    let n = model.current().panels.len();
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
            if let Some(panel) = model.current().panels.get(i) {
                draw_panel(
                    frame,
                    *cell,
                    panel,
                    i == model.current().focus,
                    model,
                    theme,
                );
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
    let mut numbers = Line::from(vec![
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
    ]);
    let room = (inner.width as usize).saturating_sub(numbers.width());
    numbers.push_span(Span::raw(delta_text(panel, room)));
    let evidence = evidence::evidence_line(
        panel,
        model,
        theme,
        if area.width < 70 { 8 } else { 16 },
        area.width < 100,
    );
    let why = reason_text(panel, model);
    // The whole reason, up to 4 lines, as long as the chart keeps 8 rows; never under 2 lines
    // so the chart does not jump with each short reason.
    let spare = inner
        .height
        .saturating_sub(1 + u16::from(evidence.is_some()) + 8);
    let reason_h = (wrapped_lines(&why, inner.width as usize) as u16)
        .min(4)
        .min(spare)
        .max(2);
    let [numbers_area, evidence_area, reason_area, chart_area] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(u16::from(evidence.is_some())),
        Constraint::Length(reason_h),
        Constraint::Min(0),
    ])
    .areas(inner);
    frame.render_widget(Paragraph::new(numbers), numbers_area);
    if let Some(line) = evidence {
        frame.render_widget(Paragraph::new(line), evidence_area);
    }
    let reason =
        Paragraph::new(Span::styled(why, theme.verdict(panel.verdict()))).wrap(Wrap { trim: true });
    frame.render_widget(reason, reason_area);
    if chart_area.height >= 3 {
        chart::draw(frame, chart_area, panel, model, theme);
    }
}

/// How many lines `text` takes word-wrapped at `width` (as `Wrap { trim: true }` does, near
/// enough: a word longer than the line is cut into pieces).
fn wrapped_lines(text: &str, width: usize) -> usize {
    if width == 0 {
        return 0;
    }
    let mut lines = 1;
    let mut used = 0;
    for word in text.split_whitespace() {
        let w = word.chars().count();
        let need = if used == 0 { w } else { used + 1 + w };
        if need <= width {
            used = need;
        } else if w <= width {
            lines += 1;
            used = w;
        } else {
            // A word longer than a line: it starts a line and fills whole ones.
            lines += usize::from(used > 0) + (w - 1) / width;
            used = (w - 1) % width + 1;
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::wrapped_lines;

    #[test]
    fn wrapped_lines_counts_word_wrapped_lines() {
        assert_eq!(wrapped_lines("", 10), 1);
        assert_eq!(wrapped_lines("aaa bbb", 7), 1);
        assert_eq!(wrapped_lines("aaa bbb", 6), 2);
        assert_eq!(wrapped_lines("aaa bbbbbbbbbbbbb", 6), 4);
    }
}
