//! Colour is meaning, never the only signal: every styled thing also has a word or a symbol.

use ratatui::style::{Color, Modifier, Style};

use crate::app::model::{EventLevel, Tone};
use crate::domain::Verdict;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub color: bool,
}

impl Theme {
    /// Colour unless `NO_COLOR` is set to anything non-empty (no-color.org).
    pub fn from_env() -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Self { color: !no_color }
    }

    pub fn fg(&self, c: Color) -> Style {
        if self.color {
            Style::new().fg(c)
        } else {
            Style::new()
        }
    }

    pub fn bold(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    pub fn dim(&self) -> Style {
        if self.color {
            Style::new().fg(Color::DarkGray)
        } else {
            Style::new()
        }
    }

    pub fn verdict(&self, v: Verdict) -> Style {
        match v {
            Verdict::Pass => self.fg(Color::Green),
            Verdict::Pending | Verdict::Warn => self.fg(Color::Yellow),
            Verdict::Fail => self.fg(Color::Red).add_modifier(Modifier::BOLD),
            Verdict::Collecting => self.fg(Color::Cyan),
            Verdict::NoData => self.dim(),
        }
    }

    pub fn tone(&self, t: Tone) -> Style {
        match t {
            Tone::Good => self.fg(Color::Green),
            Tone::Neutral => Style::new(),
            Tone::Warn => self.fg(Color::Yellow),
            Tone::Bad => self.fg(Color::Red).add_modifier(Modifier::BOLD),
        }
    }

    pub fn event(&self, level: EventLevel) -> Style {
        match level {
            EventLevel::Info => Style::new(),
            EventLevel::Good => self.fg(Color::Green),
            EventLevel::Warn => self.fg(Color::Yellow),
            EventLevel::Bad => self.fg(Color::Red),
            EventLevel::Action => self.fg(Color::Cyan).add_modifier(Modifier::BOLD),
        }
    }

    pub fn baseline(&self) -> Style {
        self.fg(Color::Cyan)
    }

    pub fn canary(&self) -> Style {
        self.fg(Color::Magenta)
    }

    pub fn focus_border(&self) -> Style {
        if self.color {
            Style::new().fg(Color::White).add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::BOLD)
        }
    }

    pub fn badge(&self) -> Style {
        if self.color {
            Style::new()
                .fg(Color::Black)
                .bg(Color::Yellow)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
        }
    }
}
