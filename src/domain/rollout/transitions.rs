//! The rollout's state machine: promote, pause, resume, roll back and retry, each refused when the
//! caller saw a step that is no longer current or the state does not allow it.

use chrono::{DateTime, Utc};

use super::{Rollout, RolloutState, StepRecord};
use crate::domain::format::age;

/// Why a control request was refused by the state machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransitionError {
    /// The caller acted on a step that is no longer current: a stale screen.
    StepMoved { expected: usize, current: usize },
    /// The action makes no sense in this state (e.g. promote a completed rollout).
    NotAllowed(String),
}

impl std::fmt::Display for TransitionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::StepMoved { expected, current } => write!(
                f,
                "the rollout moved on (now step {}, you saw step {}); nothing was done",
                current + 1,
                expected + 1
            ),
            Self::NotAllowed(why) => f.write_str(why),
        }
    }
}

impl Rollout {
    fn check_expected(&self, expected_step: usize) -> Result<(), TransitionError> {
        if expected_step != self.step {
            return Err(TransitionError::StepMoved {
                expected: expected_step,
                current: self.step,
            });
        }
        Ok(())
    }

    /// Mark the step in progress as finished at `now` (for "how long each step took").
    fn close_open_step(&mut self, now: DateTime<Utc>) {
        if let Some(open) = self
            .history
            .iter_mut()
            .rev()
            .find(|r| r.finished_at.is_none())
        {
            open.finished_at = Some(now);
        }
    }

    fn enter_step(&mut self, step: usize, now: DateTime<Utc>) {
        self.close_open_step(now);
        self.step = step;
        self.canary_weight = self
            .steps
            .get(step)
            .map_or(self.canary_weight, |s| s.weight);
        self.step_started_at = now;
        self.history.push(StepRecord {
            step,
            started_at: now,
            finished_at: None,
        });
    }

    /// Move to the next step (or complete at the last one). `expected_step` guards against a stale screen.
    pub fn promote(
        &mut self,
        expected_step: usize,
        now: DateTime<Utc>,
    ) -> Result<(), TransitionError> {
        self.check_expected(expected_step)?;
        if self.state.is_terminal() {
            return Err(TransitionError::NotAllowed(format!(
                "the rollout is {}; there is nothing to promote",
                self.state.label().to_lowercase()
            )));
        }
        let next = self.step + 1;
        let next_is_full = next + 1 == self.steps.len() && self.steps[next].weight >= 100;
        if self.is_last_step() {
            self.complete(now);
        } else if next_is_full {
            // Reaching a final 100% step is completion; it gets no hold of its own.
            self.step = next;
            self.complete(now);
        } else {
            self.enter_step(next, now);
            self.state = RolloutState::Progressing;
            self.paused_at = None;
            self.paused_by = None;
        }
        Ok(())
    }

    fn complete(&mut self, now: DateTime<Utc>) {
        self.close_open_step(now);
        self.state = RolloutState::Completed;
        self.canary_weight = 100;
        self.paused_at = None;
        self.paused_by = None;
        self.message = Some(format!("completed: {} serves 100%", self.canary_version));
    }

    pub fn pause(
        &mut self,
        expected_step: usize,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<(), TransitionError> {
        self.check_expected(expected_step)?;
        match self.state {
            RolloutState::Progressing => {
                self.state = RolloutState::Paused;
                self.paused_by = Some(actor.to_string());
                self.paused_at = Some(now);
                Ok(())
            }
            RolloutState::Paused => Err(TransitionError::NotAllowed(
                "the rollout is already paused".into(),
            )),
            other => Err(TransitionError::NotAllowed(format!(
                "cannot pause: the rollout is {}",
                other.label().to_lowercase()
            ))),
        }
    }

    pub fn resume(
        &mut self,
        expected_step: usize,
        now: DateTime<Utc>,
    ) -> Result<(), TransitionError> {
        self.check_expected(expected_step)?;
        if self.state != RolloutState::Paused {
            return Err(TransitionError::NotAllowed(
                "the rollout is not paused".into(),
            ));
        }
        // The hold does not run while paused: shift the start by the time spent paused.
        if let Some(paused_at) = self.paused_at {
            self.step_started_at +=
                chrono::Duration::from_std(age(paused_at, now)).unwrap_or_default();
        }
        self.state = RolloutState::Progressing;
        self.paused_at = None;
        self.paused_by = None;
        Ok(())
    }

    /// Send all traffic back to stable. Allowed from any non-terminal state, also paused.
    pub fn rollback(
        &mut self,
        expected_step: usize,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), TransitionError> {
        self.check_expected(expected_step)?;
        if self.state.is_terminal() {
            return Err(TransitionError::NotAllowed(format!(
                "cannot roll back: the rollout is already {}",
                self.state.label().to_lowercase()
            )));
        }
        self.close_open_step(now);
        self.state = RolloutState::RolledBack;
        self.canary_weight = 0;
        self.paused_at = None;
        self.paused_by = None;
        self.message = Some(format!("rolled back: {reason}"));
        Ok(())
    }
}

impl Rollout {
    /// Start an aborted (rolled back or failed) rollout again from its first step, as Argo's
    /// retry does.
    pub fn retry(
        &mut self,
        expected_step: usize,
        now: DateTime<Utc>,
    ) -> Result<(), TransitionError> {
        self.check_expected(expected_step)?;
        if !matches!(self.state, RolloutState::RolledBack | RolloutState::Failed) {
            return Err(TransitionError::NotAllowed(format!(
                "cannot retry: the rollout is {}, not aborted",
                self.state.label().to_lowercase()
            )));
        }
        self.enter_step(0, now);
        self.state = RolloutState::Progressing;
        self.message = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::rollout::tests::{at, sample_rollout};
    use std::time::Duration;

    #[test]
    fn promote_walks_the_steps_and_completes_at_100() {
        let mut r = sample_rollout();
        r.promote(0, at(600)).expect("promote to 25%");
        assert_eq!(
            (r.step, r.canary_weight, r.state),
            (1, 25, RolloutState::Progressing)
        );
        assert_eq!(r.step_duration(0), Some(Duration::from_secs(600)));
        r.promote(1, at(1200)).expect("promote to 50%");
        r.promote(2, at(3000)).expect("promote to 100%");
        assert_eq!(r.state, RolloutState::Completed);
        assert_eq!(r.canary_weight, 100);
        assert_eq!(r.step_duration(2), Some(Duration::from_secs(1800)));
        assert!(
            r.promote(3, at(3001)).is_err(),
            "nothing to promote after completion"
        );
    }

    #[test]
    fn a_stale_expected_step_is_refused_and_changes_nothing() {
        let mut r = sample_rollout();
        r.promote(0, at(10)).expect("first promote");
        let before = r.clone();
        let err = r.promote(0, at(11)).unwrap_err();
        assert_eq!(
            err,
            TransitionError::StepMoved {
                expected: 0,
                current: 1
            }
        );
        assert!(err.to_string().contains("moved on (now step 2"), "{err}");
        assert_eq!(r, before);
    }

    #[test]
    fn pause_freezes_the_hold_and_resume_shifts_it() {
        let mut r = sample_rollout();
        r.pause(0, "alice@bastion", at(100)).expect("pause");
        assert_eq!(r.state, RolloutState::Paused);
        assert_eq!(
            r.hold_remaining(at(400)),
            Some(Duration::from_secs(500)),
            "frozen while paused"
        );
        assert!(r.pause(0, "bob", at(401)).is_err(), "double pause refused");
        r.resume(0, at(400)).expect("resume");
        assert_eq!(r.hold_remaining(at(400)), Some(Duration::from_secs(500)));
        assert_eq!(r.paused_by, None);
    }

    #[test]
    fn rollback_from_paused_and_not_twice() {
        let mut r = sample_rollout();
        r.pause(0, "alice", at(10)).expect("pause");
        r.rollback(0, "error rate 4.1% > 1%", at(20))
            .expect("rollback");
        assert_eq!((r.state, r.canary_weight), (RolloutState::RolledBack, 0));
        assert_eq!(
            r.message.as_deref(),
            Some("rolled back: error rate 4.1% > 1%")
        );
        assert!(r.rollback(0, "again", at(21)).is_err());
        assert_eq!(r.eta_to_full(at(21)), None);
    }

    #[test]
    fn retry_restarts_an_aborted_rollout_at_the_first_step() {
        let mut r = sample_rollout();
        r.promote(0, at(600)).expect("promote");
        assert!(
            r.retry(1, at(601)).is_err(),
            "nothing to retry while progressing"
        );
        r.rollback(1, "bad", at(700)).expect("rollback");
        assert!(r.retry(0, at(701)).is_err(), "stale step refused");
        r.retry(1, at(800)).expect("retry");
        assert_eq!(
            (r.step, r.canary_weight, r.state, r.step_started_at),
            (0, 5, RolloutState::Progressing, at(800))
        );
        assert_eq!(r.message, None);
    }
}
