//! `kind = "command"`: deploys driven by scripts and CLIs (flyctl, `canary-deploy.sh --promote`).
//! Each command is an argv template from `[backend.command]`, run without a shell: a placeholder's
//! value is one argument's text, never parsed, so a reason like `"; rm -rf /` is just text.
//! The reader only ever runs `status`; the controller, built only in read-write mode, adds the
//! action commands. The contract is in assets/deploy-api.md.

use async_trait::async_trait;
use std::borrow::Cow;
use std::process::{ExitStatus, Stdio};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use super::{ActionError, ActionRequest, RolloutController, RolloutReader};
use crate::config::CommandConfig;
use crate::domain::action::ActionKind;
use crate::domain::{Rollout, Step};

/// How much of a command's output goes into an error or a message: a line in the events pane.
const EXCERPT_CHARS: usize = 300;
/// How much of an action's output `last_output` keeps (the end: where CLIs put the outcome).
const KEPT_OUTPUT_BYTES: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Var {
    Name,
    Step,
    NextStep,
    Weight,
    Actor,
    Reason,
}

impl Var {
    const ALL: [Self; 6] = [
        Self::Name,
        Self::Step,
        Self::NextStep,
        Self::Weight,
        Self::Actor,
        Self::Reason,
    ];

    fn token(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::Step => "step",
            Self::NextStep => "next_step",
            Self::Weight => "weight",
            Self::Actor => "actor",
            Self::Reason => "reason",
        }
    }

    /// Values from the environment (`$USER@host`) or typed by the user: left as `{actor}` and
    /// `{reason}` when a command is shown in an error, the events pane or the logs.
    fn is_private(self) -> bool {
        matches!(self, Self::Actor | Self::Reason)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Var(Var),
}

/// What the placeholders stand for in one run.
#[derive(Debug, Clone, Copy, Default)]
struct Values<'a> {
    name: &'a str,
    step: usize,
    weight: u8,
    actor: &'a str,
    reason: &'a str,
}

impl Values<'_> {
    fn get(&self, var: Var) -> Cow<'_, str> {
        match var {
            Var::Name => Cow::Borrowed(self.name),
            Var::Step => Cow::Owned(self.step.to_string()),
            Var::NextStep => Cow::Owned((self.step + 1).to_string()),
            Var::Weight => Cow::Owned(self.weight.to_string()),
            Var::Actor => Cow::Borrowed(self.actor),
            Var::Reason => Cow::Borrowed(self.reason),
        }
    }
}

/// One configured command, parsed once so a typo fails at start-up rather than at the first press.
#[derive(Debug, Clone, PartialEq)]
struct Template {
    /// The config key: "status", "promote", ...
    key: &'static str,
    args: Vec<Vec<Piece>>,
}

impl Template {
    fn parse(key: &'static str, argv: &[String], allowed: &[Var]) -> Result<Self, String> {
        match argv.first() {
            None => {
                return Err(format!(
                    "[backend.command] {key} is empty: give the program and its arguments, \
                     e.g. {key} = [\"./deploy.sh\", \"{key}\", \"{{name}}\"]"
                ));
            }
            Some(program) if program.trim().is_empty() => {
                return Err(format!(
                    "[backend.command] {key}: the first element must be the program to run"
                ));
            }
            Some(_) => {}
        }
        let args = argv
            .iter()
            .map(|arg| parse_arg(key, arg, allowed))
            .collect::<Result<_, _>>()?;
        Ok(Self { key, args })
    }

    fn render(&self, values: &Values<'_>) -> Vec<String> {
        self.args
            .iter()
            .map(|pieces| render_arg(pieces, values, false))
            .collect()
    }

    /// The command as shown to people: `./deploy.sh promote checkout --reason={reason}`.
    fn shown(&self, values: &Values<'_>) -> String {
        self.args
            .iter()
            .map(|pieces| {
                let arg = render_arg(pieces, values, true);
                if arg.is_empty() || arg.contains(char::is_whitespace) || arg.contains('"') {
                    format!("{arg:?}")
                } else {
                    arg
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The program as written in the config, for logs (no value substituted into it).
    fn program(&self) -> String {
        let no_values = Values::default();
        self.args
            .first()
            .map(|p| render_arg(p, &no_values, true))
            .unwrap_or_default()
    }
}

/// Split one argument into text and placeholders. `{word}` is a placeholder and must be known;
/// any other brace (`{}`, `{"a": 1}`) is plain text.
fn parse_arg(key: &str, arg: &str, allowed: &[Var]) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut rest = arg;
    while let Some(open) = rest.find('{') {
        text.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let word = after
            .find('}')
            .map(|close| &after[..close])
            .filter(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
        let Some(word) = word else {
            text.push('{');
            rest = after;
            continue;
        };
        let var = Var::ALL
            .into_iter()
            .find(|v| v.token() == word)
            .ok_or_else(|| {
                format!(
                    "[backend.command] {key}: unknown placeholder {{{word}}} in {arg:?}; \
                     known: {}",
                    known(&Var::ALL)
                )
            })?;
        if !allowed.contains(&var) {
            return Err(format!(
                "[backend.command] {key}: {{{word}}} is only known when acting; {key} may use {}",
                known(allowed)
            ));
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(std::mem::take(&mut text)));
        }
        pieces.push(Piece::Var(var));
        rest = &after[word.len() + 1..];
    }
    text.push_str(rest);
    if !text.is_empty() || pieces.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(pieces)
}

fn known(vars: &[Var]) -> String {
    vars.iter()
        .map(|v| format!("{{{}}}", v.token()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Values are inserted as they are and never re-scanned: a reason containing `{name}` stays text.
fn render_arg(pieces: &[Piece], values: &Values<'_>, hide_private: bool) -> String {
    let mut out = String::new();
    for piece in pieces {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Var(v) if hide_private && v.is_private() => {
                out.push('{');
                out.push_str(v.token());
                out.push('}');
            }
            Piece::Var(v) => out.push_str(&values.get(*v)),
        }
    }
    out
}

/// The action templates, each optional: an unconfigured action is refused when pressed.
#[derive(Debug, Clone, PartialEq)]
struct Actions {
    promote: Option<Template>,
    pause: Option<Template>,
    resume: Option<Template>,
    rollback: Option<Template>,
    promote_full: Option<Template>,
    retry: Option<Template>,
    undo: Option<Template>,
}

impl Actions {
    /// The basic four are always offered (pressing an unconfigured one says which key to add);
    /// promote-full, retry and undo only when configured.
    fn offered(&self) -> Vec<ActionKind> {
        let mut kinds = ActionKind::BASIC.to_vec();
        for (kind, template) in [
            (ActionKind::PromoteFull, &self.promote_full),
            (ActionKind::Retry, &self.retry),
            (ActionKind::Undo, &self.undo),
        ] {
            if template.is_some() {
                kinds.push(kind);
            }
        }
        kinds
    }

    fn parse(config: &CommandConfig) -> Result<Self, String> {
        let parse = |key, argv: &Option<Vec<String>>| {
            argv.as_deref()
                .map(|argv| Template::parse(key, argv, &Var::ALL))
                .transpose()
        };
        Ok(Self {
            promote: parse("promote", &config.promote)?,
            pause: parse("pause", &config.pause)?,
            resume: parse("resume", &config.resume)?,
            rollback: parse("rollback", &config.rollback)?,
            promote_full: parse("promote_full", &config.promote_full)?,
            retry: parse("retry", &config.retry)?,
            undo: parse("undo", &config.undo)?,
        })
    }

    fn get(&self, kind: ActionKind) -> Option<&Template> {
        match kind {
            ActionKind::Promote => self.promote.as_ref(),
            ActionKind::Pause => self.pause.as_ref(),
            ActionKind::Resume => self.resume.as_ref(),
            ActionKind::Rollback => self.rollback.as_ref(),
            ActionKind::PromoteFull => self.promote_full.as_ref(),
            ActionKind::Retry => self.retry.as_ref(),
            ActionKind::Undo => self.undo.as_ref(),
        }
    }
}

/// A command that ran to its end (with any exit status).
struct Finished {
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

enum RunError {
    Start(std::io::Error),
    TimedOut,
    Wait(std::io::Error),
}

async fn run(argv: &[String], timeout: Duration) -> Result<Finished, RunError> {
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
fn io_reason(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

fn describe_exit(status: ExitStatus) -> String {
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
fn printable(bytes: &[u8]) -> String {
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
fn excerpt(bytes: &[u8]) -> String {
    let text = printable(bytes);
    let joined = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" | ");
    let count = joined.chars().count();
    if count <= EXCERPT_CHARS {
        joined
    } else {
        let tail: String = joined.chars().skip(count - EXCERPT_CHARS).collect();
        format!("…{tail}")
    }
}

/// stderr first (where errors usually are), then stdout.
fn output_excerpt(stdout: &[u8], stderr: &[u8]) -> String {
    match (excerpt(stdout), excerpt(stderr)) {
        (out, err) if out.is_empty() && err.is_empty() => String::new(),
        (out, err) if out.is_empty() => err,
        (out, err) if err.is_empty() => out,
        (out, err) => format!("{err} | stdout: {out}"),
    }
}

fn first_line(bytes: &[u8]) -> String {
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

fn kept(bytes: &[u8]) -> String {
    let start = bytes.len().saturating_sub(KEPT_OUTPUT_BYTES);
    String::from_utf8_lossy(&bytes[start..]).into_owned()
}

/// `steps` may be absent or empty: many deploy CLIs know the weight, not the plan. Then
/// `[backend.command] steps` is the plan.
fn parse_rollout(stdout: &[u8], config_steps: &[Step]) -> Result<Rollout, String> {
    let mut value: serde_json::Value = serde_json::from_slice(stdout).map_err(|e| e.to_string())?;
    if let Some(fields) = value.as_object_mut()
        && fields.get("steps").is_none_or(serde_json::Value::is_null)
    {
        fields.insert("steps".into(), serde_json::Value::Array(Vec::new()));
    }
    let mut rollout: Rollout = serde_json::from_value(value).map_err(|e| e.to_string())?;
    if rollout.steps.is_empty() {
        rollout.steps = config_steps.to_vec();
    }
    Ok(rollout)
}

#[derive(Debug, Clone)]
pub struct CommandReader {
    status: Template,
    steps: Vec<Step>,
    timeout: Duration,
    actions: Vec<ActionKind>,
}

impl CommandReader {
    /// Checks every configured command (actions too, so a typo fails in watch mode as well).
    pub fn new(config: &CommandConfig) -> Result<Self, String> {
        let status = Template::parse("status", &config.status, &[Var::Name])?;
        let actions = Actions::parse(config)?;
        if config.timeout.is_zero() {
            return Err("[backend.command] timeout must be more than 0 (e.g. \"30s\")".into());
        }
        Ok(Self {
            status,
            steps: config.steps.clone(),
            timeout: config.timeout,
            actions: actions.offered(),
        })
    }

    async fn status(&self, name: &str) -> Result<Rollout, String> {
        let values = Values {
            name,
            ..Values::default()
        };
        let shown = format!("status command `{}`", self.status.shown(&values));
        let started = std::time::Instant::now();
        let result = run(&self.status.render(&values), self.timeout).await;
        tracing::debug!(
            program = %self.status.program(),
            rollout = %name,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "status command ran"
        );
        let done = match result {
            Ok(done) => done,
            Err(RunError::Start(e)) => {
                return Err(format!("{shown} could not start: {}", io_reason(&e)));
            }
            Err(RunError::TimedOut) => {
                return Err(format!(
                    "{shown} did not finish within {} (killed)",
                    humantime::format_duration(self.timeout)
                ));
            }
            Err(RunError::Wait(e)) => return Err(format!("{shown} failed: {}", io_reason(&e))),
        };
        if !done.status.success() {
            // CLIs print their error on stderr; some only on stdout.
            let why = match excerpt(&done.stderr) {
                err if err.is_empty() => excerpt(&done.stdout),
                err => err,
            };
            let why = if why.is_empty() {
                "(no output)".into()
            } else {
                why
            };
            return Err(format!("{shown} {}: {why}", describe_exit(done.status)));
        }
        let rollout = parse_rollout(&done.stdout, &self.steps).map_err(|e| {
            format!(
                "{shown} printed something that is not a Rollout JSON: {e} ({})",
                first_line(&done.stdout)
            )
        })?;
        if rollout.steps.is_empty() {
            return Err(format!(
                "{shown} printed a Rollout without steps and [backend.command] has none: add \
                 steps = [{{ weight = 5, hold = \"10m\" }}, ..., {{ weight = 100 }}]"
            ));
        }
        Ok(rollout)
    }
}

#[async_trait]
impl RolloutReader for CommandReader {
    fn describe(&self) -> String {
        format!("deploy commands ({})", self.status.program())
    }

    fn actions(&self) -> Vec<ActionKind> {
        self.actions.clone()
    }

    /// An action runs status, the action and status again, each within `timeout`.
    fn call_timeout(&self) -> Duration {
        self.timeout * 3 + Duration::from_secs(5)
    }

    async fn list(&self) -> Result<Vec<String>, String> {
        Err(
            "the command backend has no list command: name the rollout with --rollout or a \
             [[rollouts]] entry"
                .into(),
        )
    }

    async fn get(&self, name: &str) -> Result<Rollout, String> {
        self.status(name).await
    }
}

/// What the last action command printed, in full (up to its last 16 KiB per stream).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionOutput {
    pub kind: ActionKind,
    pub rollout: String,
    /// `None` when it was killed (timeout or signal).
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Read and control: only built when the console is not read-only.
#[derive(Debug)]
pub struct CommandController {
    reader: CommandReader,
    actions: Actions,
    last_output: Mutex<Option<ActionOutput>>,
}

impl CommandController {
    pub fn new(config: &CommandConfig) -> Result<Self, String> {
        Ok(Self {
            reader: CommandReader::new(config)?,
            actions: Actions::parse(config)?,
            last_output: Mutex::new(None),
        })
    }

    /// The output of the last action command that ran (or timed out). On success an excerpt is also in
    /// the returned `Rollout.message` (when status has none); on failure, in the error text.
    pub fn last_output(&self) -> Option<ActionOutput> {
        self.last_output
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn keep(&self, output: ActionOutput) {
        *self
            .last_output
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(output);
    }
}

super::read_through_reader!(CommandController);

#[async_trait]
impl RolloutController for CommandController {
    async fn act(&self, req: &ActionRequest) -> Result<Rollout, ActionError> {
        req.check_step_given()?;
        let kind = req.kind.as_str();
        let Some(template) = self.actions.get(req.kind) else {
            return Err(ActionError::Rejected(format!(
                "no {kind} command configured in [backend.command]"
            )));
        };
        // A script can't be trusted to check `expected_step`, so read right before acting. This
        // narrows the race with another operator; it cannot close it (the script may check `{step}`).
        let before = self
            .reader
            .status(&req.rollout)
            .await
            .map_err(|e| ActionError::Rejected(format!("{e}; nothing was done")))?;
        // No expected step: a rollback sent while the console could not read the state.
        if let Some(seen) = req.expected_step.filter(|seen| *seen != before.step) {
            return Err(ActionError::Conflict {
                current_step: Some(before.step),
                message: format!(
                    "status says step {}, you saw step {}",
                    before.step + 1,
                    seen + 1
                ),
            });
        }
        let values = Values {
            name: &req.rollout,
            step: before.step,
            weight: before.canary_weight,
            actor: &req.actor,
            reason: &req.reason,
        };
        let shown = format!("{kind} command `{}`", template.shown(&values));
        // The program and the action only: argv may carry the actor and the reason.
        tracing::info!(action = kind, rollout = %req.rollout, program = %template.program(), "running action command");
        let result = run(&template.render(&values), self.reader.timeout).await;
        let output = |exit_code, timed_out, stdout: &[u8], stderr: &[u8]| ActionOutput {
            kind: req.kind,
            rollout: req.rollout.clone(),
            exit_code,
            timed_out,
            stdout: kept(stdout),
            stderr: kept(stderr),
        };
        let done = match result {
            Ok(done) => done,
            Err(RunError::Start(e)) => {
                return Err(ActionError::Rejected(format!(
                    "{shown} could not start: {}; nothing was done",
                    io_reason(&e)
                )));
            }
            Err(RunError::TimedOut) => {
                self.keep(output(None, true, b"", b""));
                return Err(ActionError::Unknown(format!(
                    "{shown} did not finish within {} (killed); it may have acted",
                    humantime::format_duration(self.reader.timeout)
                )));
            }
            Err(RunError::Wait(e)) => {
                return Err(ActionError::Unknown(format!(
                    "{shown} failed: {}",
                    io_reason(&e)
                )));
            }
        };
        self.keep(output(
            done.status.code(),
            false,
            &done.stdout,
            &done.stderr,
        ));
        let printed = output_excerpt(&done.stdout, &done.stderr);
        tracing::info!(action = kind, rollout = %req.rollout, status = %describe_exit(done.status), "action command finished");
        if !done.status.success() {
            let printed = if printed.is_empty() {
                "(no output)".to_string()
            } else {
                printed
            };
            let why = format!("{shown} {}: {printed}", describe_exit(done.status));
            // An exit code is the script's own refusal; a signal stopped it at an unknown point.
            return Err(if done.status.code().is_some() {
                ActionError::Rejected(why)
            } else {
                ActionError::Unknown(why)
            });
        }
        let mut after = self.reader.status(&req.rollout).await.map_err(|e| {
            ActionError::Unknown(format!(
                "{shown} succeeded, but reading it back failed: {e}"
            ))
        })?;
        if after.message.is_none() && !printed.is_empty() {
            after.message = Some(format!("{kind}: {printed}"));
        }
        Ok(after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn placeholders_are_substituted_inside_arguments_and_never_rescanned() {
        let t = Template::parse(
            "promote",
            &args(&["deploy", "--to={name}@{next_step}", "{weight}%", "{reason}"]),
            &Var::ALL,
        )
        .expect("parses");
        let values = Values {
            name: "checkout",
            step: 1,
            weight: 25,
            actor: "alice@bastion",
            reason: "{name} \"; rm -rf /",
        };
        assert_eq!(
            t.render(&values),
            args(&["deploy", "--to=checkout@2", "25%", "{name} \"; rm -rf /"])
        );
        assert_eq!(t.shown(&values), "deploy --to=checkout@2 25% {reason}");
    }

    #[test]
    fn other_braces_are_text() {
        let t = Template::parse(
            "status",
            &args(&["jq", "{}", "{\"a\": 1}", "{"]),
            &[Var::Name],
        )
        .expect("parses");
        assert_eq!(
            t.render(&Values::default()),
            args(&["jq", "{}", "{\"a\": 1}", "{"])
        );
    }

    #[test]
    fn unknown_and_misplaced_placeholders_are_named() {
        let err = Template::parse("promote", &args(&["d", "--x={nmae}"]), &Var::ALL).unwrap_err();
        assert!(err.contains("unknown placeholder {nmae}"), "{err}");
        assert!(err.contains("{next_step}"), "{err}");
        let err = Template::parse("status", &args(&["d", "{step}"]), &[Var::Name]).unwrap_err();
        assert!(
            err.contains("status: {step} is only known when acting"),
            "{err}"
        );
        let err = Template::parse("pause", &[], &Var::ALL).unwrap_err();
        assert!(err.contains("[backend.command] pause is empty"), "{err}");
    }

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
