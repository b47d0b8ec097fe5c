//! The only impure part of the app: runs effects in tokio tasks and owns the terminal loop.
//! Messages are drained, `update` runs for each, and the screen is drawn once if anything changed,
//! at most once per frame interval.

use chrono::Utc;
use crossterm::event::{Event as TermEvent, EventStream};
use futures::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};

use super::effect::Effect;
use super::keymap::map_key;
use super::model::Model;
use super::msg::Msg;
use super::update::update;
use crate::audit::AuditLog;
use crate::backend::{ActionError, BackendHandle};
use crate::metrics::MetricsSource;

const FRAME_INTERVAL: Duration = Duration::from_millis(33);
const TICK_INTERVAL: Duration = Duration::from_secs(1);
/// No metrics call may hold its poller longer than this (backends set their own limit).
const CALL_TIMEOUT: Duration = Duration::from_secs(15);

/// Runs effects against the real world and reports back as messages.
#[derive(Clone)]
pub struct EffectRunner {
    pub backend: BackendHandle,
    pub source: Arc<dyn MetricsSource>,
    pub audit: AuditLog,
    pub notifier: Option<Arc<crate::notify::Notifier>>,
    pub tx: mpsc::UnboundedSender<Msg>,
}

impl EffectRunner {
    pub fn spawn(&self, effect: Effect) {
        let runner = self.clone();
        tokio::spawn(async move { runner.run(effect).await });
    }

    async fn run(self, effect: Effect) {
        let msg = match effect {
            Effect::FetchRollout { generation, name } => {
                let reader = self.backend.reader();
                let limit = reader.call_timeout();
                let result = match tokio::time::timeout(limit, reader.get(&name)).await {
                    Ok(r) => r,
                    Err(_) => Err(format!(
                        "the backend did not answer within {}s",
                        limit.as_secs()
                    )),
                };
                Msg::RolloutFetched {
                    generation,
                    at: Utc::now(),
                    result,
                }
            }
            Effect::WatchRollout { name } => {
                // Lives as long as the backend's watch: every change asks for a re-read.
                let Some(mut changes) = self.backend.reader().watch(&name) else {
                    return;
                };
                tracing::info!(rollout = %name, "watching the rollout for changes");
                while changes.changed().await.is_ok() {
                    if self.tx.send(Msg::RolloutChanged).is_err() {
                        break;
                    }
                }
                return;
            }
            Effect::FetchPermissions { name } => {
                let reader = self.backend.reader();
                let result =
                    match tokio::time::timeout(reader.call_timeout(), reader.permissions(&name))
                        .await
                    {
                        Ok(r) => r,
                        Err(_) => Err("the backend did not answer in time".into()),
                    };
                Msg::PermissionsFetched { result }
            }
            Effect::FetchMetrics {
                generation,
                request,
            } => {
                let started = std::time::Instant::now();
                let result =
                    match tokio::time::timeout(CALL_TIMEOUT, self.source.fetch(&request)).await {
                        Ok(r) => r,
                        Err(_) => {
                            let why = format!(
                                "the metrics source did not answer within {}s",
                                CALL_TIMEOUT.as_secs()
                            );
                            crate::metrics::FetchResult {
                                metrics: request
                                    .metrics
                                    .iter()
                                    .map(|m| (m.name.clone(), Err(why.clone())))
                                    .collect(),
                                slos: request
                                    .slos
                                    .iter()
                                    .map(|s| (s.name.clone(), Err(why.clone())))
                                    .collect(),
                                ..Default::default()
                            }
                        }
                    };
                tracing::debug!(
                    queries = result.queries,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "metrics poll"
                );
                Msg::MetricsFetched {
                    generation,
                    at: Utc::now(),
                    result,
                }
            }
            Effect::Audit { receipt } => {
                let audit = self.audit.clone();
                let written = tokio::task::spawn_blocking(move || audit.append(&receipt))
                    .await
                    .map_err(|e| e.to_string())
                    .and_then(|r| r.map_err(|e| e.to_string()));
                match written {
                    Ok(()) => return,
                    Err(e) => Msg::Notice(
                        super::model::EventLevel::Bad,
                        format!("AUDIT LOG WRITE FAILED (follow-up receipt): {e}"),
                    ),
                }
            }
            Effect::Act {
                request,
                mut receipt,
            } => {
                let result = match self.backend.controller() {
                    // Unreachable by construction: read-only mode never opens a prompt. Kept as a refusal.
                    None => Err(ActionError::Rejected(
                        "read-only: this console holds no control handle".into(),
                    )),
                    Some(controller) => {
                        let limit = controller.call_timeout();
                        match tokio::time::timeout(limit, controller.act(&request)).await {
                            Ok(r) => r,
                            Err(_) => Err(ActionError::Unknown(format!(
                                "no answer within {}s",
                                limit.as_secs()
                            ))),
                        }
                    }
                };
                receipt.time = Utc::now();
                (receipt.result, receipt.message) = match &result {
                    Ok(r) => ("ok".into(), r.message.clone()),
                    Err(e @ ActionError::Conflict { .. }) => {
                        ("conflict".into(), Some(e.to_string()))
                    }
                    Err(e @ ActionError::Rejected(_)) => ("rejected".into(), Some(e.to_string())),
                    Err(e @ ActionError::Unknown(_)) => ("unknown".into(), Some(e.to_string())),
                };
                if let Ok(r) = &result {
                    receipt.to_step = Some(r.step);
                    receipt.to_weight = Some(r.canary_weight);
                    let completed = r.state == crate::domain::RolloutState::Completed;
                    receipt.operation = crate::audit::operation(request.kind, completed).into();
                    receipt.response = serde_json::to_value(r).ok();
                }
                if let Some(notifier) = self.notifier.clone() {
                    let text = crate::notify::message(&receipt);
                    let tx = self.tx.clone();
                    tokio::spawn(async move {
                        if let Err(e) = notifier.send(&text).await {
                            let why = format!("notify failed ({e}); the action itself is done");
                            let _ = tx.send(Msg::Notice(super::model::EventLevel::Warn, why));
                        }
                    });
                }
                // The receipt is on disk before the UI hears of the outcome.
                let audit = self.audit.clone();
                let audit_error = tokio::task::spawn_blocking(move || audit.append(&receipt))
                    .await
                    .map_err(|e| e.to_string())
                    .and_then(|r| r.map_err(|e| e.to_string()))
                    .err();
                tracing::info!(action = ?request.kind, rollout = %request.rollout, ok = result.is_ok(), "action finished");
                Msg::ActionFinished {
                    kind: request.kind,
                    at: Utc::now(),
                    result,
                    audit_error,
                }
            }
        };
        // The receiver is gone only when the console is quitting.
        let _ = self.tx.send(msg);
    }
}

/// Restores the terminal when dropped: on normal exit, on error, and on early return.
pub struct TerminalGuard;

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        ratatui::restore();
    }
}

/// Set by the hidden `--test-panic-after-first-frame` flag (see `cli::Cli`), for the tests only.
pub static PANIC_AFTER_FIRST_FRAME: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// Run the interactive console until the user quits or a signal arrives.
pub async fn run_console(
    mut model: Model,
    runner: EffectRunner,
    mut rx: mpsc::UnboundedReceiver<Msg>,
    theme: crate::ui::Theme,
) -> color_eyre::Result<Model> {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        color_eyre::eyre::bail!(
            "the console needs an interactive terminal (stdin and stdout must be a TTY); \
             over SSH use `ssh -t`, and in CI use `rollout-console check`"
        );
    }
    // try_init installs a panic hook that restores the terminal before the report prints.
    let mut terminal = ratatui::try_init()?;
    let _guard = TerminalGuard;
    let mut keys = EventStream::new();
    if let Ok(size) = terminal.size() {
        update(&mut model, Msg::Resize(size.width, size.height));
    }
    let mut ticks = tokio::time::interval(TICK_INTERVAL);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut sighup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    let mut dirty = true;
    let mut last_draw: Option<Instant> = None;
    // Lets the end-to-end tests prove the terminal is restored on a panic (hidden CLI flag).
    let panic_for_test = PANIC_AFTER_FIRST_FRAME.load(std::sync::atomic::Ordering::Relaxed);

    loop {
        let frame_due = last_draw.map_or(Instant::now(), |t| t + FRAME_INTERVAL);
        let mut batch = Vec::new();
        tokio::select! {
            maybe = keys.next() => match maybe {
                Some(Ok(TermEvent::Key(key))) => batch.extend(map_key(&model, key)),
                Some(Ok(TermEvent::Resize(w, h))) => batch.push(Msg::Resize(w, h)),
                Some(Ok(_)) => {}
                // The terminal is gone (SSH dropped): leave cleanly.
                Some(Err(_)) | None => batch.push(Msg::Quit),
            },
            Some(msg) = rx.recv() => batch.push(msg),
            _ = ticks.tick() => batch.push(Msg::Tick(Utc::now())),
            _ = sigterm.recv() => batch.push(Msg::Quit),
            _ = sighup.recv() => batch.push(Msg::Quit),
            _ = tokio::time::sleep_until(frame_due), if dirty => {}
        }
        while let Ok(msg) = rx.try_recv() {
            batch.push(msg);
        }
        for msg in batch {
            dirty = true;
            for effect in update(&mut model, msg) {
                runner.spawn(effect);
            }
        }
        if model.quit {
            break;
        }
        if dirty && last_draw.is_none_or(|t| t.elapsed() >= FRAME_INTERVAL) {
            terminal.draw(|frame| crate::ui::draw(frame, &model, &theme))?;
            last_draw = Some(Instant::now());
            let last = crate::ui::overlay_max_scroll(&model, model.screen);
            if last != model.overlay_last_scroll {
                update(&mut model, Msg::OverlayMeasured(last));
            }
            dirty = false;
            if panic_for_test {
                panic!("--test-panic-after-first-frame: panicking after the first frame");
            }
        }
    }
    Ok(model)
}
