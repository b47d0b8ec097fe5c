//! Baseline vs canary over the selected window: a braille/dot chart for panels, and a one-line
//! block sparkline for the compact table.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, Paragraph};

use super::Theme;
use crate::app::Model;
use crate::app::model::MetricPanel;
use crate::domain::Series;

fn points(series: &Series, model: &Model) -> Vec<(f64, f64)> {
    series
        .points
        .iter()
        .filter(|s| s.value.is_finite())
        .map(|s| {
            (
                (s.at - model.now).num_milliseconds() as f64 / 1000.0,
                s.value,
            )
        })
        .collect()
}

fn y_bounds(all: &[(f64, f64)]) -> Option<[f64; 2]> {
    let (lo, hi) = all
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (_, y)| {
            (lo.min(*y), hi.max(*y))
        });
    if !lo.is_finite() {
        return None;
    }
    let pad = ((hi - lo) * 0.1).max(hi.abs() * 0.02).max(1e-9);
    Some([
        (lo - pad).max(if lo >= 0.0 { 0.0 } else { f64::NEG_INFINITY }),
        hi + pad,
    ])
}

/// The chart alone; says NO DATA in words when there is nothing to draw.
pub fn draw(frame: &mut Frame, area: Rect, panel: &MetricPanel, model: &Model, theme: &Theme) {
    let baseline = points(&panel.series.baseline, model);
    let canary = points(&panel.series.canary, model);
    let all: Vec<_> = baseline.iter().chain(&canary).copied().collect();
    let Some(bounds) = y_bounds(&all) else {
        let text = Paragraph::new(Span::styled("NO DATA in this window", theme.dim())).centered();
        frame.render_widget(text, area);
        return;
    };
    let window = model.chart_window.duration().as_secs_f64();
    let unit = panel.def.unit;
    let datasets = vec![
        Dataset::default()
            .name("baseline")
            .marker(Marker::Dot)
            .graph_type(GraphType::Scatter)
            .style(theme.baseline())
            .data(&baseline),
        Dataset::default()
            .name("canary")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(theme.canary())
            .data(&canary),
    ];
    let chart = Chart::new(datasets)
        .x_axis(
            Axis::default()
                .bounds([-window, 0.0])
                .labels([
                    Span::styled(format!("-{}", model.chart_window.label()), theme.dim()),
                    Span::styled("now", theme.dim()),
                ])
                .style(theme.dim()),
        )
        .y_axis(
            Axis::default()
                .bounds(bounds)
                .labels([
                    Span::styled(unit.format(bounds[0]), theme.dim()),
                    Span::styled(unit.format(bounds[1]), theme.dim()),
                ])
                .style(theme.dim()),
        )
        .legend_position(None);
    frame.render_widget(chart, area);
}

/// A chart with a one-line title naming the metric, the window and the legend.
pub fn draw_titled(
    frame: &mut Frame,
    area: Rect,
    panel: &MetricPanel,
    model: &Model,
    theme: &Theme,
) {
    let [title, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    let line = Line::from(vec![
        Span::styled(format!(" {} ", panel.def.name), theme.bold()),
        Span::styled(
            format!("last {} · ", model.chart_window.label()),
            theme.dim(),
        ),
        Span::styled("• baseline", theme.baseline()),
        Span::raw("  "),
        Span::styled("⣿ canary", theme.canary()),
    ]);
    frame.render_widget(Paragraph::new(line), title);
    draw(frame, body, panel, model, theme);
}

const BLOCKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// `width` block characters for `series`, scaled to `[lo, hi]`; a gap is a space.
pub fn sparkline(series: &Series, lo: f64, hi: f64, width: usize) -> String {
    let values: Vec<f64> = series.points.iter().map(|s| s.value).collect();
    if values.is_empty() || width == 0 {
        return " ".repeat(width);
    }
    let per = (values.len() as f64 / width as f64).max(1.0);
    let mut out = String::new();
    let cells = width.min(values.len());
    for i in 0..cells {
        let start = (i as f64 * per) as usize;
        let end = (((i + 1) as f64 * per) as usize).clamp(start + 1, values.len());
        let finite: Vec<f64> = values[start..end]
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .collect();
        if finite.is_empty() {
            out.push(' ');
            continue;
        }
        let mean = finite.iter().sum::<f64>() / finite.len() as f64;
        let span = (hi - lo).max(1e-12);
        let idx = (((mean - lo) / span) * 7.0).round().clamp(0.0, 7.0) as usize;
        out.push(BLOCKS[idx]);
    }
    // Right-align: the newest value sits at the right edge.
    format!("{out:>width$}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Sample;

    #[test]
    fn sparkline_scales_and_marks_gaps() {
        let t = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
        let s = Series::new(
            [0.0, 1.0, f64::NAN, 0.5]
                .iter()
                .map(|v| Sample { at: t, value: *v })
                .collect(),
        );
        assert_eq!(sparkline(&s, 0.0, 1.0, 4), "▁█ ▅");
        assert_eq!(sparkline(&s, 0.0, 1.0, 6), "  ▁█ ▅");
        assert_eq!(sparkline(&Series::default(), 0.0, 1.0, 3), "   ");
    }
}
