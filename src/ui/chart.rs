//! Baseline vs canary over the selected window: a braille/dot chart for panels, and a one-line
//! block sparkline for the compact table.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, Paragraph};

use chrono::{DateTime, Utc};
use std::time::Duration;

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

/// `width` cells covering the last `window` before `now`, each the mean of the points in its
/// slice of time; a slice without data is a space. The window sets the scale: a canary younger
/// than the window fills only the right-hand cells, and older points are left out.
pub fn sparkline_window(
    series: &Series,
    lo: f64,
    hi: f64,
    width: usize,
    now: DateTime<Utc>,
    window: Duration,
) -> String {
    let cell_ms = window.as_millis().max(1) as f64 / width.max(1) as f64;
    let mut sums = vec![(0.0f64, 0usize); width];
    for s in series.points.iter().filter(|s| s.value.is_finite()) {
        let back = (now - s.at).num_milliseconds();
        if back < 0 {
            continue;
        }
        // Counted back from `now`: the newest point lands in the last cell.
        let from_end = (back as f64 / cell_ms) as usize;
        if let Some(cell) = width.checked_sub(from_end + 1) {
            sums[cell].0 += s.value;
            sums[cell].1 += 1;
        }
    }
    let span = (hi - lo).max(1e-12);
    sums.iter()
        .map(|&(sum, n)| {
            if n == 0 {
                return ' ';
            }
            let mean = sum / n as f64;
            let idx = (((mean - lo) / span) * 7.0).round().clamp(0.0, 7.0) as usize;
            BLOCKS[idx]
        })
        .collect()
}

/// The lowest and highest finite value of `series` within the last `window` before `now`.
pub fn window_bounds<'a>(
    series: impl IntoIterator<Item = &'a Series>,
    now: DateTime<Utc>,
    window: Duration,
) -> (f64, f64) {
    let since = now - chrono::Duration::from_std(window).unwrap_or_default();
    series
        .into_iter()
        .flat_map(|s| &s.points)
        .filter(|s| s.at >= since && s.at <= now && s.value.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), s| {
            (lo.min(s.value), hi.max(s.value))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Sample;

    #[test]
    fn the_sparkline_spans_the_chosen_window() {
        let now = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH + chrono::Duration::hours(2);
        // One point a minute over the last 5 minutes, rising.
        let s = Series::new(
            (0..5)
                .map(|i| Sample {
                    at: now - chrono::Duration::minutes(4 - i),
                    value: i as f64,
                })
                .collect(),
        );
        let five = sparkline_window(&s, 0.0, 4.0, 5, now, Duration::from_secs(300));
        let fifteen = sparkline_window(&s, 0.0, 4.0, 6, now, Duration::from_secs(900));
        let hour = sparkline_window(&s, 0.0, 4.0, 6, now, Duration::from_secs(3600));
        assert_eq!(five, "▁▃▅▆█");
        // 5 minutes of 15 fill the last third; of an hour, the last cell.
        assert_eq!(fifteen, "    ▂▆");
        assert_eq!(hour, "     ▅");
        // Points older than the window are not drawn.
        assert_eq!(
            sparkline_window(&s, 0.0, 4.0, 2, now, Duration::from_secs(60)),
            " █"
        );
        assert_eq!(
            window_bounds([&s], now, Duration::from_secs(120)),
            (2.0, 4.0)
        );
    }

    #[test]
    fn sparkline_scales_and_marks_gaps() {
        let now = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH + chrono::Duration::hours(1);
        let s = Series::new(
            [0.0, 1.0, f64::NAN, 0.5]
                .iter()
                .enumerate()
                .map(|(i, v)| Sample {
                    at: now - chrono::Duration::seconds(3 - i as i64),
                    value: *v,
                })
                .collect(),
        );
        let w = Duration::from_secs(4);
        assert_eq!(sparkline_window(&s, 0.0, 1.0, 4, now, w), "▁█ ▅");
        assert_eq!(
            sparkline_window(&Series::default(), 0.0, 1.0, 3, now, w),
            "   "
        );
    }
}
