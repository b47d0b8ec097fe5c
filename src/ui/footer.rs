use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::Theme;
use crate::app::Model;
use crate::app::keymap::footer_keys;
use crate::app::update::in_flight_for;
use crate::domain::format::short_duration;

pub fn draw(frame: &mut Frame, area: Rect, model: &Model, theme: &Theme) {
    let mut spans = Vec::new();
    if model.settings.read_only {
        spans.push(Span::styled(" READ-ONLY ", theme.badge()));
        spans.push(Span::styled(" actions disabled ", theme.dim()));
    }
    if let (Some(f), Some(d)) = (model.in_flight, in_flight_for(model)) {
        spans.push(Span::styled(
            format!(" {} in flight {}… ", f.kind.verb(), short_duration(d)),
            theme.badge(),
        ));
    }
    for (key, what) in footer_keys(model) {
        spans.push(Span::styled(format!(" {key}"), theme.bold()));
        spans.push(Span::styled(format!(" {what} "), theme.dim()));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
