//! What is open over the panels (`Overlay`): help, a detail view, the events, or a
//! confirmation `Prompt`; and the action in flight or unresolved behind it.

use chrono::{DateTime, Utc};

use crate::domain::action::ActionKind;
use crate::domain::{RolloutState, Verdict};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptField {
    Name,
    Reason,
}

/// A confirmation prompt: the action as data, plus what the user saw when it opened.
#[derive(Debug, Clone, PartialEq)]
pub struct Prompt {
    pub action: ActionKind,
    /// The rollout acted on, as its index in `Model::rollouts` (the fleet list's selected row,
    /// or the rollout on screen).
    pub index: usize,
    pub rollout: String,
    pub seen_step: usize,
    pub seen_state: RolloutState,
    pub from_weight: u8,
    pub to: Option<(usize, u8)>,
    /// Metric name, verdict and reason at the moment the prompt opened.
    pub verdicts: Vec<(String, Verdict, String)>,
    /// Why this needs an override; empty for a plain `y`.
    pub blockers: Vec<String>,
    pub typed_name: String,
    pub reason: String,
    pub field: PromptField,
    /// Set when the rollout changed under the open prompt: `y` then does nothing.
    pub moved_on: Option<String>,
    /// A rollback opened while the rollout could not be read: the read's error. The step and
    /// state above are then the last known (or none), and the rollback goes without a step check.
    pub state_unknown: Option<crate::backend::ReadError>,
    pub error: Option<String>,
}

impl Prompt {
    pub fn needs_override(&self) -> bool {
        !self.blockers.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Overlay {
    None,
    Help,
    Confirm(Box<Prompt>),
    /// Everything about one metric (by index into `panels`), scrolled down `scroll` rows.
    Detail {
        metric: usize,
        scroll: usize,
    },
    /// The whole event log, from the `scroll`-th newest event.
    Events {
        scroll: usize,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InFlight {
    pub kind: ActionKind,
    pub since: DateTime<Utc>,
}

/// An action the backend may or may not have applied (its answer was lost): the next good read
/// of the rollout decides it, and a follow-up receipt resolves the first.
#[derive(Debug, Clone, PartialEq)]
pub struct Unresolved {
    pub kind: ActionKind,
    pub seen_step: usize,
    pub seen_state: RolloutState,
    pub seen_canary: String,
    /// The receipt sent with the action (its `id` is what the follow-up resolves).
    pub receipt: Box<crate::audit::AuditRecord>,
}
