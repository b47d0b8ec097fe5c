//! The terminal guard: puts the terminal back (raw mode off, main screen) when dropped.

/// Restores the terminal when dropped: on normal exit, on error, and on early return.
pub struct TerminalGuard;

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        ratatui::restore();
    }
}
