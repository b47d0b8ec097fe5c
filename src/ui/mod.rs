//! View functions: they read the model and draw; they never do I/O.

mod chart;
mod detail;
mod events;
mod evidence;
mod fleet;
mod footer;
mod header;
mod layout;
mod metrics;
mod overlay;
mod panels;
mod theme;
mod timeline;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};

use crate::app::Model;
pub use theme::Theme;

/// Below this size the compact layout (one metric table, one chart) is used.
pub const LARGE_MIN: (u16, u16) = (120, 36);

pub fn draw(frame: &mut Frame, model: &Model, theme: &Theme) {
    let area = frame.area();
    if model.fleet.shown {
        fleet::draw(frame, area, model, theme);
    } else if area.width >= LARGE_MIN.0 && area.height >= LARGE_MIN.1 {
        draw_large(frame, area, model, theme);
    } else {
        draw_compact(frame, area, model, theme);
    }
    overlay::draw(frame, area, model, theme);
}

/// How far the open detail or events view can scroll on a `screen`-sized terminal (rows of
/// the detail, events of the log), so a key past the end is not swallowed unseen.
pub fn overlay_max_scroll(model: &Model, screen: (u16, u16)) -> usize {
    let area = Rect::new(0, 0, screen.0, screen.1);
    match model.overlay {
        crate::app::model::Overlay::Detail { metric, .. } => {
            detail::max_scroll(model, metric, area)
        }
        crate::app::model::Overlay::Events { .. } => events::max_scroll(model, area),
        _ => 0,
    }
}

fn draw_compact(frame: &mut Frame, area: Rect, model: &Model, theme: &Theme) {
    let n_metrics = model.current().panels.len() as u16;
    let n_slos = model.current().slos.len() as u16;
    // A sequential judge gets a second line: its evidence, counts and pace.
    let reason_lines = if model
        .current()
        .panels
        .get(model.current().focus)
        .is_some_and(|p| p.sequential.is_some())
    {
        2
    } else {
        1
    };
    let [
        head,
        why,
        timeline,
        table,
        reason,
        chart,
        slos,
        events,
        foot,
    ] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(3),
        Constraint::Length(n_metrics + 1),
        Constraint::Length(reason_lines),
        Constraint::Min(0),
        Constraint::Length(n_slos + 1),
        Constraint::Length(4),
        Constraint::Length(1),
    ])
    .areas(area);
    header::draw(frame, head, model, theme, false);
    header::draw_why(frame, why, model, theme);
    timeline::draw_compact(frame, timeline, model, theme);
    metrics::draw_table(frame, table, model, theme);
    metrics::draw_focused_reason(frame, reason, model, theme);
    if chart.height >= 3
        && let Some(panel) = model.current().panels.get(model.current().focus)
    {
        chart::draw_titled(frame, chart, panel, model, theme);
    }
    panels::draw_budget_rows(frame, slos, model, theme);
    panels::draw_events(frame, events, model, theme, false);
    footer::draw(frame, foot, model, theme);
}

fn draw_large(frame: &mut Frame, area: Rect, model: &Model, theme: &Theme) {
    let [head, why, main, foot] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(area);
    header::draw(frame, head, model, theme, true);
    header::draw_why(frame, why, model, theme);
    let left_width = (area.width * 34 / 100).clamp(44, 64);
    let [left, right] =
        Layout::horizontal([Constraint::Length(left_width), Constraint::Min(0)]).areas(main);
    let steps = model.current().rollout.as_ref().map_or(4, |r| {
        (r.steps.len() + r.analysis.len().min(timeline::MAX_ANALYSIS_LINES)) as u16
    });
    let budget_height = model.current().slos.len() as u16 * 5 + 2;
    let [timeline, budgets, events] = Layout::vertical([
        Constraint::Length(steps + 5),
        Constraint::Length(budget_height),
        Constraint::Min(4),
    ])
    .areas(left);
    timeline::draw_large(frame, timeline, model, theme);
    panels::draw_budget_gauges(frame, budgets, model, theme);
    panels::draw_events(frame, events, model, theme, true);
    metrics::draw_panels(frame, right, model, theme);
    footer::draw(frame, foot, model, theme);
}
