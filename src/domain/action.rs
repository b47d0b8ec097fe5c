//! The action vocabulary: which actions exist (`ActionKind`), which a rollout's state allows, and
//! which ones this user is denied (`Permissions`). Pure words and rules; the backends that carry
//! an action out, and their request and error types, live in `backend`.

use serde::{Deserialize, Serialize};

use super::RolloutState;

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
