//! Key decoding: the terminal's key events (crossterm) as the console's own `KeyPress`, and
//! from there, through the app's keymap, the `Msg` a key means.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::app::Model;
use crate::app::Msg;
use crate::app::keymap::{Key, KeyPress, message_for};

/// The key press a terminal key event is; `None` for a key release.
pub fn decode(key: KeyEvent) -> Option<KeyPress> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let code = match key.code {
        KeyCode::Char(c) => Key::Char(c),
        KeyCode::Enter => Key::Enter,
        KeyCode::Esc => Key::Esc,
        KeyCode::Tab => Key::Tab,
        KeyCode::BackTab => Key::BackTab,
        KeyCode::Backspace => Key::Backspace,
        KeyCode::Up => Key::Up,
        KeyCode::Down => Key::Down,
        KeyCode::PageUp => Key::PageUp,
        KeyCode::PageDown => Key::PageDown,
        KeyCode::Home => Key::Home,
        KeyCode::End => Key::End,
        _ => Key::Other,
    };
    Some(KeyPress {
        key: code,
        ctrl: key.modifiers.contains(KeyModifiers::CONTROL),
    })
}

/// The message a terminal key event means right now, if any.
pub fn map_key(model: &Model, key: KeyEvent) -> Option<Msg> {
    message_for(model, decode(key)?)
}
