use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::Theme;
use crate::app::Model;
use crate::domain::format::short_duration;

pub fn draw(frame: &mut Frame, area: Rect, model: &Model, theme: &Theme) {
    let mut spans = Vec::new();
    if model.settings.read_only {
        spans.push(Span::styled(" READ-ONLY ", theme.badge()));
        spans.push(Span::styled(" actions disabled ", theme.dim()));
    }
    // `derived.in_flight_for` is the age of `model.current().in_flight`: it is there whenever that is.
    if let Some(f) = model.current().in_flight {
        let d = model.derived.in_flight_for.unwrap_or_default();
        spans.push(Span::styled(
            format!(" {} in flight {}… ", f.kind.verb(), short_duration(d)),
            theme.badge(),
        ));
    }
    // An action's outcome that a read had to decide stays in view until the next action.
    if let Some((level, text)) = &model.current().action_status {
        let tone = match level {
            crate::app::model::EventLevel::Bad => crate::app::model::Tone::Bad,
            crate::app::model::EventLevel::Good => crate::app::model::Tone::Good,
            _ => crate::app::model::Tone::Warn,
        };
        spans.push(Span::styled(format!(" {text} "), theme.tone(tone)));
    }
    let mut keys = model.derived.footer_keys.clone();
    // On a narrow terminal the view keys go first (Enter, the way to the whole story, last);
    // the action keys, help and quit stay.
    let width = |keys: &[(&str, String)], spans: &[Span]| {
        spans.iter().map(Span::width).sum::<usize>()
            + keys
                .iter()
                .map(|(k, w)| k.chars().count() + w.chars().count() + 3)
                .sum::<usize>()
    };
    for droppable in ["tab", "e", "w", "Enter"] {
        if width(&keys, &spans) <= usize::from(area.width) {
            break;
        }
        keys.retain(|(k, _)| *k != droppable);
    }
    for (key, what) in keys {
        spans.push(Span::styled(format!(" {key}"), theme.bold()));
        spans.push(Span::styled(format!(" {what} "), theme.dim()));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
