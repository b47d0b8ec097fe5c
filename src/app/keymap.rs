//! The key table and what a key means: which `Msg` a key press is, given what is open
//! (k9s-like conventions), the footer's key hints, and the one list of keys (`KEYS`) the help
//! overlay, the footer and `--help` are made from. Keys arrive here as our own `KeyPress`; the
//! terminal's key events are decoded into it by `tui::keys`.

use super::model::{Model, Overlay};
use super::msg::{Msg, ScrollTo};
use crate::domain::RolloutState;
use crate::domain::action::ActionKind;

/// Rows (or events) a page key scrolls.
const PAGE: isize = 10;

/// A key, as the console tells keys apart (independent of the terminal library).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Char(char),
    Enter,
    Esc,
    Tab,
    BackTab,
    Backspace,
    Up,
    Down,
    PageUp,
    PageDown,
    Home,
    End,
    /// Any other key: it means nothing, except that it cancels a y/N prompt.
    Other,
}

/// A key press: the key and whether Ctrl was held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyPress {
    pub key: Key,
    pub ctrl: bool,
}

/// What the key press means right now, if anything.
pub fn message_for(model: &Model, press: KeyPress) -> Option<Msg> {
    let ctrl = press.ctrl;
    let code = press.key;
    if ctrl && matches!(code, Key::Char('c') | Key::Char('C')) {
        return Some(Msg::Quit);
    }
    // The fleet list takes the keys unless a prompt or the help is open over it.
    if model.fleet.shown && matches!(model.overlay, Overlay::None) {
        return fleet_message(model, press);
    }
    match &model.overlay {
        Overlay::Detail { .. } | Overlay::Events { .. } => match code {
            Key::Esc | Key::Enter => Some(Msg::CloseOverlay),
            Key::Char('e') if matches!(model.overlay, Overlay::Events { .. }) => {
                Some(Msg::CloseOverlay)
            }
            Key::Char('q') => Some(Msg::Quit),
            Key::Down | Key::Char('j') => Some(Msg::Scroll(ScrollTo::By(1))),
            Key::Up | Key::Char('k') => Some(Msg::Scroll(ScrollTo::By(-1))),
            Key::PageDown | Key::Char(' ') => Some(Msg::Scroll(ScrollTo::By(PAGE))),
            Key::PageUp => Some(Msg::Scroll(ScrollTo::By(-PAGE))),
            Key::Home | Key::Char('g') => Some(Msg::Scroll(ScrollTo::Top)),
            Key::End | Key::Char('G') => Some(Msg::Scroll(ScrollTo::Bottom)),
            _ => None,
        },
        Overlay::Help => match code {
            Key::Esc | Key::Char('?') => Some(Msg::CloseOverlay),
            Key::Char('q') => Some(Msg::Quit),
            _ => None,
        },
        Overlay::Confirm(prompt) if prompt.needs_override() && prompt.moved_on.is_none() => {
            match code {
                Key::Esc => Some(Msg::Cancel),
                Key::Enter => Some(Msg::Confirmed),
                Key::Tab | Key::BackTab => Some(Msg::PromptNextField),
                Key::Backspace => Some(Msg::PromptBackspace),
                Key::Char(c) if !ctrl => Some(Msg::PromptInput(c)),
                _ => None,
            }
        }
        // Default answer No: only `y` confirms, anything else cancels.
        Overlay::Confirm(_) => match code {
            Key::Char('y') | Key::Char('Y') => Some(Msg::Confirmed),
            _ => Some(Msg::Cancel),
        },
        Overlay::None => match code {
            Key::Char('q') => Some(Msg::Quit),
            Key::Char('?') => Some(Msg::ToggleHelp),
            Key::Char(c @ ('p' | 'P' | 'r' | 't' | 'u' | ' ')) => action_key(model, model.open, c),
            Key::Char('w') => Some(Msg::CycleWindow),
            Key::Enter => Some(Msg::OpenDetail),
            Key::Char('e') => Some(Msg::OpenEvents),
            Key::Tab | Key::Down | Key::Char('j') => Some(Msg::FocusNext),
            Key::BackTab | Key::Up | Key::Char('k') => Some(Msg::FocusPrev),
            // On a console that follows several rollouts, Esc goes back to the list.
            Key::Esc if model.rollouts.len() > 1 => Some(Msg::FleetShow),
            Key::Esc => Some(Msg::CloseOverlay),
            // The list's filter (`update` ignores it on a console with one rollout).
            Key::Char('/') => Some(Msg::FleetFilterStart),
            _ => None,
        },
    }
}

/// What a key means on the fleet list (k9s-like): move, filter, open, quit.
fn fleet_message(model: &Model, press: KeyPress) -> Option<Msg> {
    if model.fleet.typing {
        return match press.key {
            Key::Esc => Some(Msg::FleetFilterClear),
            Key::Enter => Some(Msg::FleetFilterKeep),
            Key::Backspace => Some(Msg::FleetFilterBackspace),
            Key::Down => Some(Msg::FleetSelect(ScrollTo::By(1))),
            Key::Up => Some(Msg::FleetSelect(ScrollTo::By(-1))),
            Key::Char(c) if !press.ctrl => Some(Msg::FleetFilterInput(c)),
            _ => None,
        };
    }
    match press.key {
        Key::Char('q') => Some(Msg::Quit),
        Key::Char('?') => Some(Msg::ToggleHelp),
        Key::Down | Key::Char('j') => Some(Msg::FleetSelect(ScrollTo::By(1))),
        Key::Up | Key::Char('k') => Some(Msg::FleetSelect(ScrollTo::By(-1))),
        Key::PageDown => Some(Msg::FleetSelect(ScrollTo::By(PAGE))),
        Key::PageUp => Some(Msg::FleetSelect(ScrollTo::By(-PAGE))),
        Key::Home | Key::Char('g') => Some(Msg::FleetSelect(ScrollTo::Top)),
        Key::End | Key::Char('G') => Some(Msg::FleetSelect(ScrollTo::Bottom)),
        Key::Char('/') => Some(Msg::FleetFilterStart),
        Key::Enter => Some(Msg::FleetOpen),
        Key::Esc if !model.fleet.filter.is_empty() => Some(Msg::FleetFilterClear),
        // The action keys act on the selected row, with the same prompts as on its screen.
        Key::Char(c @ ('p' | 'P' | 'r' | 't' | 'u' | ' ')) => {
            action_key(model, model.fleet.selected, c)
        }
        _ => None,
    }
}

/// An action key on rollout `i`: space pauses, or resumes a paused rollout.
fn action_key(model: &Model, i: usize, c: char) -> Option<Msg> {
    let kind = match c {
        'p' => ActionKind::Promote,
        'P' => ActionKind::PromoteFull,
        'r' => ActionKind::Rollback,
        't' => ActionKind::Retry,
        'u' => ActionKind::Undo,
        ' ' => {
            let paused = model
                .rollouts
                .get(i)
                .and_then(|r| r.rollout.as_ref())
                .is_some_and(|r| r.state == RolloutState::Paused);
            if paused {
                ActionKind::Resume
            } else {
                ActionKind::Pause
            }
        }
        _ => return None,
    };
    Some(Msg::Request(kind))
}

/// The keys that work right now, for the footer: (key, what it does).
pub fn footer_keys(model: &Model) -> Vec<(&'static str, String)> {
    if model.fleet.shown && matches!(model.overlay, Overlay::None) {
        if model.fleet.typing {
            return vec![("Enter", "keep filter".into()), ("Esc", "clear".into())];
        }
        let mut keys = vec![("j/k", "move".into())];
        if !model.settings.read_only
            && model
                .rollouts
                .get(model.fleet.selected)
                .is_some_and(|r| r.in_flight.is_none())
        {
            action_keys(model, model.fleet.selected, &mut keys);
        }
        keys.push(("Enter", "open".into()));
        keys.push(("/", "filter".into()));
        if !model.fleet.filter.is_empty() {
            keys.push(("Esc", "clear filter".into()));
        }
        keys.push(("?", "help".into()));
        keys.push(("q", "quit".into()));
        return keys;
    }
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
            if !model.settings.read_only && model.current().in_flight.is_none() {
                action_keys(model, model.open, &mut keys);
            }
            keys.push(("Enter", "detail".into()));
            keys.push(("e", "events".into()));
            keys.push(("w", format!("window {}", model.chart_window.label())));
            keys.push(("tab", "focus".into()));
            if model.rollouts.len() > 1 {
                keys.push(("Esc", "fleet".into()));
            }
            keys.push(("?", "help".into()));
            keys.push(("q", "quit".into()));
            keys
        }
    }
}

/// The action keys that make sense in rollout `i`'s state, for this backend and this user.
fn action_keys(model: &Model, i: usize, keys: &mut Vec<(&'static str, String)>) {
    let Some(r) = model.rollouts.get(i).and_then(|r| r.rollout.as_ref()) else {
        return;
    };
    let label = |kind: ActionKind, text: &str| match model.rollouts[i]
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
    /// A key of the fleet list: the help of a console with one rollout leaves it out.
    pub fleet: bool,
    /// The screen whose help shows it: the fleet list, the rollout screen, or both.
    pub on: HelpOn,
}

/// Which screen's help overlay shows a key (the one it works on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HelpOn {
    Rollout,
    List,
    Both,
}

impl KeyHelp {
    /// Whether the help shows this key on the fleet list (`list`) or on the rollout screen, of a
    /// console that follows several rollouts (`fleet`) or one.
    pub fn shown_in_help(&self, list: bool, fleet: bool) -> bool {
        let screen = match self.on {
            HelpOn::Both => true,
            HelpOn::List => list,
            HelpOn::Rollout => !list,
        };
        screen && (fleet || !self.fleet)
    }

    const fn on(self, on: HelpOn) -> Self {
        KeyHelp { on, ..self }
    }
}

const fn key(key: &'static str, short: &'static str, what: &'static str) -> KeyHelp {
    KeyHelp {
        key,
        short,
        what,
        action: None,
        fleet: false,
        on: HelpOn::Rollout,
    }
}

const fn fleet_key(key: &'static str, short: &'static str, what: &'static str) -> KeyHelp {
    KeyHelp {
        key,
        short,
        what,
        action: None,
        fleet: true,
        on: HelpOn::List,
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
        fleet: false,
        // On the list they act on the selected row.
        on: HelpOn::Both,
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
    fleet_key(
        "j k g G",
        "move",
        "fleet list: next / previous rollout (↓ ↑ too); g G first / last",
    ),
    fleet_key(
        "/",
        "filter",
        "fleet list: filter by name, namespace or state; Esc clears",
    )
    // On the rollout screen `/` goes back to the list and starts the filter.
    .on(HelpOn::Both),
    fleet_key(
        "Enter Esc",
        "open",
        "fleet: Enter opens the selected rollout; Esc returns to the list",
    )
    .on(HelpOn::Both),
    key("?", "help", "show / hide this help").on(HelpOn::Both),
    // On the list there is no prompt; Esc clears the filter (above) and closes the help (its
    // title says so).
    key("Esc", "close", "close any overlay; cancel a prompt"),
    key("q  Ctrl-C", "quit", "quit (the rollout keeps going)").on(HelpOn::Both),
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
