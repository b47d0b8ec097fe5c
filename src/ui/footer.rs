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
    // On a narrow terminal the view keys go first (Enter, the way to the whole story, last);
    // the action keys, help and quit stay.
    let line = keys_line(
        spans,
        &model.derived.footer_keys,
        area.width,
        &["tab", "e", "w", "Enter"],
        theme,
    );
    frame.render_widget(Paragraph::new(line), area);
}

/// `lead` then the keys that fit in `width`: while they do not, the keys in `drop_order` are
/// left out, first to last (each is still in the help).
pub(super) fn keys_line<'a>(
    mut lead: Vec<Span<'a>>,
    keys: &[(&'static str, String)],
    width: u16,
    drop_order: &[&str],
    theme: &Theme,
) -> Line<'a> {
    let lead_width: usize = lead.iter().map(Span::width).sum();
    let cost = |keys: &[&(&str, String)]| -> usize {
        keys.iter()
            .map(|(k, w)| k.chars().count() + w.chars().count() + 3)
            .sum()
    };
    let mut shown: Vec<&(&str, String)> = keys.iter().collect();
    for drop in drop_order {
        if lead_width + cost(&shown) <= usize::from(width) {
            break;
        }
        shown.retain(|(k, _)| k != drop);
    }
    for (key, what) in shown {
        lead.push(Span::styled(format!(" {key}"), theme.bold()));
        lead.push(Span::styled(format!(" {what} "), theme.dim()));
    }
    Line::from(lead)
}
