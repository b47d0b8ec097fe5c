//! The effect runner: runs each `Effect` against the backend, the metrics source and the audit
//! log in its own tokio task, and reports the outcome back as a `Msg`.

use chrono::Utc;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

use super::effect::Effect;
use super::msg::Msg;
use crate::audit::{AuditLog, AuditResult};
use crate::backend::{ActionError, BackendHandle, ReadError};
use crate::metrics::MetricsSource;

/// No metrics call may hold its poller longer than this (backends set their own limit).
const CALL_TIMEOUT: Duration = Duration::from_secs(15);
/// A rollout's first metrics poll: it reads the canary's whole history, and a fleet's first
/// polls wait for the fleet's whole reads (an hour-old fleet of 50: 37 queries, 14-18 s on the
/// benchmark's Prometheus). Past 15 s its row said ERR for a poll that was only slow.
const FIRST_CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// A backend read given up after `limit`: its answer, or that it did not come in time.
async fn within<T>(
    limit: Duration,
    read: impl std::future::Future<Output = Result<T, ReadError>>,
) -> Result<T, ReadError> {
    tokio::time::timeout(limit, read)
        .await
        .unwrap_or(Err(ReadError::TimedOut(limit)))
}

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
                let result = within(reader.call_timeout(), reader.get(&name)).await;
                Msg::RolloutFetched {
                    generation,
                    at: Utc::now(),
                    result,
                }
            }
            Effect::FetchFleet { generation } => {
                let reader = self.backend.reader();
                let result = within(reader.call_timeout(), reader.get_all()).await;
                Msg::FleetFetched {
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
                    if self.tx.send(Msg::RolloutChanged(name.clone())).is_err() {
                        break;
                    }
                }
                return;
            }
            Effect::ListRollouts => {
                let reader = self.backend.reader();
                let result = within(reader.call_timeout(), reader.list()).await;
                Msg::RolloutsListed { result }
            }
            Effect::FetchPermissions { name } => {
                let reader = self.backend.reader();
                let result =
                    match tokio::time::timeout(reader.call_timeout(), reader.permissions(&name))
                        .await
                    {
                        Ok(r) => r,
                        Err(_) => Err(ReadError::NoAnswerInTime),
                    };
                Msg::PermissionsFetched {
                    rollout: name,
                    result,
                }
            }
            Effect::FetchMetrics {
                generation,
                request,
                first,
            } => {
                let started = std::time::Instant::now();
                let limit = if first {
                    FIRST_CALL_TIMEOUT
                } else {
                    CALL_TIMEOUT
                };
                // In a task of its own: a poll given up at the limit still finishes its reads
                // (a fleet's grouped read serves every member); dropped halfway, the next poll
                // would ask it all again, and at start-up that kept the polls past the limit.
                let source = Arc::clone(&self.source);
                let fetch = tokio::spawn({
                    let request = request.clone();
                    async move { source.fetch(&request).await }
                });
                let result = match tokio::time::timeout(limit, fetch).await {
                    Ok(Ok(r)) => r,
                    failed => {
                        let why = match failed {
                            Ok(Err(e)) => format!("the metrics poll failed: {e}"),
                            _ => format!(
                                "the metrics source did not answer within {}s",
                                limit.as_secs()
                            ),
                        };
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
                let (answer, message) = match &result {
                    Ok(r) => (AuditResult::Ok, r.message.clone()),
                    Err(e @ ActionError::Conflict { .. }) => {
                        (AuditResult::Conflict, Some(e.to_string()))
                    }
                    Err(e @ ActionError::Rejected(_)) => {
                        (AuditResult::Rejected, Some(e.to_string()))
                    }
                    Err(e @ ActionError::Unknown(_)) => (AuditResult::Unknown, Some(e.to_string())),
                };
                receipt.answered(
                    Utc::now(),
                    request.kind,
                    answer,
                    message,
                    result.as_ref().ok(),
                );
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
                    rollout: request.rollout.clone(),
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
