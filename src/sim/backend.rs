//! The simulator as a deploy backend. The read side and the control side are separate types, so
//! read-only mode can be handed a reader that has no mutating method at all.

use async_trait::async_trait;
use chrono::Utc;
use std::sync::{Arc, Mutex};

use super::Simulator;
use super::fleet::Fleet;
use crate::backend::{ActionError, ActionRequest, ReadError, RolloutController, RolloutReader};
use crate::domain::Rollout;
use crate::domain::action::ActionKind;
use crate::domain::rollout::TransitionError;

/// Read access to the simulated rollouts (one, or a fleet: each read goes to its member).
pub struct SimReader {
    fleet: Fleet,
}

impl SimReader {
    pub fn new(sim: Arc<Mutex<Simulator>>) -> Self {
        Self::fleet(Fleet::single(sim))
    }

    pub fn fleet(fleet: Fleet) -> Self {
        Self { fleet }
    }

    /// The member named `name`, or why there is none.
    fn member(&self, name: &str) -> Result<&Arc<Mutex<Simulator>>, SimError> {
        self.fleet.get(name).ok_or_else(|| SimError::NoSuchRollout {
            name: name.to_string(),
            runs: self.fleet.names().collect::<Vec<_>>().join(", "),
        })
    }
}

fn describe(fleet: &Fleet) -> String {
    let Some((_, first)) = fleet.members().next() else {
        return "simulator".into();
    };
    match first.lock() {
        // Each member's seed is drawn from the run's, which the demo's first event names.
        Ok(s) if fleet.len() > 1 => format!(
            "simulator (fleet of {}, speed {}×)",
            fleet.len(),
            s.options().speed
        ),
        Ok(s) => format!(
            "simulator ({}, seed {}, speed {}×)",
            s.options().scenario,
            s.options().seed,
            s.options().speed
        ),
        Err(_) => "simulator".into(),
    }
}

/// Why the simulator could not be read; `Display` is the words shown.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("simulator state is poisoned")]
    Poisoned,
    #[error("no rollout named {name:?} (the simulator runs {runs:?})")]
    NoSuchRollout { name: String, runs: String },
}

impl From<SimError> for ReadError {
    fn from(e: SimError) -> Self {
        ReadError::other(e)
    }
}

fn read(sim: &Arc<Mutex<Simulator>>) -> Result<Rollout, SimError> {
    let mut s = sim.lock().map_err(|_| SimError::Poisoned)?;
    s.advance_to(Utc::now());
    Ok(s.rollout().clone())
}

#[async_trait]
impl RolloutReader for SimReader {
    fn describe(&self) -> String {
        describe(&self.fleet)
    }

    async fn list(&self) -> Result<Vec<String>, ReadError> {
        Ok(self.fleet.names().map(str::to_string).collect())
    }

    fn actions(&self) -> Vec<ActionKind> {
        SIM_ACTIONS.to_vec()
    }

    async fn get(&self, name: &str) -> Result<Rollout, ReadError> {
        Ok(read(self.member(name)?)?)
    }

    /// Like the deploy API it serves, the simulator reads its whole fleet at once.
    fn reads_fleet_whole(&self) -> bool {
        true
    }

    async fn get_all(&self) -> Result<Vec<Rollout>, ReadError> {
        let mut all = Vec::new();
        for name in self.fleet.names() {
            all.push(read(self.member(name)?)?);
        }
        Ok(all)
    }
}

/// What the simulated controller can do: all the deploy API it serves can ask for.
pub const SIM_ACTIONS: [ActionKind; 6] = crate::backend::http::DEPLOY_API_ACTIONS;

/// Read and control access: only built when the console is not read-only.
pub struct SimController {
    reader: SimReader,
}

impl SimController {
    pub fn new(sim: Arc<Mutex<Simulator>>) -> Self {
        Self::fleet(Fleet::single(sim))
    }

    pub fn fleet(fleet: Fleet) -> Self {
        Self {
            reader: SimReader::fleet(fleet),
        }
    }
}

crate::backend::read_through_reader!(SimController);

#[async_trait]
impl RolloutController for SimController {
    async fn act(&self, req: &ActionRequest) -> Result<Rollout, ActionError> {
        let member = self
            .reader
            .member(&req.rollout)
            .map_err(|e| ActionError::Rejected(e.to_string()))?;
        let mut s = member
            .lock()
            .map_err(|_| ActionError::Unknown("simulator state is poisoned".into()))?;
        apply(&mut s, req, false, Utc::now())
    }
}

/// Apply a control request to the simulator, as its controller would. `full` promotes to 100%.
pub fn apply(
    s: &mut Simulator,
    req: &ActionRequest,
    full: bool,
    now: chrono::DateTime<Utc>,
) -> Result<Rollout, ActionError> {
    s.advance_to(now);
    if s.rollout().name != req.rollout {
        return Err(ActionError::Rejected(format!(
            "no rollout named {:?}",
            req.rollout
        )));
    }
    let r = s.rollout_mut();
    // Only a rollback may go without the step the user saw (sent while the state was unknown).
    let expected = match (req.expected_step, req.kind) {
        (Some(step), _) => step,
        (None, ActionKind::Rollback) => r.step,
        (None, kind) => {
            return Err(ActionError::Rejected(format!(
                "expected_step is required to {}",
                kind.verb()
            )));
        }
    };
    let outcome = match req.kind {
        ActionKind::Promote | ActionKind::PromoteFull => {
            let full = full || req.kind == ActionKind::PromoteFull;
            let mut result = r.promote(expected, now);
            while full && result.is_ok() && !r.state.is_terminal() {
                result = r.promote(r.step, now);
            }
            result
        }
        ActionKind::Pause => r.pause(expected, &req.actor, now),
        ActionKind::Resume => r.resume(expected, now),
        ActionKind::Rollback => {
            let why = if req.reason.is_empty() {
                format!("by {}", req.actor)
            } else {
                format!("by {}: {}", req.actor, req.reason)
            };
            r.rollback(expected, &why, now)
        }
        ActionKind::Retry => r.retry(expected, now),
        ActionKind::Undo => Err(TransitionError::NotAllowed(
            "the simulator keeps no earlier revisions to undo to".into(),
        )),
    };
    match outcome {
        Ok(()) => {
            if req.kind != ActionKind::Rollback && !r.state.is_terminal() {
                r.message = Some(format!("{} by {}", past_tense(req.kind), req.actor));
            }
            Ok(r.clone())
        }
        Err(TransitionError::StepMoved { current, .. }) => Err(ActionError::Conflict {
            current_step: Some(current),
            message: format!("now step {}", current + 1),
        }),
        Err(TransitionError::NotAllowed(why)) => Err(ActionError::Rejected(why)),
    }
}

fn past_tense(kind: ActionKind) -> &'static str {
    match kind {
        ActionKind::Promote => "promoted",
        ActionKind::PromoteFull => "fully promoted",
        ActionKind::Pause => "paused",
        ActionKind::Resume => "resumed",
        ActionKind::Rollback => "rolled back",
        ActionKind::Retry => "retried",
        ActionKind::Undo => "undone",
    }
}
