//! `e`: the whole event log (the panel shows the newest few, cut at its width), newest first,
//! each event whole and wrapped.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::Theme;
use super::detail::{draw_scrolled, wrap};
use super::panels::event_symbol;
use crate::app::Model;

fn frame_of(area: Rect) -> Rect {
    super::layout::centered(
        area,
        area.width.saturating_sub(2).min(140),
        area.height.saturating_sub(2),
    )
}

/// The last event worth scrolling to on an `area`-sized screen: from it on, the rest fits.
pub fn max_scroll(model: &Model, area: Rect) -> usize {
    let rect = frame_of(area);
    let (rows, first_row_of) = rows(model, rect, &Theme { color: false });
    let height = usize::from(rect.height.saturating_sub(2)).max(1);
    first_row_of
        .iter()
        .position(|&first| rows.len() - first <= height)
        .unwrap_or(0)
}

/// The overlay, nearly full screen, from the `scroll`-th newest event.
pub fn draw(frame: &mut Frame, area: Rect, model: &Model, scroll: usize, theme: &Theme) {
    let rect = frame_of(area);
    let (rows, first_row_of) = rows(model, rect, theme);
    let top = first_row_of.get(scroll).copied().unwrap_or(0);
    let title = format!(
        " Events: all {} (UTC, newest first) ",
        model.current().events.len()
    );
    draw_scrolled(frame, rect, rows, top, title, theme);
}

/// Every event's rows, and the row each event starts on.
fn rows(model: &Model, rect: Rect, theme: &Theme) -> (Vec<Line<'static>>, Vec<usize>) {
    let width = usize::from(rect.width.saturating_sub(3));
    // ` 09:30:12 ✗ ` before each event; its wrapped rows line up under the text.
    let lead = 12;
    let mut rows: Vec<Line<'static>> = Vec::new();
    let mut first_row_of = Vec::with_capacity(model.current().events.len());
    for e in &model.current().events {
        first_row_of.push(rows.len());
        for (i, row) in wrap(&e.text, width.saturating_sub(lead).max(8))
            .into_iter()
            .enumerate()
        {
            let head = if i == 0 {
                Span::styled(format!(" {} ", e.at.format("%H:%M:%S")), theme.dim())
            } else {
                Span::raw(" ".repeat(lead - 2))
            };
            let symbol = if i == 0 { event_symbol(e.level) } else { " " };
            rows.push(Line::from(vec![
                head,
                Span::styled(format!("{symbol} {row}"), theme.event(e.level)),
            ]));
        }
    }
    if rows.is_empty() {
        rows.push(Line::from(Span::styled(" no events yet", theme.dim())));
    }
    (rows, first_row_of)
}
