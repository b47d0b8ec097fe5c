//! Placement shared by the overlays (help, prompts, detail, events), so none of them imports
//! another for it.

use ratatui::layout::{Constraint, Flex, Layout, Rect};

/// A `width` × `height` box in the middle of `area`, shrunk to fit.
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let [row] = Layout::vertical([Constraint::Length(height.min(area.height))])
        .flex(Flex::Center)
        .areas(area);
    let [cell] = Layout::horizontal([Constraint::Length(width.min(area.width))])
        .flex(Flex::Center)
        .areas(row);
    cell
}
