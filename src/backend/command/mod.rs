//! `kind = "command"`: deploys driven by scripts and CLIs (flyctl, `canary-deploy.sh --promote`).
//! Each command is an argv template from `[backend.command]`, run without a shell: a placeholder's
//! value is one argument's text, never parsed, so a reason like `"; rm -rf /` is just text.
//! The reader only ever runs `status` (and `list`, when configured); the controller, built only
//! in read-write mode, adds the action commands. The contract is in assets/deploy-api.md.
//! This module holds the reader and the controller; the templates are in `template`, running a
//! process in `process`, reading what `list` prints in `list`.

mod list;
mod process;
mod template;

use async_trait::async_trait;
use std::time::Duration;

use self::list::{list_items, parse_list};
use self::process::{
    Finished, RunError, describe_exit, excerpt, first_line, io_reason, output_excerpt, run,
};
use self::template::{Template, Values, Var};
use super::{
    ActionError, ActionRequest, BackendHandle, ReadError, RolloutController, RolloutReader,
};
use crate::domain::action::ActionKind;
use crate::domain::{Rollout, Step};

/// The commands to run (what the config's `[backend.command]` maps to).
#[derive(Debug, Clone, PartialEq)]
pub struct CommandSettings {
    /// Prints the rollout as the deploy API's `Rollout` JSON on stdout.
    pub status: Vec<String>,
    /// Optional: prints the rollouts' names (one a line, or JSON), for the fleet screen.
    pub list: Option<Vec<String>>,
    /// Optional: prints every rollout whole (the deploy API's `GET /rollouts`): the fleet is then
    /// read with one run a poll instead of one `status` per rollout.
    pub status_all: Option<Vec<String>>,
    pub promote: Option<Vec<String>>,
    pub pause: Option<Vec<String>>,
    pub resume: Option<Vec<String>>,
    pub rollback: Option<Vec<String>>,
    /// Optional: skip the remaining steps (offered as `P` only when set).
    pub promote_full: Option<Vec<String>>,
    /// Optional: start an aborted rollout again (offered as `t` only when set).
    pub retry: Option<Vec<String>>,
    /// Optional: restore the previous revision (offered as `u` only when set).
    pub undo: Option<Vec<String>>,
    /// Per command run; the process is killed when it is over.
    pub timeout: Duration,
    /// The phases, for status commands whose JSON has no `steps`.
    pub steps: Vec<Step>,
}

impl From<&CommandSettings> for CommandSettings {
    fn from(settings: &CommandSettings) -> Self {
        settings.clone()
    }
}

/// `kind = "command"` from its settings: the reader alone when read-only (it runs only
/// `status` and `list`), so no action command can be reached from the keys. Every command is
/// checked either way, so a typo fails in watch mode as well.
pub fn build(settings: CommandSettings, read_only: bool) -> Result<BackendHandle, CommandError> {
    let reader = CommandReader::new(&settings)?;
    let actions = Actions::parse(&settings)?;
    Ok(BackendHandle::new(reader, read_only, |reader| {
        CommandController { reader, actions }
    }))
}

/// What went wrong with a command (or its template); `Display` is the words shown.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// A template that does not parse: an unknown or misplaced placeholder, an empty argv.
    #[error("{0}")]
    Template(String),
    #[error("[backend.command] timeout must be more than 0 (e.g. \"30s\")")]
    ZeroTimeout,
    #[error("{shown} could not start: {}", io_reason(.source))]
    Start {
        shown: String,
        source: std::io::Error,
    },
    #[error("{shown} did not finish within {} (killed)", humantime::format_duration(*.timeout))]
    TimedOut { shown: String, timeout: Duration },
    #[error("{shown} failed: {}", io_reason(.source))]
    Wait {
        shown: String,
        source: std::io::Error,
    },
    /// It ran and failed: how it ended, and what it printed (stderr, else stdout).
    #[error("{shown} {exit}: {printed}")]
    Exit {
        shown: String,
        exit: String,
        printed: String,
    },
    #[error("{shown} printed something that is not a Rollout JSON: {reason} ({first_line})")]
    NotRollout {
        shown: String,
        reason: String,
        first_line: String,
    },
    #[error(
        "{shown} printed a Rollout without steps and [backend.command] has none: add \
         steps = [{{ weight = 5, hold = \"10m\" }}, ..., {{ weight = 100 }}]"
    )]
    NoSteps { shown: String },
    #[error(
        "{shown} printed something that is not a list of rollout names: {reason} ({first_line})"
    )]
    NotList {
        shown: String,
        reason: String,
        first_line: String,
    },
    #[error(
        "the command backend has no list command: add list = [\"./deploy.sh\", \"list\"] to \
         [backend.command] (it prints one rollout name a line), or name the rollout with \
         --rollout or a [[rollouts]] entry"
    )]
    NoList,
}

impl From<String> for CommandError {
    fn from(template: String) -> Self {
        Self::Template(template)
    }
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

    fn parse(config: &CommandSettings) -> Result<Self, CommandError> {
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

/// `steps` may be absent or empty: many deploy CLIs know the weight, not the plan. Then
/// `[backend.command] steps` is the plan.
fn parse_rollout(stdout: &[u8], config_steps: &[Step]) -> Result<Rollout, String> {
    let value: serde_json::Value = serde_json::from_slice(stdout).map_err(|e| e.to_string())?;
    rollout_from(value, config_steps)
}

fn rollout_from(mut value: serde_json::Value, config_steps: &[Step]) -> Result<Rollout, String> {
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

/// What `status_all` prints: `{"rollouts": [...]}` (the deploy API's `GET /rollouts`) or a bare
/// array, each item a whole `Rollout`; an item that is not one is named by its place.
fn parse_rollouts(stdout: &[u8], config_steps: &[Step]) -> Result<Vec<Rollout>, String> {
    let value: serde_json::Value = serde_json::from_slice(stdout).map_err(|e| e.to_string())?;
    list_items(value)?
        .into_iter()
        .enumerate()
        .map(|(at, item)| {
            rollout_from(item, config_steps).map_err(|e| format!("item {}: {e}", at + 1))
        })
        .collect()
}

#[derive(Debug, Clone)]
pub struct CommandReader {
    status: Template,
    list: Option<Template>,
    status_all: Option<Template>,
    steps: Vec<Step>,
    timeout: Duration,
    actions: Vec<ActionKind>,
}

impl CommandReader {
    /// Checks every configured command (actions too, so a typo fails in watch mode as well).
    pub fn new(settings: impl Into<CommandSettings>) -> Result<Self, CommandError> {
        let config = &settings.into();
        let status = Template::parse("status", &config.status, &[Var::Name])?;
        let list = config
            .list
            .as_deref()
            .map(|argv| Template::parse("list", argv, &[]))
            .transpose()?;
        let status_all = config
            .status_all
            .as_deref()
            .map(|argv| Template::parse("status_all", argv, &[]))
            .transpose()?;
        let actions = Actions::parse(config)?;
        if config.timeout.is_zero() {
            return Err(CommandError::ZeroTimeout);
        }
        Ok(Self {
            status,
            list,
            status_all,
            steps: config.steps.clone(),
            timeout: config.timeout,
            actions: actions.offered(),
        })
    }

    /// Runs a read command (`status`, `list`) to its end: an error unless it exited 0.
    async fn read(
        &self,
        template: &Template,
        values: &Values<'_>,
        shown: &str,
    ) -> Result<Finished, CommandError> {
        let shown = shown.to_string();
        let done = match run(&template.render(values), self.timeout).await {
            Ok(done) => done,
            Err(RunError::Start(source)) => return Err(CommandError::Start { shown, source }),
            Err(RunError::TimedOut) => {
                return Err(CommandError::TimedOut {
                    shown,
                    timeout: self.timeout,
                });
            }
            Err(RunError::Wait(source)) => return Err(CommandError::Wait { shown, source }),
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
            return Err(CommandError::Exit {
                shown,
                exit: describe_exit(done.status),
                printed: why,
            });
        }
        Ok(done)
    }

    async fn status(&self, name: &str) -> Result<Rollout, CommandError> {
        let values = Values {
            name,
            ..Values::default()
        };
        let shown = format!("status command `{}`", self.status.shown(&values));
        let started = std::time::Instant::now();
        let result = self.read(&self.status, &values, &shown).await;
        tracing::debug!(
            program = %self.status.program(),
            rollout = %name,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "status command ran"
        );
        let done = result?;
        let rollout = match parse_rollout(&done.stdout, &self.steps) {
            Ok(rollout) => rollout,
            Err(reason) => {
                return Err(CommandError::NotRollout {
                    shown,
                    reason,
                    first_line: first_line(&done.stdout),
                });
            }
        };
        if rollout.steps.is_empty() {
            return Err(CommandError::NoSteps { shown });
        }
        Ok(rollout)
    }

    /// Runs a command about the whole fleet (`list`, `status_all`: no placeholders), logging
    /// how long it took; what it printed and how it is shown in errors.
    async fn read_whole_fleet(
        &self,
        template: &Template,
        key: &str,
    ) -> Result<(Finished, String), CommandError> {
        let values = Values::default();
        let shown = format!("{key} command `{}`", template.shown(&values));
        let started = std::time::Instant::now();
        let result = self.read(template, &values, &shown).await;
        tracing::debug!(
            program = %template.program(),
            command = key,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "fleet command ran"
        );
        Ok((result?, shown))
    }

    /// The rollouts' names from the `list` command, in the order it printed them.
    async fn names(&self) -> Result<Vec<String>, CommandError> {
        let Some(template) = &self.list else {
            return match &self.status_all {
                Some(_) => Ok(self
                    .every_status()
                    .await?
                    .into_iter()
                    .map(|r| r.name)
                    .collect()),
                None => Err(CommandError::NoList),
            };
        };
        let (done, shown) = self.read_whole_fleet(template, "list").await?;
        parse_list(&done.stdout).map_err(|reason| CommandError::NotList {
            shown,
            reason,
            first_line: first_line(&done.stdout),
        })
    }

    /// Every rollout from the `status_all` command, whole, in the order it printed them.
    async fn every_status(&self) -> Result<Vec<Rollout>, CommandError> {
        let Some(template) = &self.status_all else {
            return Err(CommandError::NoList);
        };
        let (done, shown) = self.read_whole_fleet(template, "status_all").await?;
        let rollouts = parse_rollouts(&done.stdout, &self.steps).map_err(|reason| {
            CommandError::NotRollout {
                shown: shown.clone(),
                reason,
                first_line: first_line(&done.stdout),
            }
        })?;
        if let Some(bare) = rollouts.iter().find(|r| r.steps.is_empty()) {
            return Err(CommandError::NoSteps {
                shown: format!("{shown} (rollout {})", bare.name),
            });
        }
        Ok(rollouts)
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

    async fn list(&self) -> Result<Vec<String>, ReadError> {
        Ok(self.names().await?)
    }

    async fn get(&self, name: &str) -> Result<Rollout, ReadError> {
        Ok(self.status(name).await?)
    }

    fn reads_fleet_whole(&self) -> bool {
        self.status_all.is_some()
    }

    async fn get_all(&self) -> Result<Vec<Rollout>, ReadError> {
        Ok(self.every_status().await?)
    }
}

/// Read and control: only built when the console is not read-only.
#[derive(Debug)]
pub struct CommandController {
    reader: CommandReader,
    actions: Actions,
}

impl CommandController {
    pub fn new(settings: impl Into<CommandSettings>) -> Result<Self, CommandError> {
        let config = &settings.into();
        Ok(Self {
            reader: CommandReader::new(config)?,
            actions: Actions::parse(config)?,
        })
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
        let done = match result {
            Ok(done) => done,
            Err(RunError::Start(source)) => {
                let e = CommandError::Start { shown, source };
                return Err(ActionError::Rejected(format!("{e}; nothing was done")));
            }
            Err(RunError::TimedOut) => {
                let e = CommandError::TimedOut {
                    shown,
                    timeout: self.reader.timeout,
                };
                return Err(ActionError::Unknown(format!("{e}; it may have acted")));
            }
            Err(RunError::Wait(source)) => {
                let e = CommandError::Wait { shown, source };
                return Err(ActionError::Unknown(e.to_string()));
            }
        };
        let printed = output_excerpt(&done.stdout, &done.stderr);
        tracing::info!(action = kind, rollout = %req.rollout, status = %describe_exit(done.status), "action command finished");
        if !done.status.success() {
            let printed = if printed.is_empty() {
                "(no output)".to_string()
            } else {
                printed
            };
            let why = CommandError::Exit {
                shown,
                exit: describe_exit(done.status),
                printed,
            }
            .to_string();
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

    fn argv(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn settings(list: Option<Vec<String>>, timeout: Duration) -> CommandSettings {
        CommandSettings {
            status: argv(&["true"]),
            list,
            status_all: None,
            promote: None,
            pause: None,
            resume: None,
            rollback: None,
            promote_full: None,
            retry: None,
            undo: None,
            timeout,
            steps: Vec::new(),
        }
    }

    /// A reader whose `list` is `sh -c script` (none when `script` is `None`).
    fn reader(script: Option<&str>, timeout: Duration) -> Result<CommandReader, CommandError> {
        CommandReader::new(settings(script.map(|s| argv(&["sh", "-c", s])), timeout))
    }

    async fn list(script: &str) -> Result<Vec<String>, ReadError> {
        reader(Some(script), Duration::from_secs(10))
            .expect("builds")
            .list()
            .await
    }

    /// The adapter's own error behind a failed read.
    fn command_error(e: &ReadError) -> &CommandError {
        match e {
            ReadError::Command(e) => e,
            other => panic!("not a CommandError: {other:?}"),
        }
    }

    #[tokio::test]
    async fn list_reads_names_one_a_line_as_kubectl_prints_them() {
        let names = list("printf '  checkout \\n\\nrollout.argoproj.io/search\\n\\n'")
            .await
            .expect("lines");
        assert_eq!(names, ["checkout", "search"]);
        assert_eq!(list("true").await.expect("nothing"), Vec::<String>::new());
    }

    #[tokio::test]
    async fn list_reads_a_json_array_or_the_deploy_apis_object() {
        let names = list(r#"printf '["checkout", "search"]'"#)
            .await
            .expect("array");
        assert_eq!(names, ["checkout", "search"]);
        let names = list(r#"printf '{"rollouts": ["checkout", {"name": "search", "step": 1}]}\n'"#)
            .await
            .expect("object");
        assert_eq!(names, ["checkout", "search"]);
    }

    #[tokio::test]
    async fn a_failing_list_command_names_itself_its_exit_and_its_stderr() {
        let err = list("echo 'error: no context \"prod\"' >&2; echo ignored; exit 3")
            .await
            .expect_err("exit 3");
        let CommandError::Exit {
            shown,
            exit,
            printed,
        } = command_error(&err)
        else {
            panic!("not an exit: {err:?}");
        };
        assert!(shown.starts_with("list command `sh -c "), "{shown}");
        assert_eq!(exit, "exited 3");
        assert_eq!(printed, "error: no context \"prod\"");
        assert!(
            err.to_string()
                .ends_with("exited 3: error: no context \"prod\""),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_list_command_that_runs_too_long_is_killed_and_said_so() {
        let slow = reader(Some("sleep 5"), Duration::from_millis(200)).expect("builds");
        let err = slow.list().await.expect_err("timed out");
        assert!(
            matches!(command_error(&err), CommandError::TimedOut { timeout, .. }
                if *timeout == Duration::from_millis(200)),
            "{err:?}"
        );
        assert!(
            err.to_string().contains("did not finish within 200ms"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_list_that_is_not_names_shows_what_was_printed() {
        let err = list("printf 'NAME      STATUS\\ncheckout  Healthy\\n'")
            .await
            .expect_err("a table");
        assert!(
            matches!(command_error(&err), CommandError::NotList { .. }),
            "{err:?}"
        );
        let err = err.to_string();
        assert!(err.contains("not a list of rollout names: line 1"), "{err}");
        assert!(err.ends_with("(first line: NAME      STATUS)"), "{err}");
        let err = list(r#"printf '{"items": []}'"#)
            .await
            .expect_err("no rollouts");
        assert!(err.to_string().contains("\"rollouts\" array"), "{err}");
    }

    #[tokio::test]
    async fn without_a_list_key_the_error_says_which_key_to_add() {
        let none = reader(None, Duration::from_secs(1)).expect("builds");
        let err = none.list().await.expect_err("no list");
        assert!(
            matches!(command_error(&err), CommandError::NoList),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .contains("add list = [\"./deploy.sh\", \"list\"] to [backend.command]"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn status_all_takes_an_array_or_the_apis_object_and_names_a_bad_item() {
        let all = |script: &str| {
            let mut s = settings(None, Duration::from_secs(10));
            s.status_all = Some(argv(&["sh", "-c", script]));
            async move { CommandReader::new(s).expect("builds").get_all().await }
        };
        let one = r#"{"name": "a", "state": "paused", "stable_version": "v1", "canary_version": "v2", "step_started_at": "2026-11-23T09:30:00Z", "step": 1, "canary_weight": 20, "steps": [{"weight": 20}, {"weight": 100}]}"#;
        let got = all(&format!("printf '[{one}]'")).await.expect("array");
        assert_eq!(
            got.iter()
                .map(|r| (r.name.as_str(), r.step))
                .collect::<Vec<_>>(),
            [("a", 1)]
        );
        let got = all(&format!(r#"printf '{{"rollouts": [{one}, {one}]}}'"#))
            .await
            .expect("object");
        assert_eq!(got.len(), 2);
        let err = all(&format!(
            r#"printf '{{"rollouts": [{one}, {{"name": "b"}}]}}'"#
        ))
        .await
        .expect_err("an item without a state");
        assert!(
            matches!(command_error(&err), CommandError::NotRollout { reason, .. }
                if reason.starts_with("item 2: missing field")),
            "{err:?}"
        );
        let err = all(r#"printf '{"items": []}'"#)
            .await
            .expect_err("no rollouts");
        assert!(err.to_string().contains("\"rollouts\" array"), "{err}");
        let err = all("printf '[]' >&2; exit 4").await.expect_err("exit 4");
        assert!(
            err.to_string().starts_with("status_all command `sh -c "),
            "{err}"
        );
    }

    #[test]
    fn a_list_template_is_checked_when_the_reader_is_built() {
        let err = reader(Some("echo {name}"), Duration::from_secs(1)).expect_err("{name}");
        assert!(
            err.to_string()
                .contains("[backend.command] list: {name} has no value there"),
            "{err}"
        );
        let empty = settings(Some(Vec::new()), Duration::from_secs(1));
        let err = CommandReader::new(empty).expect_err("empty");
        assert!(
            err.to_string().contains("[backend.command] list is empty"),
            "{err}"
        );
        let no_program = settings(Some(argv(&["", "rollouts"])), Duration::from_secs(1));
        let err = CommandReader::new(no_program).expect_err("no program");
        assert!(
            err.to_string()
                .contains("list: the first element must be the program"),
            "{err}"
        );
    }
}
