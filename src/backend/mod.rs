//! Deploy backends, split by capability: a read side every mode gets, and a control side that
//! only a read-write console is ever handed. Read-only mode builds the read side alone, so no key
//! press can reach a mutating method.
//!
//! Each backend takes its own settings type (`http::HttpSettings`, `command::CommandSettings`,
//! `argo::ArgoSettings`; `config` maps to them, never the other way) and builds itself with one
//! function, `build(settings, read_only)`, which ends in `BackendHandle::new`: the one place
//! read-only is decided. `BackendSettings` is the registration: one variant per backend, and its
//! `build` the one call `setup` makes.
//!
//! Errors are typed per adapter (`HttpError`, `CommandError`, `ArgoError`) and reach the app as
//! one `ReadError` (a read) or `ActionError` (an action); they become words only where the
//! console shows or records them (`Display`: in `ui/`, `app::explain`, the check report, the
//! event log's lines and the audit receipt).
//!
//! A new backend touches three files: its module, this file (its `mod` line, its
//! `BackendSettings` variant, its `build` arm, and its `ReadError` / `BuildError` variants), and
//! `config.rs` (its keys in `[backend]` and the mapping to its settings).

pub mod argo;
pub mod command;
pub mod http;

use async_trait::async_trait;
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;

use crate::domain::Rollout;
use crate::domain::action::{ActionKind, Permissions};

/// A control request. `expected_step` is the step (0-based) the user saw when they confirmed;
/// `None` only for a rollback sent while the rollout could not be read (rolling back is the safe
/// direction, so it goes without the stale-screen check).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActionRequest {
    pub kind: ActionKind,
    pub rollout: String,
    pub expected_step: Option<usize>,
    pub actor: String,
    pub reason: String,
}

impl ActionRequest {
    /// Only a rollback may go without the step the user saw; the refusal for anything else.
    pub fn check_step_given(&self) -> Result<(), ActionError> {
        match (self.expected_step, self.kind) {
            (None, kind) if kind != ActionKind::Rollback => Err(ActionError::Rejected(format!(
                "{} needs the step you saw; only a rollback goes without it; nothing was sent",
                kind.verb()
            ))),
            _ => Ok(()),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ActionError {
    /// The rollout is no longer on the step the user saw (HTTP 409 in the deploy API).
    Conflict {
        current_step: Option<usize>,
        message: String,
    },
    /// The backend refused (bad state, forbidden, ...). Nothing changed.
    Rejected(String),
    /// The request may or may not have been applied (network error mid-call): the next read tells.
    Unknown(String),
}

impl std::fmt::Display for ActionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Conflict {
                current_step: Some(step),
                ..
            } => {
                write!(
                    f,
                    "the rollout moved on (now step {}); nothing was done",
                    step + 1
                )
            }
            Self::Conflict { message, .. } => {
                write!(f, "the rollout moved on ({message}); nothing was done")
            }
            Self::Rejected(why) => write!(f, "refused: {why}"),
            Self::Unknown(why) => write!(f, "outcome UNKNOWN until the next read: {why}"),
        }
    }
}

/// Why a read (the rollout, the list, the permissions) failed, typed by the adapter that failed.
/// `Display` gives the words the console shows; two errors are equal when they say the same.
/// Cheap to clone (the adapters' errors are shared), as messages and the model are.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Http(Arc<http::HttpError>),
    #[error(transparent)]
    Command(Arc<command::CommandError>),
    #[error(transparent)]
    Argo(Arc<argo::ArgoError>),
    /// A backend outside this module (the simulator's `SimError`, a test's stub) with its own
    /// error type.
    #[error(transparent)]
    Other(Arc<dyn std::error::Error + Send + Sync>),
    /// The console gave up on a read after the backend's `call_timeout`.
    #[error("the backend did not answer within {}s", .0.as_secs())]
    TimedOut(Duration),
    /// The console gave up on the permissions check after the backend's `call_timeout`.
    #[error("the backend did not answer in time")]
    NoAnswerInTime,
}

impl ReadError {
    /// An error of a backend outside this module: any error type, or words.
    pub fn other(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Other(Arc::from(e.into()))
    }
}

impl PartialEq for ReadError {
    fn eq(&self, other: &Self) -> bool {
        self.to_string() == other.to_string()
    }
}

impl From<http::HttpError> for ReadError {
    fn from(e: http::HttpError) -> Self {
        Self::Http(Arc::new(e))
    }
}

impl From<command::CommandError> for ReadError {
    fn from(e: command::CommandError) -> Self {
        Self::Command(Arc::new(e))
    }
}

impl From<argo::ArgoError> for ReadError {
    fn from(e: argo::ArgoError) -> Self {
        Self::Argo(Arc::new(e))
    }
}

/// Why a backend could not be built from its settings (`Display`: the words `setup` reports).
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Http(#[from] http::HttpError),
    #[error(transparent)]
    Command(#[from] command::CommandError),
}

/// The deploy backends, one variant each with its own settings: `config` maps `[backend]` to
/// one, `setup` calls `build` once.
#[derive(Debug, Clone)]
pub enum BackendSettings {
    Http(http::HttpSettings),
    Command(command::CommandSettings),
    Argo(argo::ArgoSettings),
}

impl BackendSettings {
    /// The backend, read-only or not (each backend's `build` decides through `BackendHandle::new`).
    pub fn build(self, read_only: bool) -> Result<BackendHandle, BuildError> {
        Ok(match self {
            Self::Http(s) => http::build(s, read_only)?,
            Self::Command(s) => command::build(s, read_only)?,
            Self::Argo(s) => argo::build(s, read_only),
        })
    }
}

#[async_trait]
pub trait RolloutReader: Send + Sync {
    /// A short description for the header and the logs, e.g. "simulator (healthy, seed 7)".
    fn describe(&self) -> String;
    /// How long the console lets one call (a read, or an action) run before it gives up; a backend
    /// with slow calls of its own (scripts) says so here.
    fn call_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(15)
    }
    async fn list(&self) -> Result<Vec<String>, ReadError>;
    async fn get(&self, name: &str) -> Result<Rollout, ReadError>;
    /// Whether [`get_all`](Self::get_all) reads every rollout whole in one call (the deploy
    /// API's `GET /rollouts`): a fleet's rows are then read with one call a poll, not one each.
    fn reads_fleet_whole(&self) -> bool {
        false
    }
    /// Every rollout the backend lists, read whole; asked only when `reads_fleet_whole`.
    async fn get_all(&self) -> Result<Vec<Rollout>, ReadError> {
        Err(ReadError::other(
            "this backend reads its rollouts one at a time",
        ))
    }
    /// The actions this backend can take at all; keys for the others are not offered.
    fn actions(&self) -> Vec<ActionKind> {
        ActionKind::BASIC.to_vec()
    }
    /// A backend that watches its source (Argo) starts watching `name` and says when it changed,
    /// so the console re-reads at once instead of at the next poll. `None`: polling only.
    /// Called once, inside the runtime.
    fn watch(&self, _name: &str) -> Option<tokio::sync::watch::Receiver<u64>> {
        None
    }
    /// Which actions this user may not take; backends without access control deny nothing.
    async fn permissions(&self, _name: &str) -> Result<Permissions, ReadError> {
        Ok(Permissions::default())
    }
}

#[async_trait]
pub trait RolloutController: RolloutReader {
    async fn act(&self, request: &ActionRequest) -> Result<Rollout, ActionError>;
}

/// `RolloutReader` for a controller type that reads through its `reader` field: the control side
/// adds actions, never a second way of reading.
macro_rules! read_through_reader {
    ($controller:ty) => {
        #[async_trait::async_trait]
        impl $crate::backend::RolloutReader for $controller {
            fn describe(&self) -> String {
                self.reader.describe()
            }

            fn call_timeout(&self) -> std::time::Duration {
                self.reader.call_timeout()
            }

            fn actions(&self) -> Vec<$crate::domain::action::ActionKind> {
                self.reader.actions()
            }

            fn watch(&self, name: &str) -> Option<tokio::sync::watch::Receiver<u64>> {
                self.reader.watch(name)
            }

            async fn list(&self) -> Result<Vec<String>, $crate::backend::ReadError> {
                self.reader.list().await
            }

            async fn get(
                &self,
                name: &str,
            ) -> Result<$crate::domain::Rollout, $crate::backend::ReadError> {
                self.reader.get(name).await
            }

            fn reads_fleet_whole(&self) -> bool {
                self.reader.reads_fleet_whole()
            }

            async fn get_all(
                &self,
            ) -> Result<Vec<$crate::domain::Rollout>, $crate::backend::ReadError> {
                self.reader.get_all().await
            }

            async fn permissions(
                &self,
                name: &str,
            ) -> Result<$crate::domain::action::Permissions, $crate::backend::ReadError> {
                self.reader.permissions(name).await
            }
        }
    };
}
pub(crate) use read_through_reader;

/// What the app is handed. In read-only mode there is no controller to call at all.
#[derive(Clone)]
pub enum BackendHandle {
    ReadOnly(Arc<dyn RolloutReader>),
    ReadWrite(Arc<dyn RolloutController>),
}

impl BackendHandle {
    /// The one place read-only is decided: a read-only console gets `reader` alone, so no key
    /// press can reach a mutating method; otherwise `controller` builds the control side from it.
    /// Each backend's `build` ends here.
    pub fn new<R, C>(reader: R, read_only: bool, controller: impl FnOnce(R) -> C) -> Self
    where
        R: RolloutReader + 'static,
        C: RolloutController + 'static,
    {
        if read_only {
            Self::ReadOnly(Arc::new(reader))
        } else {
            Self::ReadWrite(Arc::new(controller(reader)))
        }
    }

    pub fn reader(&self) -> Arc<dyn RolloutReader> {
        match self {
            Self::ReadOnly(r) => r.clone(),
            Self::ReadWrite(c) => {
                let c: Arc<dyn RolloutController> = c.clone();
                c as Arc<dyn RolloutReader>
            }
        }
    }

    pub fn controller(&self) -> Option<Arc<dyn RolloutController>> {
        match self {
            Self::ReadOnly(_) => None,
            Self::ReadWrite(c) => Some(c.clone()),
        }
    }

    pub fn is_read_only(&self) -> bool {
        matches!(self, Self::ReadOnly(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_read_error_says_its_adapters_words_and_equals_the_same_words() {
        let e: ReadError = command::CommandError::NoList.into();
        assert_eq!(e.to_string(), command::CommandError::NoList.to_string());
        assert!(matches!(e, ReadError::Command(_)));
        assert_eq!(
            e,
            ReadError::other(command::CommandError::NoList.to_string())
        );
        assert_ne!(e, ReadError::NoAnswerInTime);
        assert_eq!(
            ReadError::TimedOut(Duration::from_secs(15)).to_string(),
            "the backend did not answer within 15s"
        );
    }

    #[test]
    fn settings_build_their_backend_read_only_or_not() {
        let http = |url: &str| {
            BackendSettings::Http(http::HttpSettings {
                url: url.into(),
                token: None,
                timeout: Duration::from_secs(1),
            })
        };
        let handle = http("http://127.0.0.1:1/").build(true).expect("builds");
        assert!(handle.is_read_only() && handle.controller().is_none());
        let handle = http("http://127.0.0.1:1/").build(false).expect("builds");
        assert!(!handle.is_read_only() && handle.controller().is_some());
        let argo = BackendSettings::Argo(argo::ArgoSettings::default());
        assert!(argo.build(true).expect("builds").is_read_only());
        let err = http("not a url").build(true).err().expect("a bad url");
        assert!(matches!(err, BuildError::Http(_)), "{err}");
        assert!(
            err.to_string().starts_with("[backend] url \"not a url\""),
            "{err}"
        );
    }
}
