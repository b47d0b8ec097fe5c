//! Deploy backends, split by capability: a read side every mode gets, and a control side that
//! only a read-write console is ever handed. Read-only mode builds the read side alone, so no key
//! press can reach a mutating method.

pub mod argo;
pub mod command;
pub mod http;
pub mod notify;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

use crate::domain::{Rollout, RolloutState};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// One step forward.
    Promote,
    /// Skip the remaining steps and pauses: straight to 100%.
    PromoteFull,
    Pause,
    Resume,
    /// Traffic back to stable now (Argo: abort).
    Rollback,
    /// Start an aborted rollout again from its first step (Argo: retry).
    Retry,
    /// Put the previous revision's pod template back (Argo: undo).
    Undo,
}

impl ActionKind {
    /// The four every backend has; the others only where the backend says it supports them.
    pub const BASIC: [ActionKind; 4] = [Self::Promote, Self::Pause, Self::Resume, Self::Rollback];
    pub const ALL: [ActionKind; 7] = [
        Self::Promote,
        Self::PromoteFull,
        Self::Pause,
        Self::Resume,
        Self::Rollback,
        Self::Retry,
        Self::Undo,
    ];

    /// The name in audit lines and the deploy API's paths (`promote_full` is `promote` with
    /// `"full": true` there).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Promote => "promote",
            Self::PromoteFull => "promote_full",
            Self::Pause => "pause",
            Self::Resume => "resume",
            Self::Rollback => "rollback",
            Self::Retry => "retry",
            Self::Undo => "undo",
        }
    }

    pub fn verb(self) -> &'static str {
        match self {
            Self::Promote => "promote",
            Self::PromoteFull => "promote fully",
            Self::Pause => "pause",
            Self::Resume => "resume",
            Self::Rollback => "roll back",
            Self::Retry => "retry",
            Self::Undo => "undo",
        }
    }

    /// Whether the action makes sense in this state; the reason when it does not.
    pub fn allowed_in(self, state: RolloutState) -> Result<(), String> {
        let terminal = state.is_terminal();
        match self {
            Self::Retry if matches!(state, RolloutState::RolledBack | RolloutState::Failed) => {
                Ok(())
            }
            Self::Retry => Err(format!(
                "the rollout is {}; retry is for an aborted or failed rollout",
                state.label()
            )),
            // Undo restores the previous revision whatever the state, also after completion.
            Self::Undo => Ok(()),
            _ if terminal => Err(format!(
                "the rollout is {}; there is nothing to {}",
                state.label(),
                self.verb()
            )),
            _ => Ok(()),
        }
    }
}

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

/// What this user may not do to this rollout, and why (e.g. Kubernetes RBAC). Keys for denied
/// actions are shown disabled with the reason instead of failing after a confirmation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Permissions {
    pub denied: Vec<(ActionKind, String)>,
}

impl Permissions {
    pub fn denied(&self, kind: ActionKind) -> Option<&str> {
        self.denied
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, why)| why.as_str())
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
    async fn list(&self) -> Result<Vec<String>, String>;
    async fn get(&self, name: &str) -> Result<Rollout, String>;
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
    async fn permissions(&self, _name: &str) -> Result<Permissions, String> {
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

            fn actions(&self) -> Vec<$crate::backend::ActionKind> {
                self.reader.actions()
            }

            fn watch(&self, name: &str) -> Option<tokio::sync::watch::Receiver<u64>> {
                self.reader.watch(name)
            }

            async fn list(&self) -> Result<Vec<String>, String> {
                self.reader.list().await
            }

            async fn get(&self, name: &str) -> Result<$crate::domain::Rollout, String> {
                self.reader.get(name).await
            }

            async fn permissions(
                &self,
                name: &str,
            ) -> Result<$crate::backend::Permissions, String> {
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
