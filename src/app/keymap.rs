//! Keys to messages. Which message a key means depends on what is open (k9s-like conventions).

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::model::{Model, Overlay};
use super::msg::{Msg, ScrollTo};

/// Rows (or events) a page key scrolls.
const PAGE: isize = 10;
use crate::domain::RolloutState;
use crate::domain::action::ActionKind;

pub fn map_key(model: &Model, key: KeyEvent) -> Option<Msg> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl && matches!(key.code, KeyCode::Char('c') | KeyCode::Char('C')) {
        return Some(Msg::Quit);
    }
    match &model.overlay {
        Overlay::Detail { .. } | Overlay::Events { .. } => match key.code {
            KeyCode::Esc | KeyCode::Enter => Some(Msg::CloseOverlay),
            KeyCode::Char('e') if matches!(model.overlay, Overlay::Events { .. }) => {
                Some(Msg::CloseOverlay)
            }
            KeyCode::Char('q') => Some(Msg::Quit),
            KeyCode::Down | KeyCode::Char('j') => Some(Msg::Scroll(ScrollTo::By(1))),
            KeyCode::Up | KeyCode::Char('k') => Some(Msg::Scroll(ScrollTo::By(-1))),
            KeyCode::PageDown | KeyCode::Char(' ') => Some(Msg::Scroll(ScrollTo::By(PAGE))),
            KeyCode::PageUp => Some(Msg::Scroll(ScrollTo::By(-PAGE))),
            KeyCode::Home | KeyCode::Char('g') => Some(Msg::Scroll(ScrollTo::Top)),
            KeyCode::End | KeyCode::Char('G') => Some(Msg::Scroll(ScrollTo::Bottom)),
            _ => None,
        },
        Overlay::Help => match key.code {
            KeyCode::Esc | KeyCode::Char('?') => Some(Msg::CloseOverlay),
            KeyCode::Char('q') => Some(Msg::Quit),
            _ => None,
        },
        Overlay::Confirm(prompt) if prompt.needs_override() && prompt.moved_on.is_none() => {
            match key.code {
                KeyCode::Esc => Some(Msg::Cancel),
                KeyCode::Enter => Some(Msg::Confirmed),
                KeyCode::Tab | KeyCode::BackTab => Some(Msg::PromptNextField),
                KeyCode::Backspace => Some(Msg::PromptBackspace),
                KeyCode::Char(c) if !ctrl => Some(Msg::PromptInput(c)),
                _ => None,
            }
        }
        // Default answer No: only `y` confirms, anything else cancels.
        Overlay::Confirm(_) => match key.code {
            KeyCode::Char('y') | KeyCode::Char('Y') => Some(Msg::Confirmed),
            _ => Some(Msg::Cancel),
        },
        Overlay::None => match key.code {
            KeyCode::Char('q') => Some(Msg::Quit),
            KeyCode::Char('?') => Some(Msg::ToggleHelp),
            KeyCode::Char('p') => Some(Msg::Request(ActionKind::Promote)),
            KeyCode::Char('P') => Some(Msg::Request(ActionKind::PromoteFull)),
            KeyCode::Char('r') => Some(Msg::Request(ActionKind::Rollback)),
            KeyCode::Char('t') => Some(Msg::Request(ActionKind::Retry)),
            KeyCode::Char('u') => Some(Msg::Request(ActionKind::Undo)),
            KeyCode::Char(' ') => {
                let paused = model
                    .rollout
                    .as_ref()
                    .is_some_and(|r| r.state == RolloutState::Paused);
                Some(Msg::Request(if paused {
                    ActionKind::Resume
                } else {
                    ActionKind::Pause
                }))
            }
            KeyCode::Char('w') => Some(Msg::CycleWindow),
            KeyCode::Enter => Some(Msg::OpenDetail),
            KeyCode::Char('e') => Some(Msg::OpenEvents),
            KeyCode::Tab | KeyCode::Down | KeyCode::Char('j') => Some(Msg::FocusNext),
            KeyCode::BackTab | KeyCode::Up | KeyCode::Char('k') => Some(Msg::FocusPrev),
            KeyCode::Esc => Some(Msg::CloseOverlay),
            _ => None,
        },
    }
}

/// The keys that work right now, for the footer: (key, what it does).
pub fn footer_keys(model: &Model) -> Vec<(&'static str, String)> {
    match &model.overlay {
        Overlay::Help => vec![("Esc", "close".into()), ("q", "quit".into())],
        Overlay::Detail { .. } | Overlay::Events { .. } => vec![
            ("j/k", "scroll".into()),
            ("PgUp/PgDn", "page".into()),
            ("Home/End", "top/end".into()),
            ("Esc", "close".into()),
            ("q", "quit".into()),
        ],
        Overlay::Confirm(p) if p.moved_on.is_some() => vec![("Esc", "close".into())],
        Overlay::Confirm(p) if p.needs_override() => {
            vec![
                ("Tab", "next field".into()),
                ("Enter", "override".into()),
                ("Esc", "cancel".into()),
            ]
        }
        Overlay::Confirm(_) => vec![("y", "confirm".into()), ("any other key", "cancel".into())],
        Overlay::None => {
            let mut keys = Vec::new();
            if !model.settings.read_only && model.in_flight.is_none() {
                action_keys(model, &mut keys);
            }
            keys.push(("Enter", "detail".into()));
            keys.push(("e", "events".into()));
            keys.push(("w", format!("window {}", model.chart_window.label())));
            keys.push(("tab", "focus".into()));
            keys.push(("?", "help".into()));
            keys.push(("q", "quit".into()));
            keys
        }
    }
}

/// The action keys that make sense in the rollout's state, for this backend and this user.
fn action_keys(model: &Model, keys: &mut Vec<(&'static str, String)>) {
    let Some(r) = model.rollout.as_ref() else {
        return;
    };
    let label = |kind: ActionKind, text: &str| match model
        .permissions
        .as_ref()
        .and_then(|p| p.denied(kind))
    {
        Some(_) => format!("{text} (not allowed)"),
        None => text.to_string(),
    };
    let offered =
        |kind: ActionKind| model.actions.contains(&kind) && kind.allowed_in(r.state).is_ok();
    let space = if r.state == RolloutState::Paused {
        (ActionKind::Resume, "resume")
    } else {
        (ActionKind::Pause, "pause")
    };
    // Undo is offered in the footer once the rollout has ended; mid-rollout, rollback is the way.
    let undo_shown = r.state.is_terminal();
    let table = KEYS.iter().filter_map(|k| match k.action? {
        ActionKind::Pause => Some((k.key, space.0, space.1)),
        kind => Some((k.key, kind, k.short)),
    });
    for (key, kind, text) in table {
        if offered(kind) && (kind != ActionKind::Undo || undo_shown) {
            keys.push((key, label(kind, text)));
        }
    }
}

/// One key as the help overlay, the footer and `--help` describe it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyHelp {
    /// As shown: `p`, `space`, `tab ↓ j`.
    pub key: &'static str,
    /// The footer's word for it.
    pub short: &'static str,
    /// The help overlay's and `--help`'s description.
    pub what: &'static str,
    /// The action it asks the backend for (space: pause or resume): disabled read-only.
    pub action: Option<ActionKind>,
}

const fn key(key: &'static str, short: &'static str, what: &'static str) -> KeyHelp {
    KeyHelp {
        key,
        short,
        what,
        action: None,
    }
}

const fn action(
    key: &'static str,
    kind: ActionKind,
    short: &'static str,
    what: &'static str,
) -> KeyHelp {
    KeyHelp {
        key,
        short,
        what,
        action: Some(kind),
    }
}

/// Every key: the one list the `?` overlay, the footer's action keys and `--help` are made
/// from, so they cannot drift apart.
pub const KEYS: &[KeyHelp] = &[
    action(
        "p",
        ActionKind::Promote,
        "promote",
        "promote one step (y confirms; failing gates need name + reason)",
    ),
    action(
        "P",
        ActionKind::PromoteFull,
        "full",
        "promote fully: straight to 100% (if the backend can)",
    ),
    action(
        "space",
        ActionKind::Pause,
        "pause",
        "pause / resume the rollout (confirm with y)",
    ),
    action(
        "r",
        ActionKind::Rollback,
        "rollback",
        "roll back: all traffic to stable (confirm with y)",
    ),
    action(
        "t",
        ActionKind::Retry,
        "retry",
        "retry an aborted rollout from step 1 (if the backend can)",
    ),
    action(
        "u",
        ActionKind::Undo,
        "undo",
        "undo: restore the previous revision (Argo, or an undo command)",
    ),
    key(
        "Enter",
        "detail",
        "the selected metric in full: reasons, figures, PromQL, errors",
    ),
    key("e", "events", "the whole event log, newest first"),
    key(
        "PgUp PgDn",
        "scroll",
        "scroll the detail and event views (also j k ↑ ↓ Home End)",
    ),
    key("w", "window", "cycle the chart window: 5m / 15m / 1h"),
    key("tab ↓ j", "focus", "select the next metric"),
    key("S-tab ↑ k", "focus", "select the previous metric"),
    key("?", "help", "show / hide this help"),
    key("Esc", "close", "close any overlay; cancel a prompt"),
    key("q  Ctrl-C", "quit", "quit (the rollout keeps going)"),
];

/// The action keys, as a sentence: `p, P, space, r, t and u`.
pub fn action_keys_text() -> String {
    let keys: Vec<&str> = KEYS
        .iter()
        .filter(|k| k.action.is_some())
        .map(|k| k.key)
        .collect();
    match keys.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => keys.concat(),
    }
}

/// The "Keys:" section of `--help`: every key of the table, one a line.
pub fn cli_keys_text() -> String {
    let mut text = String::from("Keys:\n");
    for k in KEYS {
        text.push_str(&format!("  {:<11}{}\n", k.key, k.what));
    }
    text.push_str(&format!("  (--read-only disables {})", action_keys_text()));
    text
}
