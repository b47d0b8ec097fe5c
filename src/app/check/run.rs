//! Running `check`: poll through the same update loop and effect runner as the TUI until the
//! report is final (once, or with `--wait` until the hold is satisfied, a rollback-severity gate
//! fails, or the timeout), print it, and write a budget-policy override to the audit log.

use chrono::Utc;
use std::path::Path;
use std::time::Duration;
use tokio::sync::mpsc;

use super::report::{CheckReport, Overall, render_human, report, rollback_advised};
use crate::app::model::Model;
use crate::app::msg::Msg;
use crate::app::runner::EffectRunner;
use crate::app::{Effect, update};
use crate::audit::{AuditLog, AuditRecord, AuditResult, GATE_OVERRIDE};

/// What `check` was asked for (its command-line flags).
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// Poll until the report is final instead of judging once.
    pub wait: bool,
    /// With `wait`: give up after this long (inconclusive).
    pub timeout: Duration,
    /// Print the `--json` contract instead of the table.
    pub json: bool,
    /// Lifts the error-budget policy only, and is written to the audit log.
    pub override_reason: Option<String>,
}

/// What can stop `check` before it reports.
#[derive(Debug)]
pub enum CheckError {
    /// The override receipt could not be written.
    AuditWrite {
        path: String,
        source: std::io::Error,
    },
    /// The report could not be written as JSON.
    Report(serde_json::Error),
}

impl std::fmt::Display for CheckError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::AuditWrite { path, source } => {
                write!(f, "cannot write the audit log {path}: {source}")
            }
            Self::Report(e) => write!(f, "cannot write the report: {e}"),
        }
    }
}

impl std::error::Error for CheckError {}

/// `check`: poll through the same update loop as the TUI, then report; returns the exit code.
pub async fn run_check(
    mut model: Model,
    runner: EffectRunner,
    mut rx: mpsc::UnboundedReceiver<Msg>,
    options: &CheckOptions,
) -> Result<u8, CheckError> {
    let poll = model.settings.poll_interval;
    let started = std::time::Instant::now();
    loop {
        // Read the rollout first, so the metrics range covers the whole current step.
        for phase in 0..2 {
            model.current_mut().polls = Default::default();
            let mut waiting = 0;
            for effect in update(&mut model, Msg::Tick(Utc::now())) {
                let wanted = matches!(
                    (&effect, phase),
                    (Effect::FetchRollout { .. }, 0) | (Effect::FetchMetrics { .. }, 1)
                );
                if wanted {
                    runner.spawn(effect);
                    waiting += 1;
                }
            }
            while waiting > 0 {
                let Some(msg) = rx.recv().await else { break };
                update(&mut model, msg);
                waiting -= 1;
            }
        }
        let mut r = report(&model, options.override_reason.as_deref());
        let done = !options.wait
            || r.ready_to_promote
            || rollback_advised(&r)
            || r.verdict == Overall::Completed;
        let timed_out = options.wait && !done && started.elapsed() >= options.timeout;
        if timed_out {
            r.summary.push(format!(
                "timed out after {} waiting for the hold",
                humantime::format_duration(options.timeout)
            ));
            r.verdict = Overall::Inconclusive;
            r.exit_code = r.verdict.exit_code();
        }
        if done || timed_out {
            if !r.policy.is_empty() && r.override_reason.is_some() {
                record_override(&r, runner.audit.path(), &model)?;
            }
            // The override lifts the budget policy only; say so rather than ignore it silently.
            if options.override_reason.is_some() {
                if matches!(r.verdict, Overall::Fail) {
                    eprintln!(
                        "check: --override-reason lifts only the error-budget policy ([policy] \
                         min_budget_to_promote), never a failing gate: the verdict stays FAIL"
                    );
                } else if r.policy.is_empty() {
                    eprintln!(
                        "check: --override-reason not used: no error budget is under [policy] \
                         min_budget_to_promote"
                    );
                }
            }
            if options.json {
                let json = serde_json::to_string_pretty(&r).map_err(CheckError::Report)?;
                println!("{json}");
            } else {
                print!("{}", render_human(&r));
            }
            return Ok(r.exit_code);
        }
        let why = r
            .readiness
            .first()
            .or(r.summary.first())
            .cloned()
            .unwrap_or_default();
        eprintln!("check: waiting ({why})");
        tokio::time::sleep(poll).await;
    }
}

/// A budget-policy override from CI goes to the audit log like any action: its verdicts are the
/// model's (as the report shows them), its result the report's verdict.
pub fn record_override(r: &CheckReport, path: &Path, model: &Model) -> Result<(), CheckError> {
    let mut record = AuditRecord::new(
        Utc::now(),
        (&model.settings.actor, model.settings.ssh_client.as_deref()),
        &r.rollout,
        GATE_OVERRIDE,
        GATE_OVERRIDE,
        (r.step.unwrap_or(0), r.canary_weight.unwrap_or(0)),
    );
    record.verdicts = crate::app::update::receipt_verdicts(model, model.open);
    record.override_reason = r.override_reason.clone();
    record.result = match r.verdict {
        Overall::Pass => AuditResult::Pass,
        Overall::Fail => AuditResult::Fail,
        Overall::Inconclusive => AuditResult::Inconclusive,
        Overall::Completed => AuditResult::Completed,
    };
    record.message = Some(r.policy.join("; "));
    AuditLog::new(path.to_path_buf())
        .append(&record)
        .map_err(|source| CheckError::AuditWrite {
            path: path.display().to_string(),
            source,
        })
}
