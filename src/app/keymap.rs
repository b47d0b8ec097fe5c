//! Keys to messages. Which message a key means depends on what is open (k9s-like conventions).

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::model::{Model, Overlay};
use super::msg::Msg;
use crate::backend::ActionKind;
use crate::domain::RolloutState;

pub fn map_key(model: &Model, key: KeyEvent) -> Option<Msg> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl && matches!(key.code, KeyCode::Char('c') | KeyCode::Char('C')) {
        return Some(Msg::Quit);
    }
    match &model.overlay {
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
    for (key, kind, text) in [
        ("p", ActionKind::Promote, "promote"),
        ("P", ActionKind::PromoteFull, "full"),
        ("space", space.0, space.1),
        ("r", ActionKind::Rollback, "rollback"),
        ("t", ActionKind::Retry, "retry"),
        ("u", ActionKind::Undo, "undo"),
    ] {
        if offered(kind) && (kind != ActionKind::Undo || undo_shown) {
            keys.push((key, label(kind, text)));
        }
    }
}

/// Every key, for the `?` overlay.
pub const HELP: &[(&str, &str)] = &[
    (
        "p",
        "promote one step (y confirms; failing gates need name + reason)",
    ),
    ("P", "promote fully: straight to 100% (if the backend can)"),
    ("space", "pause / resume the rollout (confirm with y)"),
    ("r", "roll back: all traffic to stable (confirm with y)"),
    (
        "t",
        "retry an aborted rollout from step 1 (if the backend can)",
    ),
    (
        "u",
        "undo: restore the previous revision (Argo, or an undo command)",
    ),
    ("w", "cycle the chart window: 5m / 15m / 1h"),
    ("tab ↓ j", "focus the next metric"),
    ("S-tab ↑ k", "focus the previous metric"),
    ("?", "show / hide this help"),
    ("Esc", "close any overlay; cancel a prompt"),
    ("q  Ctrl-C", "quit (the rollout keeps going)"),
];
