//! Running one command without a shell, with a timeout, and turning its exit and output into
//! one-line text for errors and messages.

use std::process::{ExitStatus, Stdio};
use std::time::Duration;

/// How much of a command's output goes into an error or a message: a line in the events pane.
pub(super) const EXCERPT_CHARS: usize = 300;

/// A command that ran to its end (with any exit status).
pub(super) struct Finished {
    pub(super) status: ExitStatus,
    pub(super) stdout: Vec<u8>,
    pub(super) stderr: Vec<u8>,
}

pub(super) enum RunError {
    Start(std::io::Error),
    TimedOut,
    Wait(std::io::Error),
}

pub(super) async fn run(argv: &[String], timeout: Duration) -> Result<Finished, RunError> {
    let Some((program, args)) = argv.split_first() else {
        return Err(RunError::Start(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "empty command",
        )));
    };
    let child = tokio::process::Command::new(program)
        .args(args)
        // A script that prompts would wait forever on the console's terminal.
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Dropping the wait (timeout, or the console giving up on the call) kills the child.
        .kill_on_drop(true)
        .spawn()
        .map_err(RunError::Start)?;
    match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Err(_) => Err(RunError::TimedOut),
        Ok(Err(e)) => Err(RunError::Wait(e)),
        Ok(Ok(out)) => Ok(Finished {
            status: out.status,
            stdout: out.stdout,
            stderr: out.stderr,
        }),
    }
}

/// "No such file or directory", without the " (os error 2)" that tells an operator nothing.
pub(super) fn io_reason(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

pub(super) fn describe_exit(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exited {code}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return format!("was killed by signal {signal}");
        }
    }
    format!("ended abnormally ({status})")
}

/// Output made fit for one line of a terminal UI: escape sequences (colours) removed, control
/// characters blanked, `\r` progress lines split.
pub(super) fn printable(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => {
                // CSI (`ESC [ ... final`) runs to its final byte; other escapes are two characters.
                if chars.next_if_eq(&'[').is_some() {
                    for c in chars.by_ref() {
                        if ('\u{40}'..='\u{7e}').contains(&c) {
                            break;
                        }
                    }
                } else {
                    chars.next();
                }
            }
            '\n' | '\r' => out.push('\n'),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The non-empty lines joined with " | ", keeping the end when too long.
pub(super) fn excerpt(bytes: &[u8]) -> String {
    use crate::domain::format::{Keep, excerpt as excerpt_of};

    let text = printable(bytes);
    let joined = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" | ");
    // EXCERPT_CHARS of the end, and the `…`.
    excerpt_of(&joined, EXCERPT_CHARS + 1, Keep::End)
}

/// stderr first (where errors usually are), then stdout.
pub(super) fn output_excerpt(stdout: &[u8], stderr: &[u8]) -> String {
    match (excerpt(stdout), excerpt(stderr)) {
        (out, err) if out.is_empty() && err.is_empty() => String::new(),
        (out, err) if out.is_empty() => err,
        (out, err) if err.is_empty() => out,
        (out, err) => format!("{err} | stdout: {out}"),
    }
}

pub(super) fn first_line(bytes: &[u8]) -> String {
    let text = printable(bytes);
    match text.lines().map(str::trim).find(|l| !l.is_empty()) {
        None => "it printed nothing".into(),
        Some(line) if line.chars().count() > 120 => {
            let head: String = line.chars().take(120).collect();
            format!("first line: {head}…")
        }
        Some(line) => format!("first line: {line}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_are_one_clean_line_keeping_the_end() {
        assert_eq!(
            excerpt(b"\x1b[31merror:\x1b[0m bad\r\n\n  more\ttext \n"),
            "error: bad | more text"
        );
        let long = "x".repeat(1000) + "END";
        let e = excerpt(long.as_bytes());
        assert!(e.starts_with('…') && e.ends_with("END"), "{e}");
        assert_eq!(e.chars().count(), EXCERPT_CHARS + 1);
    }
}
